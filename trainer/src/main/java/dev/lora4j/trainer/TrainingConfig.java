package dev.lora4j.trainer;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.TaskHead.Pooling;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Every choice that shapes a training run, immutable. The same record becomes the adapter's
 * provenance hyper-parameters ({@link #toMap()}, keyed by command-line option names), so a result
 * can always be traced to the options that made it, and a checkpoint refuses to resume under
 * different ones.
 *
 * @param method training method id ({@code lora}, {@code sora}, {@code probe}, ...)
 * @param targets {@code --targets}: short names, in-layer paths or canonical module names
 * @param alpha LoRA alpha: scaling is {@code alpha / rank} ({@code alpha / sqrt(rank)} with rsLoRA)
 * @param dropout dropout on the adapter input (PEFT's lora_dropout)
 * @param headDropout dropout on the pooled vector before the classifier
 * @param headLearningRate learning rate of the classifier (a fresh head wants more than the adapter)
 * @param warmupRatio share of the steps with a linear learning-rate warm-up; linear decay to 0 after
 * @param maxGradNorm global gradient-norm clip; 0 disables
 * @param maxLength tokens per text, special tokens included
 * @param maxTrain use only the first N training examples (after a seeded shuffle); 0 = all
 * @param evalEvery also evaluate every N steps; 0 = only at the end of each epoch
 * @param keepBest keep the weights of the best dev evaluation rather than the last ones
 * @param checkpointEvery write a resumable checkpoint every N steps; 0 = never
 * @param logEvery report training loss every N steps
 * @param device {@code auto}, {@code cpu} or {@code gpu}
 * @param precision the frozen base's number format in training steps; {@code auto} until
 *     {@link Trainer} resolves it, so provenance records the one that ran
 * @param salora SaLoRA's gates and regularisers (used by {@code salora} only)
 * @param transform MTLoRA's structure of T (used by {@code mtlora} only)
 * @param nested DyLoRA / ERAT-DLoRA rank sampling and export rank (used by {@code dylora}, {@code erat})
 */
public record TrainingConfig(
    String method,
    String targets,
    int rank,
    double alpha,
    double dropout,
    boolean rslora,
    Pooling pooling,
    double headDropout,
    int epochs,
    int batchSize,
    double learningRate,
    double headLearningRate,
    double weightDecay,
    double warmupRatio,
    double maxGradNorm,
    long seed,
    int maxLength,
    int maxTrain,
    int evalEvery,
    boolean keepBest,
    int checkpointEvery,
    int logEvery,
    DeviceChoice device,
    Precision precision,
    SparsityConfig sparsity,
    SaloraConfig salora,
    TransformKind transform,
    NestedRankConfig nested) {

  /**
   * Caps that hold whatever the base model: past them a run only exhausts memory or time (a rank
   * above a module's smaller side adds nothing; {@link #requireFits} checks that against the model).
   */
  public static final int MAX_RANK = 4096;
  public static final int MAX_BATCH_SIZE = 65_536;
  public static final int MAX_EPOCHS = 100_000;
  public static final int MAX_LENGTH = 65_536;

  public TrainingConfig {
    require(rank >= 1 && rank <= MAX_RANK, "--rank must be between 1 and " + MAX_RANK + ", not " + rank);
    require(alpha > 0 && Double.isFinite(alpha), "--alpha must be positive, not " + alpha);
    require(dropout >= 0 && dropout < 1, "--dropout must be in [0, 1), not " + dropout);
    require(headDropout >= 0 && headDropout < 1, "--head-dropout must be in [0, 1), not " + headDropout);
    require(epochs >= 1 && epochs <= MAX_EPOCHS, "--epochs must be between 1 and " + MAX_EPOCHS + ", not " + epochs);
    require(batchSize >= 1 && batchSize <= MAX_BATCH_SIZE,
        "--batch-size must be between 1 and " + MAX_BATCH_SIZE + ", not " + batchSize);
    require(learningRate > 0 && Double.isFinite(learningRate), "--lr must be positive, not " + learningRate);
    require(headLearningRate > 0 && Double.isFinite(headLearningRate), "--head-lr must be positive, not " + headLearningRate);
    require(weightDecay >= 0 && Double.isFinite(weightDecay), "--weight-decay must be zero or positive, not " + weightDecay);
    require(warmupRatio >= 0 && warmupRatio < 1, "--warmup must be in [0, 1), not " + warmupRatio);
    require(maxGradNorm >= 0 && Double.isFinite(maxGradNorm), "--max-grad-norm must be zero or positive, not " + maxGradNorm);
    require(maxLength >= 3 && maxLength <= MAX_LENGTH,
        "--max-length must be between 3 and " + MAX_LENGTH + ", not " + maxLength);
    require(maxTrain >= 0, "--max-train must be zero (all) or positive, not " + maxTrain);
    require(evalEvery >= 0, "--eval-every must be zero or positive, not " + evalEvery);
    require(checkpointEvery >= 0, "--checkpoint-every must be zero or positive, not " + checkpointEvery);
    require(logEvery >= 1, "--log-every must be at least 1, not " + logEvery);
    java.util.Objects.requireNonNull(method, "method");
    java.util.Objects.requireNonNull(targets, "targets");
    java.util.Objects.requireNonNull(pooling, "pooling");
    java.util.Objects.requireNonNull(device, "device");
    java.util.Objects.requireNonNull(precision, "precision");
    java.util.Objects.requireNonNull(sparsity, "sparsity");
    java.util.Objects.requireNonNull(salora, "salora");
    java.util.Objects.requireNonNull(transform, "transform");
    java.util.Objects.requireNonNull(nested, "nested");
    require(nested.exportRank() <= rank, "--export-rank " + nested.exportRank() + " exceeds --rank " + rank);
  }

  /**
   * Checks the sizes against the base model before anything is allocated: the rank may not exceed
   * the smaller side of any adapted module (beyond it B A cannot gain rank, only memory), and texts
   * may not be longer than the model has positions for.
   */
  public void requireFits(java.util.List<dev.lora4j.models.base.LinearModule> targets,
      dev.lora4j.models.base.EncoderSpec spec) {
    for (dev.lora4j.models.base.LinearModule m : targets) {
      int side = Math.min(m.inFeatures(), m.outFeatures());
      require(rank <= side, "--rank " + rank + " exceeds module " + m.name() + " of the base model ("
          + m.outFeatures() + "x" + m.inFeatures() + "); the rank can be at most " + side);
    }
    require(maxLength <= spec.maxPositions(), "--max-length " + maxLength + " exceeds the base model's "
        + spec.maxPositions() + " positions");
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new Lora4jException(message);
    }
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return new Builder(this);
  }

  /** The multiplier of {@code B A}: {@code alpha / r}, or {@code alpha / sqrt(r)} with rsLoRA. */
  public double scaling() {
    return rslora ? alpha / Math.sqrt(rank) : alpha / rank;
  }

  /** Every option by its command-line name: the provenance hyper-parameters. */
  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("method", method);
    m.put("targets", targets);
    m.put("rank", rank);
    m.put("alpha", alpha);
    m.put("dropout", dropout);
    m.put("rslora", rslora);
    m.put("pooling", pooling.id());
    m.put("head-dropout", headDropout);
    m.put("epochs", epochs);
    m.put("batch-size", batchSize);
    m.put("lr", learningRate);
    m.put("head-lr", headLearningRate);
    m.put("weight-decay", weightDecay);
    m.put("warmup", warmupRatio);
    m.put("max-grad-norm", maxGradNorm);
    m.put("seed", seed);
    m.put("max-length", maxLength);
    m.put("max-train", maxTrain);
    m.put("eval-every", evalEvery);
    m.put("keep-best", keepBest);
    m.put("checkpoint-every", checkpointEvery);
    m.put("log-every", logEvery);
    m.put("device", device.id());
    m.put("precision", precision.id());
    m.put("gate-lr", sparsity.gateLr());
    m.put("sparsity-lambda", sparsity.lambda());
    m.put("lambda-schedule", sparsity.schedule().id());
    m.put("lambda-steps", sparsity.scheduleSteps());
    // Method-specific options only for their method: provenance stays readable and lists what mattered.
    switch (method) {
      case "salora" -> m.putAll(salora.toMap());
      case "mtlora" -> m.put("transform", transform.id());
      case "dylora" -> m.putAll(nested.toMap(false));
      case "erat" -> m.putAll(nested.toMap(true));
      default -> { }
    }
    return m;
  }

  /** Rank of plain methods when none is given. */
  public static final int DEFAULT_RANK = 8;
  /**
   * Rank the gated methods that prune (sora, salora) start from when none is given: in the recipe
   * search (docs/RESULTS.md, held-out slice) SoRA from rank 16 kept about as many ranks as LoRA r=8
   * and scored higher than SoRA from rank 8, which pruned into too few. Alpha follows as 2r, the
   * scaling every search run used.
   */
  public static final int PRUNING_RANK = 16;
  private static final java.util.Set<String> PRUNING_METHODS = java.util.Set.of("sora", "salora");

  /** Mutable companion with the defaults {@code lora4j train} uses. */
  public static final class Builder {
    private String method = "lora";
    private String targets = "query,value";
    // null until set: the default depends on the method, read when build() runs (so order does not matter)
    private Integer rank;
    private Double alpha;
    private double dropout = 0.1;
    private boolean rslora;
    private Pooling pooling = Pooling.MEAN;
    private double headDropout = 0.1;
    private int epochs = 3;
    private int batchSize = 32;
    private double learningRate = 5e-4;
    private Double headLearningRate;
    private double weightDecay = 0.01;
    private double warmupRatio = 0.06;
    private double maxGradNorm = 1.0;
    private long seed = 42;
    private int maxLength = 64;
    private int maxTrain;
    private int evalEvery;
    private boolean keepBest = true;
    private int checkpointEvery;
    private int logEvery = 10;
    private DeviceChoice device = DeviceChoice.AUTO;
    // fp32 so a library run gives the same numbers on every CPU; `train` and `demo` ask for auto
    private Precision precision = Precision.FP32;
    private SparsityConfig sparsity = SparsityConfig.DEFAULT;
    private SaloraConfig salora = SaloraConfig.DEFAULT;
    private TransformKind transform = TransformKind.FULL;
    private NestedRankConfig nested = NestedRankConfig.DEFAULT;

    private Builder() {}

    private Builder(TrainingConfig c) {
      method = c.method;
      targets = c.targets;
      rank = c.rank;
      alpha = c.alpha;
      dropout = c.dropout;
      rslora = c.rslora;
      pooling = c.pooling;
      headDropout = c.headDropout;
      epochs = c.epochs;
      batchSize = c.batchSize;
      learningRate = c.learningRate;
      headLearningRate = c.headLearningRate;
      weightDecay = c.weightDecay;
      warmupRatio = c.warmupRatio;
      maxGradNorm = c.maxGradNorm;
      seed = c.seed;
      maxLength = c.maxLength;
      maxTrain = c.maxTrain;
      evalEvery = c.evalEvery;
      keepBest = c.keepBest;
      checkpointEvery = c.checkpointEvery;
      logEvery = c.logEvery;
      device = c.device;
      precision = c.precision;
      sparsity = c.sparsity;
      salora = c.salora;
      transform = c.transform;
      nested = c.nested;
    }

    public Builder method(String v) { method = v; return this; }
    public Builder targets(String v) { targets = v; return this; }
    /** Defaults to {@link #DEFAULT_RANK}, or {@link #PRUNING_RANK} for sora and salora. */
    public Builder rank(int v) { rank = v; return this; }
    /** Defaults to 2 × the default rank of the method (16; 32 for sora and salora), whatever the rank. */
    public Builder alpha(double v) { alpha = v; return this; }
    public Builder dropout(double v) { dropout = v; return this; }
    public Builder rslora(boolean v) { rslora = v; return this; }
    public Builder pooling(Pooling v) { pooling = v; return this; }
    public Builder headDropout(double v) { headDropout = v; return this; }
    public Builder epochs(int v) { epochs = v; return this; }
    public Builder batchSize(int v) { batchSize = v; return this; }
    public Builder learningRate(double v) { learningRate = v; return this; }
    /** Defaults to the adapter learning rate when never set. */
    public Builder headLearningRate(double v) { headLearningRate = v; return this; }
    public Builder weightDecay(double v) { weightDecay = v; return this; }
    public Builder warmupRatio(double v) { warmupRatio = v; return this; }
    public Builder maxGradNorm(double v) { maxGradNorm = v; return this; }
    public Builder seed(long v) { seed = v; return this; }
    public Builder maxLength(int v) { maxLength = v; return this; }
    public Builder maxTrain(int v) { maxTrain = v; return this; }
    public Builder evalEvery(int v) { evalEvery = v; return this; }
    public Builder keepBest(boolean v) { keepBest = v; return this; }
    public Builder checkpointEvery(int v) { checkpointEvery = v; return this; }
    public Builder logEvery(int v) { logEvery = v; return this; }
    public Builder device(DeviceChoice v) { device = v; return this; }
    public Builder precision(Precision v) { precision = v; return this; }
    public Builder sparsity(SparsityConfig v) { sparsity = v; return this; }
    public Builder salora(SaloraConfig v) { salora = v; return this; }
    public Builder transform(TransformKind v) { transform = v; return this; }
    public Builder nested(NestedRankConfig v) { nested = v; return this; }

    public TrainingConfig build() {
      int defaultRank = method != null && PRUNING_METHODS.contains(method.toLowerCase(java.util.Locale.ROOT))
          ? PRUNING_RANK : DEFAULT_RANK;
      return new TrainingConfig(method, targets, rank == null ? defaultRank : rank,
          alpha == null ? 2.0 * defaultRank : alpha, dropout, rslora, pooling, headDropout, epochs,
          batchSize, learningRate, headLearningRate == null ? learningRate : headLearningRate, weightDecay,
          warmupRatio, maxGradNorm, seed, maxLength, maxTrain, evalEvery, keepBest, checkpointEvery, logEvery,
          device, precision, sparsity, salora, transform, nested);
    }
  }
}
