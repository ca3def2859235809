package dev.lora4j.trainer.loop;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.trainer.Precision;
import dev.lora4j.trainer.TrainingConfig;
import dev.lora4j.trainer.data.Batch;
import dev.lora4j.trainer.data.BatchPlan;
import dev.lora4j.trainer.data.Example;
import dev.lora4j.trainer.data.Examples;
import dev.lora4j.trainer.encoder.DjlEncoder;
import dev.lora4j.trainer.head.ClassifierHead;
import dev.lora4j.trainer.method.MethodState;
import dev.lora4j.trainer.method.StepInfo;
import dev.lora4j.trainer.method.TrainableParameter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The optimisation loop: length-bucketed batches, forward and backward through the frozen encoder,
 * gradient clipping, AdamW with warm-up and linear decay, the method's hooks, dev evaluation with
 * keep-best, progress reports and resumable checkpoints.
 *
 * <p>Determinism: batch order is a function of (seed, epoch) and PyTorch's generator (dropout) is
 * re-seeded from (seed, step) before every step, so the randomness of step k never depends on how
 * the process got there; with parameters and optimizer moments restored from a checkpoint, a resumed
 * run computes the same floats as an uninterrupted one (on the CPU; CUDA kernels may not be
 * deterministic).
 */
public final class TrainingLoop {
  /** Options that may differ between a checkpoint and its resume without changing the result. */
  private static final Set<String> RESUMABLE_CHANGES = Set.of("checkpoint-every", "log-every", "device");

  private final TrainingConfig config;
  private final Engine engine;
  private final NDManager manager;
  private final DjlEncoder encoder;
  private final MethodState method;
  private final ClassifierHead head;
  private final List<Example> train;
  private final List<Example> dev;
  private final Path checkpointDir;
  private final String dataFingerprint;
  private final TrainingListener listener;
  private final List<TrainableParameter> params = new ArrayList<>();

  private long step;
  private int epoch;
  private int nextBatch;
  private EvalReport best;
  private EvalReport last;
  private Map<String, float[]> bestWeights;
  private double lastLoss = Double.NaN;
  private long trainNanos;
  private long tokens;
  private long stepsThisProcess;

  /**
   * @param dev may be empty: then nothing is evaluated and the last weights are kept
   * @param checkpointDir where {@code --checkpoint-every} writes; null disables checkpoints
   * @param dataFingerprint identifies the tokenized data; a resume on other data is refused
   */
  public TrainingLoop(TrainingConfig config, Engine engine, NDManager manager, DjlEncoder encoder, MethodState method,
      ClassifierHead head, List<Example> train, List<Example> dev, Path checkpointDir, String dataFingerprint,
      TrainingListener listener) {
    this.config = config;
    this.engine = engine;
    this.manager = manager;
    this.encoder = encoder;
    this.method = method;
    this.head = head;
    this.train = train;
    this.dev = dev;
    this.checkpointDir = checkpointDir;
    this.dataFingerprint = dataFingerprint;
    this.listener = listener;
    params.addAll(method.parameters());
    params.addAll(head.parameters());
    Set<String> names = new HashSet<>();
    for (TrainableParameter p : params) {
      if (!names.add(p.name())) {
        throw new IllegalStateException("two trainable parameters are named " + p.name());
      }
    }
  }

  public int stepsPerEpoch() {
    return BatchPlan.batchesPerEpoch(train.size(), config.batchSize());
  }

  public long totalSteps() {
    return (long) stepsPerEpoch() * config.epochs();
  }

  /** Trains from the start, or from {@code resume} when not null. */
  public TrainingSummary run(Checkpoint resume) {
    Autograd.offOnThisThread();
    long wallStart = System.nanoTime();
    long total = totalSteps();
    LearningRateSchedule schedule = LearningRateSchedule.of(total, config.warmupRatio());
    AdamW adam = new AdamW(params);
    if (resume != null) {
      restore(resume, adam);
    }
    listener.onStart(plan(total));
    while (epoch < config.epochs()) {
      List<int[]> batches = BatchPlan.training(train, config.batchSize(), config.seed(), epoch);
      boolean epochEnd = false;
      while (!epochEnd) {
        Batch batch = Batch.of(train, batches.get(nextBatch));
        double factor = schedule.factor(step);
        StepInfo info = new StepInfo(step, total, epoch, config.learningRate() * factor);
        double gradNorm = step(batch, info, adam, config.headLearningRate() * factor);
        step++;
        nextBatch++;
        epochEnd = nextBatch == batches.size();
        report(info, gradNorm, total);
        if (!dev.isEmpty() && (epochEnd || (config.evalEvery() > 0 && step % config.evalEvery() == 0))) {
          evaluate();
        }
        if (epochEnd) {
          epoch++;
          nextBatch = 0;
        }
        if (checkpointDir != null && config.checkpointEvery() > 0 && step % config.checkpointEvery() == 0) {
          checkpoint(adam).write(checkpointDir);
          listener.onCheckpoint(checkpointDir, step);
        }
      }
    }
    if (config.keepBest() && bestWeights != null) {
      load(bestWeights);
    }
    EvalReport kept = config.keepBest() ? best : last;
    if (method.finish(dev.isEmpty() ? null : this::sweepAccuracy) && kept != null) {
      // the method changed its export (e.g. picked ranks): report what the exported adapter scores
      kept = remeasure(kept);
    }
    TrainingSummary summary = new TrainingSummary(step, kept, last, lastLoss,
        method.activeRanks(), method.initialRanks(), trainable(), trainNanos / 1e9, tokens,
        (System.nanoTime() - wallStart) / 1e9);
    listener.onFinish(summary);
    return summary;
  }

  private double step(Batch batch, StepInfo info, AdamW adam, double headLr) {
    long t0 = System.nanoTime();
    engine.setRandomSeed(stepSeed(config.seed(), info.step()));
    method.beforeStep(info);
    double gradNorm;
    try (NDManager m = manager.newSubManager(); NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      NDArray loss;
      try (GradientCollector collector = engine.newGradientCollector()) {
        // only training steps run the base in bfloat16: evaluation, export and parity stay float32
        NDArray logits = LogitsAndLoss.logits(encoder, method.hook(true), head, batch, m, true,
            config.precision() == Precision.BF16);
        loss = LogitsAndLoss.crossEntropy(logits, batch.labels(), m);
        NDArray extra = method.extraLoss(info);
        collector.backward(extra == null ? loss : loss.add(extra));
      }
      lastLoss = loss.getFloat();
      if (!Double.isFinite(lastLoss)) {
        throw new Lora4jException("training diverged at step " + (info.step() + 1) + ": the loss is " + lastLoss
            + "; lower --lr (now " + config.learningRate() + ")");
      }
      Gradients gradients = Gradients.read(params);
      gradNorm = gradients.clip(config.maxGradNorm());
      if (!Double.isFinite(gradNorm)) {
        // clipping cannot rescue an infinite norm, and one AdamW step on it would poison every weight
        throw new Lora4jException("training diverged at step " + (info.step() + 1) + ": the gradient norm is "
            + gradNorm + "; lower --lr (now " + config.learningRate() + ")");
      }
      float largest = adam.step(params, info.learningRate(), headLr, config.weightDecay(), gradients::of);
      method.afterOptimizerStep(info);
      Gradients.zero(params);
      requireSaneParameters(info, largest);
    }
    trainNanos += System.nanoTime() - t0;
    tokens += batch.tokens();
    stepsThisProcess++;
    return gradNorm;
  }

  /**
   * Largest parameter magnitude a step may leave. AdamW moves each value by about the learning rate
   * per step whatever the gradient, so {@code --lr 1e30} gives finite 1e30 weights after one step
   * with a finite loss; the next forward pass (or, after the last step, the exported adapter) would
   * overflow float32 into NaN. Trained LoRA factors and heads stay within a few units; 1e4 is far
   * beyond anything useful and far below overflow (see WeightBounds for the exported bound).
   */
  static final double MAX_PARAMETER = 1e4;

  /**
   * Stops training when a step left a parameter NaN, infinite or absurdly large: it diverged.
   * {@code updated} is the largest magnitude AdamW left (NaN if any); the parameters a method updates
   * itself are read here.
   */
  private void requireSaneParameters(StepInfo info, float updated) {
    float v = updated;
    for (TrainableParameter p : params) {
      if (p.updater() == TrainableParameter.Updater.METHOD) {
        for (float x : p.array().toFloatArray()) {
          v = Math.max(v, Math.abs(x)); // NaN propagates through Math.max, so NaN is caught too
        }
      }
    }
    if (!(v <= MAX_PARAMETER)) {
      throw new Lora4jException("training diverged at step " + (info.step() + 1) + ": a parameter reached " + v
          + " (NaN, infinite or over " + MAX_PARAMETER + "); lower --lr (now " + config.learningRate() + ")");
    }
  }

  /** PyTorch's generator seed for a step: a hash of (seed, step), independent of history. */
  static int stepSeed(long seed, long step) {
    return new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (step + 1))).nextInt();
  }

  private void report(StepInfo info, double gradNorm, long total) {
    double seconds = trainNanos / 1e9;
    double perStep = stepsThisProcess == 0 ? 0 : seconds / stepsThisProcess;
    listener.onStep(new StepReport(step, total, info.epoch(), lastLoss, info.learningRate(), gradNorm,
        method.activeRanks(), method.initialRanks(), method.stepMetrics(info), tokens,
        seconds > 0 ? tokens / seconds : 0, perStep * (total - step)));
  }

  private void evaluate() {
    long t0 = System.nanoTime();
    Evaluator.Result r = Evaluator.evaluate(encoder, method.hook(false), head, dev, manager);
    Map<String, Integer> ranks = method.activeRanks();
    boolean better = best == null || beats(r.accuracy(), EvalReport.total(ranks), r.loss(), best);
    EvalReport report = new EvalReport(step, epoch, r.accuracy(), r.loss(), r.examples(),
        (System.nanoTime() - t0) / 1e9, ranks, better);
    last = report;
    if (better) {
      best = report;
      if (config.keepBest()) {
        bestWeights = snapshot();
      }
    }
    listener.onEvaluation(report);
  }

  /**
   * Whether an evaluation replaces the kept one: higher dev accuracy; at equal accuracy fewer live
   * ranks (a pruning method's later, smaller adapter: the 3-epoch SoRA of docs/RESULTS.md scored the
   * same with 106 and with 81 ranks, and the smaller is what a compact adapter is for); then lower loss.
   */
  static boolean beats(double accuracy, int liveRanks, double loss, EvalReport kept) {
    if (accuracy != kept.accuracy()) {
      return accuracy > kept.accuracy();
    }
    if (liveRanks != kept.activeRankTotal()) {
      return liveRanks < kept.activeRankTotal();
    }
    return loss < kept.loss();
  }

  private double sweepAccuracy(dev.lora4j.trainer.encoder.ModuleHook hook, int examples) {
    List<Example> part = dev.subList(0, Math.min(examples, dev.size()));
    return Evaluator.evaluate(encoder, hook, head, part, manager).accuracy();
  }

  private EvalReport remeasure(EvalReport kept) {
    long t0 = System.nanoTime();
    Evaluator.Result r = Evaluator.evaluate(encoder, method.hook(false), head, dev, manager);
    EvalReport report = new EvalReport(kept.step(), kept.epoch(), r.accuracy(), r.loss(), r.examples(),
        (System.nanoTime() - t0) / 1e9, method.activeRanks(), true);
    listener.onEvaluation(report);
    return report;
  }

  private Map<String, float[]> snapshot() {
    Map<String, float[]> s = new LinkedHashMap<>();
    for (TrainableParameter p : params) {
      s.put(p.name(), p.array().toFloatArray());
    }
    method.buffers().forEach((k, v) -> s.put("buffer/" + k, v.clone()));
    return s;
  }

  private void load(Map<String, float[]> values) {
    for (TrainableParameter p : params) {
      float[] v = values.get(p.name());
      if (v == null || v.length != p.size()) {
        throw new Lora4jException("checkpoint has no values of the right size for " + p.name());
      }
      TrainableParameter.overwrite(p.array(), v);
    }
    method.buffers().forEach((k, a) -> {
      float[] v = values.get("buffer/" + k);
      if (v == null || v.length != a.length) {
        throw new Lora4jException("checkpoint has no values of the right size for buffer/" + k);
      }
      System.arraycopy(v, 0, a, 0, a.length);
    });
  }

  private long trainable() {
    return params.stream().mapToLong(TrainableParameter::size).sum();
  }

  private TrainingPlan plan(long total) {
    Map<String, Long> counts = new LinkedHashMap<>();
    for (TrainableParameter p : params) {
      counts.merge(p.updater().name().toLowerCase(java.util.Locale.ROOT), p.size(), Long::sum);
    }
    return new TrainingPlan(config.method(), encoderDevice(), config.epochs(), stepsPerEpoch(), total, step,
        train.size(), dev.size(), Examples.tokens(train), trainable(), counts,
        method.activeRanks().size(), method.initialRanks());
  }

  private String encoderDevice() {
    return manager.getDevice().toString();
  }

  // ---- checkpoints ----

  private Checkpoint checkpoint(AdamW adam) {
    Map<String, Object> meta = new LinkedHashMap<>();
    meta.put("format", 1);
    meta.put("step", step);
    meta.put("epoch", epoch);
    meta.put("next_batch", nextBatch);
    meta.put("adam_steps", adam.steps());
    meta.put("last_loss", lastLoss);
    meta.put("data", dataFingerprint);
    meta.put("config", config.toMap());
    if (best != null) {
      meta.put("best", evalToMap(best));
    }
    if (last != null) {
      meta.put("last", evalToMap(last));
    }
    Map<String, float[]> tensors = new LinkedHashMap<>(snapshot());
    tensors.putAll(adam.state());
    if (bestWeights != null) {
      bestWeights.forEach((k, v) -> tensors.put("best/" + k, v));
    }
    return new Checkpoint(meta, tensors);
  }

  @SuppressWarnings("unchecked")
  private void restore(Checkpoint c, AdamW adam) {
    Map<String, Object> saved = (Map<String, Object>) c.meta().get("config");
    Map<String, Object> now = config.toMap();
    List<String> differences = new ArrayList<>();
    for (String k : now.keySet()) {
      Object a = saved == null ? null : saved.get(k);
      if (a == null && saved != null && k.equals("precision")) {
        a = Precision.FP32.id(); // checkpoints from before --precision trained the base in float32
      }
      Object b = now.get(k);
      if (!RESUMABLE_CHANGES.contains(k) && !sameValue(a, b)) {
        differences.add("--" + k + " " + a + " -> " + b);
      }
    }
    if (!differences.isEmpty()) {
      throw new Lora4jException("cannot resume: the checkpoint was made with other options ("
          + String.join(", ", differences) + ")");
    }
    if (!dataFingerprint.equals(c.meta().get("data"))) {
      throw new Lora4jException("cannot resume: the training or dev data differ from the checkpoint's");
    }
    step = c.getLong("step");
    epoch = (int) c.getLong("epoch");
    nextBatch = (int) c.getLong("next_batch");
    // Checkpoint.read checked each position alone; here they must also be a point this run reaches.
    int perEpoch = stepsPerEpoch();
    if (epoch > config.epochs() || nextBatch >= perEpoch || step != (long) epoch * perEpoch + nextBatch) {
      throw new Lora4jException("cannot resume: the checkpoint's position (epoch " + epoch + ", batch " + nextBatch
          + ", step " + step + ") is not one this run reaches (" + perEpoch + " batches per epoch, "
          + config.epochs() + " epochs); the checkpoint is corrupt");
    }
    Object ll = c.meta().get("last_loss");
    lastLoss = ll instanceof Number n ? n.doubleValue() : Double.NaN;
    load(c.tensors());
    adam.restore(c.tensors(), c.getLong("adam_steps"));
    best = evalFromMap(c.meta().get("best"));
    last = evalFromMap(c.meta().get("last"));
    if (best != null && config.keepBest()) {
      Map<String, float[]> bw = new LinkedHashMap<>();
      c.tensors().forEach((k, v) -> {
        if (k.startsWith("best/")) {
          bw.put(k.substring("best/".length()), v);
        }
      });
      bestWeights = bw.isEmpty() ? null : bw;
    }
  }

  private static boolean sameValue(Object a, Object b) {
    if (a instanceof Number x && b instanceof Number y) {
      return x.doubleValue() == y.doubleValue();
    }
    return java.util.Objects.equals(a == null ? null : a.toString(), b == null ? null : b.toString());
  }

  private static Map<String, Object> evalToMap(EvalReport e) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("step", e.step());
    m.put("epoch", e.epoch());
    m.put("accuracy", e.accuracy());
    m.put("loss", e.loss());
    m.put("examples", e.examples());
    m.put("seconds", e.seconds());
    m.put("ranks", e.activeRanks());
    return m;
  }

  @SuppressWarnings("unchecked")
  private static EvalReport evalFromMap(Object o) {
    if (!(o instanceof Map<?, ?> m)) {
      return null;
    }
    Map<String, Integer> ranks = new LinkedHashMap<>();
    ((Map<String, Object>) m.get("ranks")).forEach((k, v) -> ranks.put(k, ((Number) v).intValue()));
    return new EvalReport(((Number) m.get("step")).longValue(), ((Number) m.get("epoch")).intValue(),
        ((Number) m.get("accuracy")).doubleValue(), ((Number) m.get("loss")).doubleValue(),
        ((Number) m.get("examples")).intValue(), ((Number) m.get("seconds")).doubleValue(), ranks, true);
  }
}
