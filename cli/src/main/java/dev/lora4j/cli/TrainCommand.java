package dev.lora4j.cli;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.TaskHead.Pooling;
import dev.lora4j.models.io.OutputTargets;
import dev.lora4j.trainer.BaseModel;
import dev.lora4j.trainer.DeviceChoice;
import dev.lora4j.trainer.Precision;
import dev.lora4j.trainer.NestedRankConfig;
import dev.lora4j.trainer.SaloraConfig;
import dev.lora4j.trainer.SparsityConfig;
import dev.lora4j.trainer.TransformKind;
import dev.lora4j.trainer.Trainer;
import dev.lora4j.trainer.TrainingConfig;
import dev.lora4j.trainer.TrainingResult;
import dev.lora4j.trainer.TrainingRun;
import dev.lora4j.trainer.data.TsvDataset;
import dev.lora4j.trainer.loop.Checkpoint;
import dev.lora4j.trainer.loop.TrainingSummary;
import dev.lora4j.trainer.method.Methods;
import dev.lora4j.trainer.method.TrainingMethod;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code lora4j train}: learn an adapter and a classification head on a frozen base encoder. */
final class TrainCommand implements Command {
  private static final TrainingConfig DEFAULTS = TrainingConfig.builder().build();

  @Override
  public String name() {
    return "train";
  }

  @Override
  public String arguments() {
    return "";
  }

  @Override
  public String summary() {
    return "Train an adapter (LoRA, SoRA, SaLoRA, MTLoRA, DyLoRA, ERAT-DLoRA, or a linear probe) and a classifier.";
  }

  @Override
  public String description() {
    return """
        Trains low-rank adapters on the chosen linear modules of a frozen BERT-family encoder (DJL with
        PyTorch; a CUDA GPU when one is visible, else the CPU) together with a sequence-classification
        head, evaluates on the dev set every epoch, keeps the best weights, and writes the adapter as a
        PEFT directory (adapter_config.json + adapter_model.safetensors, lora4j extras: gates, head,
        labels, base SHA-256, provenance) into --out, atomically; an existing --out that is not an
        earlier trained adapter is refused unless --overwrite, and is checked before training starts.
        Data: UTF-8 TSV with a header 'sentence<TAB>label'; labels are sorted (numerically when all are
        integers). --train / --dev default to ../shared/data/sst2/{train,dev}.tsv when present.
        Methods: %s.
        Working files go to --run-dir (default <out>.run): metrics.jsonl (one JSON object per logged
        step and per evaluation) and, with --checkpoint-every N, checkpoint/ for --resume, which
        continues to the same result (on the CPU, bit for bit).
        Method options apply to their method only (see docs/METHODS.md); giving one to another method is an error.
        Example: lora4j train --base minilm-l6 --method sora --rank 16 --epochs 3 --out adapters/sst2-sora"""
        .formatted(Methods.all().stream().map(m -> m.id() + " (" + m.summary() + ")")
            .collect(Collectors.joining("; ")));
  }

  @Override
  public Options options() {
    Options o = new Options();
    TrainingConfig d = DEFAULTS;
    SparsityConfig s = d.sparsity();
    opt(o, "base", "model", "Base model: 'minilm-l6' (default) or a directory with model.onnx + tokenizer.json.");
    opt(o, "train", "file", "Training TSV (default ../shared/data/sst2/train.tsv).");
    opt(o, "dev", "file", "Dev TSV for evaluation and keep-best (default ../shared/data/sst2/dev.tsv).");
    opt(o, "no-dev", null, "Train without a dev set (keeps the last weights).");
    opt(o, "out", "dir", "Adapter directory to write (PEFT layout): new, empty, or an earlier trained adapter. "
        + "Required.");
    opt(o, "overwrite", null, "Replace --out even when it is not an earlier trained adapter (a file, a directory "
        + "of other files).");
    opt(o, "name", "name", "Adapter name (default: the --out directory's name).");
    opt(o, "run-dir", "dir", "Metrics and checkpoints (default <out>.run).");
    opt(o, "method", "id", "Training method: " + String.join(", ", Methods.all().stream()
        .map(TrainingMethod::id).toList()) + " (default " + d.method() + ").");
    opt(o, "targets", "list", "Modules to adapt: query, key, value, attention.output, intermediate, output, "
        + "canonical names, or all (default " + d.targets() + ").");
    opt(o, "rank", "r", "Rank per module (default " + d.rank() + "; sora and salora start from "
        + TrainingConfig.PRUNING_RANK + " and prune).");
    opt(o, "alpha", "a", "LoRA alpha; scaling alpha/r (default " + fmt(d.alpha()) + "; sora and salora "
        + fmt(2.0 * TrainingConfig.PRUNING_RANK) + ").");
    opt(o, "rslora", null, "Rank-stabilised scaling alpha/sqrt(r).");
    opt(o, "dropout", "p", "Dropout on the adapter input (default " + fmt(d.dropout()) + ").");
    opt(o, "pooling", "mean|cls", "Sentence pooling for the head (default " + d.pooling().id() + ").");
    opt(o, "head-dropout", "p", "Dropout before the classifier (default " + fmt(d.headDropout()) + ").");
    opt(o, "epochs", "n", "Epochs (default " + d.epochs() + ").");
    opt(o, "batch-size", "n", "Examples per step (default " + d.batchSize() + ").");
    opt(o, "lr", "rate", "AdamW peak learning rate of the adapter (default " + fmt(d.learningRate()) + ").");
    opt(o, "head-lr", "rate", "Learning rate of the classifier (default: --lr).");
    opt(o, "weight-decay", "wd", "AdamW decoupled weight decay (default " + fmt(d.weightDecay()) + ").");
    opt(o, "warmup", "ratio", "Share of steps with linear warm-up, then linear decay (default "
        + fmt(d.warmupRatio()) + ").");
    opt(o, "max-grad-norm", "n", "Clip the global gradient norm; 0 disables (default " + fmt(d.maxGradNorm()) + ").");
    opt(o, "seed", "n", "Random seed: initialisation, data order, dropout (default " + d.seed() + ").");
    opt(o, "max-length", "n", "Tokens per text incl. special tokens (default " + d.maxLength() + ").");
    opt(o, "max-train", "n", "Use N training examples (seeded shuffle); 0 = all (default 0).");
    opt(o, "eval-every", "n", "Also evaluate every N steps (default: each epoch only).");
    opt(o, "no-keep-best", null, "Keep the last weights instead of the best dev evaluation (best: highest "
        + "accuracy, then fewest live ranks, then lowest loss).");
    opt(o, "checkpoint-every", "n", "Write a resumable checkpoint every N steps (default: never).");
    opt(o, "resume", null, "Continue from <run-dir>/checkpoint with the same options and data.");
    opt(o, "log-every", "n", "Write a metrics line every N steps (default " + d.logEvery() + ").");
    opt(o, "device", "auto|cpu|gpu", "Where to train (default auto: CUDA when visible, else CPU).");
    opt(o, "precision", "fp32|bf16|auto", "Number format of the frozen base in training steps (default auto: bf16 "
        + "where the CPU (AMX / AVX-512 BF16) or GPU has native bfloat16, else fp32; one log line says which). "
        + "Adapter, head, optimizer and evaluation stay fp32 either way.");
    opt(o, "gate-lr", "eta", "SoRA: step size of the proximal gate update (default " + fmt(s.gateLr()) + ").");
    opt(o, "sparsity-lambda", "l", "SoRA: final L1 strength; threshold per step eta*lambda (default "
        + fmt(s.lambda()) + ").");
    opt(o, "lambda-schedule", "s", "SoRA: constant, linear, cosine or step (default " + s.schedule().id() + ").");
    opt(o, "lambda-steps", "n", "SoRA: levels of the step schedule (default " + s.scheduleSteps() + ").");
    SaloraConfig sa = d.salora();
    NestedRankConfig n = d.nested();
    opt(o, "l0-lambda", "l", "SaLoRA: prune by this fixed loss weight per expected live rank instead of a "
        + "target sparsity (given alone, it turns the default target off).");
    opt(o, "target-sparsity", "s", "SaLoRA: share of ranks to prune, reached by Lagrange multipliers trained by "
        + "gradient ascent (default " + fmt(sa.targetSparsity()) + "; off when --l0-lambda is given).");
    opt(o, "sparsity-warmup", "ratio", "SaLoRA: share of training over which the target rises from 0 (default "
        + fmt(sa.sparsityWarmup()) + ").");
    opt(o, "l0-lr", "rate", "SaLoRA: AdamW step of the log-alpha gates and multipliers (default " + fmt(sa.l0Lr())
        + ").");
    opt(o, "l0-droprate-init", "p", "SaLoRA: initial drop rate of the hard-concrete gates (default "
        + fmt(sa.droprateInit()) + ").");
    opt(o, "ortho-weight", "w", "SaLoRA: weight of ||AA^T-I||^2 + ||B^TB-I||^2 (default " + fmt(sa.orthoWeight())
        + ").");
    opt(o, "transform", "full|psd|staged|dual", "MTLoRA: structure of T: full matrix, L L^T, U L, or T1 + diag "
        + "(default " + d.transform().id() + ").");
    opt(o, "dylora-mode", "full|frozen", "DyLoRA/ERAT: train ranks 1..b, or only rank b (default " + n.mode().id()
        + ").");
    opt(o, "export-rank", "b|full|auto", "DyLoRA/ERAT: ranks exported per module: b, all trained, or the smallest "
        + "per module within --tolerance on dev (default " + n.exportRankId() + ").");
    opt(o, "tolerance", "acc", "DyLoRA/ERAT: dev accuracy --export-rank auto may lose (default "
        + fmt(n.tolerance()) + ").");
    opt(o, "sweep-examples", "n", "DyLoRA/ERAT: dev examples the auto sweep scores on (default "
        + n.sweepExamples() + ").");
    opt(o, "erat-depth-min", "f", "ERAT: rank share of the first adapted layer; the last gets all (default "
        + fmt(n.depthMin()) + ").");
    opt(o, "erat-start", "f", "ERAT: share of each layer's rank open at step 0 (default " + fmt(n.start()) + ").");
    opt(o, "erat-ramp", "f", "ERAT: share of training until every layer has its whole rank (default "
        + fmt(n.ramp()) + ").");
    opt(o, "erat-window", "f", "ERAT: width of the sampled rank band as a share of --rank (default "
        + fmt(n.window()) + ").");
    opt(o, "quiet", null, "No progress display, evaluation lines only (without it: a bar on a terminal, a line "
        + "every tenth of the run into a file or pipe).");
    return o;
  }

  private static void opt(Options o, String name, String arg, String desc) {
    Option.Builder b = Option.builder().longOpt(name).desc(desc);
    if (arg != null) {
      b.hasArg().argName(arg);
    }
    o.addOption(b.get());
  }

  private static String fmt(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e6 ? Long.toString((long) v) : Double.toString(v);
  }

  @Override
  public int run(CommandLine line, PrintStream out) {
    if (!line.hasOption("out")) {
      throw new Lora4jException("--out is required (see lora4j train --help)");
    }
    TrainingConfig config = config(line);
    Path outDir = Path.of(line.getOptionValue("out"));
    Path runDir = line.hasOption("run-dir") ? Path.of(line.getOptionValue("run-dir"))
        : outDir.resolveSibling(outDir.getFileName() + ".run");
    String name = line.getOptionValue("name", outDir.getFileName().toString());
    boolean overwrite = line.hasOption("overwrite");
    Path trainFile = DataDefaults.resolve(line.getOptionValue("train"), "train", "train.tsv");
    Path devFile = line.hasOption("no-dev") ? null : DataDefaults.resolve(line.getOptionValue("dev"), "dev", "dev.tsv");
    TsvDataset train = TsvDataset.read(trainFile);
    TsvDataset dev = devFile == null ? null : TsvDataset.read(devFile);
    BaseModel base = BaseModel.open(line.getOptionValue("base"));
    // refused before training, not after an hour of it
    requireOutputs(outDir, overwrite, runDir, config.checkpointEvery() > 0, trainFile, devFile, base);
    TrainingResult result;
    try (TrainProgress progress = new TrainProgress(out, TrainProgress.Display.of(out, line.hasOption("quiet")))) {
      result = Trainer.train(new TrainingRun(config, base, train, dev, runDir, line.hasOption("resume"), name),
          progress);
    }
    PeftAdapters.write(result.adapter(), outDir, overwrite);
    report(out, result, outDir);
    return 0;
  }

  /** What training will write may replace only what it may (see OutputTargets), and never an input. */
  private static void requireOutputs(Path outDir, boolean overwrite, Path runDir, boolean checkpoints, Path trainFile,
      Path devFile, BaseModel base) {
    OutputTargets.requireReplaceable(outDir, PeftAdapters.OUTPUT_KIND, overwrite);
    OutputTargets.requireApart(outDir, "--out", trainFile, "--train");
    if (devFile != null) {
      OutputTargets.requireApart(outDir, "--out", devFile, "--dev");
    }
    OutputTargets.requireApart(outDir, "--out", base.files().onnx(), "--base model file");
    OutputTargets.requireApart(outDir, "--out", base.files().tokenizer(), "--base tokenizer");
    // the adapter replaces --out whole: it must not hold the run's log or the checkpoint --resume reads
    Path checkpoint = runDir.resolve(TrainingRun.CHECKPOINT_DIR);
    OutputTargets.requireApart(outDir, "--out", checkpoint, "checkpoint directory");
    OutputTargets.requireApart(outDir, "--out", runDir.resolve(TrainingRun.METRICS_FILE), "metrics file");
    if (checkpoints) {
      OutputTargets.requireReplaceable(checkpoint, Checkpoint.OUTPUT_KIND, false);
    }
  }

  /** Options that only mean something to some methods: given to another, they are refused, not ignored. */
  private static final Map<String, Set<String>> METHOD_OPTIONS = methodOptions();

  private static Map<String, Set<String>> methodOptions() {
    Map<String, Set<String>> m = new LinkedHashMap<>();
    for (String o : List.of("l0-lambda", "target-sparsity", "sparsity-warmup", "l0-lr", "l0-droprate-init",
        "ortho-weight")) {
      m.put(o, Set.of("salora"));
    }
    m.put("transform", Set.of("mtlora"));
    for (String o : List.of("dylora-mode", "export-rank", "tolerance", "sweep-examples")) {
      m.put(o, Set.of("dylora", "erat"));
    }
    for (String o : List.of("erat-depth-min", "erat-start", "erat-ramp", "erat-window")) {
      m.put(o, Set.of("erat"));
    }
    for (String o : List.of("gate-lr", "sparsity-lambda", "lambda-schedule", "lambda-steps")) {
      m.put(o, Set.of("sora"));
    }
    return m;
  }

  static TrainingConfig config(CommandLine line) {
    // a fresh builder, not DEFAULTS.toBuilder(): rank and alpha left unset take the method's defaults
    TrainingConfig.Builder b = TrainingConfig.builder();
    SparsityConfig s = DEFAULTS.sparsity();
    String method = Methods.byId(line.getOptionValue("method", DEFAULTS.method())).id();
    b.method(method);
    b.targets(line.getOptionValue("targets", DEFAULTS.targets()));
    if (line.hasOption("rank")) {
      b.rank(OptionValues.integer(line, "rank", TrainingConfig.DEFAULT_RANK));
    }
    if (line.hasOption("alpha")) {
      b.alpha(OptionValues.real(line, "alpha", 2.0 * TrainingConfig.DEFAULT_RANK));
    }
    b.rslora(line.hasOption("rslora"));
    b.dropout(OptionValues.real(line, "dropout", DEFAULTS.dropout()));
    b.pooling(line.hasOption("pooling") ? Pooling.parse(line.getOptionValue("pooling")) : DEFAULTS.pooling());
    b.headDropout(OptionValues.real(line, "head-dropout", DEFAULTS.headDropout()));
    b.epochs(OptionValues.integer(line, "epochs", DEFAULTS.epochs()));
    b.batchSize(OptionValues.integer(line, "batch-size", DEFAULTS.batchSize()));
    double lr = OptionValues.real(line, "lr", DEFAULTS.learningRate());
    b.learningRate(lr);
    b.headLearningRate(OptionValues.real(line, "head-lr", lr));
    b.weightDecay(OptionValues.real(line, "weight-decay", DEFAULTS.weightDecay()));
    b.warmupRatio(OptionValues.real(line, "warmup", DEFAULTS.warmupRatio()));
    b.maxGradNorm(OptionValues.real(line, "max-grad-norm", DEFAULTS.maxGradNorm()));
    b.seed(OptionValues.integer(line, "seed", (int) DEFAULTS.seed()));
    b.maxLength(OptionValues.integer(line, "max-length", DEFAULTS.maxLength()));
    b.maxTrain(OptionValues.integer(line, "max-train", 0));
    b.evalEvery(OptionValues.integer(line, "eval-every", 0));
    b.keepBest(!line.hasOption("no-keep-best"));
    b.checkpointEvery(OptionValues.integer(line, "checkpoint-every", 0));
    b.logEvery(OptionValues.integer(line, "log-every", DEFAULTS.logEvery()));
    b.device(DeviceChoice.parse(line.getOptionValue("device", "auto")));
    b.precision(Precision.parse(line.getOptionValue("precision", "auto")));
    b.sparsity(new SparsityConfig(OptionValues.real(line, "gate-lr", s.gateLr()), OptionValues.real(line, "sparsity-lambda", s.lambda()),
        line.hasOption("lambda-schedule") ? SparsityConfig.Schedule.parse(line.getOptionValue("lambda-schedule"))
            : s.schedule(),
        OptionValues.integer(line, "lambda-steps", s.scheduleSteps())));
    for (Map.Entry<String, Set<String>> e : METHOD_OPTIONS.entrySet()) {
      if (line.hasOption(e.getKey()) && !e.getValue().contains(method)) {
        throw new Lora4jException("--" + e.getKey() + " applies to --method " + String.join(" or ",
            e.getValue().stream().sorted().toList()) + ", not " + method);
      }
    }
    SaloraConfig sa = DEFAULTS.salora();
    // a fixed L0 strength and a target are two ways to ask for sparsity: --l0-lambda alone means the former
    double target = line.hasOption("l0-lambda") && !line.hasOption("target-sparsity") ? Double.NaN
        : OptionValues.real(line, "target-sparsity", sa.targetSparsity());
    b.salora(new SaloraConfig(OptionValues.real(line, "l0-lambda", sa.l0Lambda()), target,
        OptionValues.real(line, "sparsity-warmup", sa.sparsityWarmup()), OptionValues.real(line, "l0-lr", sa.l0Lr()),
        OptionValues.real(line, "l0-droprate-init", sa.droprateInit()), OptionValues.real(line, "ortho-weight", sa.orthoWeight())));
    b.transform(line.hasOption("transform") ? TransformKind.parse(line.getOptionValue("transform"))
        : DEFAULTS.transform());
    NestedRankConfig n = DEFAULTS.nested();
    n = new NestedRankConfig(line.hasOption("dylora-mode") ? NestedRankConfig.Mode.parse(line.getOptionValue(
        "dylora-mode")) : n.mode(), n.exportRank(), n.autoExportRank(), OptionValues.real(line, "tolerance", n.tolerance()),
        OptionValues.integer(line, "sweep-examples", n.sweepExamples()), OptionValues.real(line, "erat-depth-min", n.depthMin()),
        OptionValues.real(line, "erat-start", n.start()), OptionValues.real(line, "erat-ramp", n.ramp()), OptionValues.real(line, "erat-window", n.window()));
    b.nested(line.hasOption("export-rank") ? n.withExportRank(line.getOptionValue("export-rank")) : n);
    return b.build();
  }

  private static void report(PrintStream out, TrainingResult r, Path outDir) {
    TrainingSummary s = r.summary();
    if (s.kept() != null) {
      out.printf(Locale.ROOT, "Dev accuracy %.2f%% (loss %.4f) at step %d%s%n", 100 * s.kept().accuracy(),
          s.kept().loss(), s.kept().step(), s.last() != null && s.last() != s.kept()
              ? String.format(Locale.ROOT, "; last evaluation %.2f%%", 100 * s.last().accuracy()) : "");
    }
    out.printf(Locale.ROOT, "Ranks kept %d of %d; trainable parameters %,d%n", s.keptRanks(), s.initialRanks(),
        s.trainableParameters());
    if (s.initialRanks() > 0 && s.keptRanks() < s.initialRanks()) {
      for (Map.Entry<String, Integer> e : s.ranks().entrySet()) {
        out.printf(Locale.ROOT, "  %-42s %d%n", e.getKey(), e.getValue());
      }
    }
    out.println("Adapter written to " + outDir + (r.metricsFile() != null ? "; metrics in " + r.metricsFile() : ""));
  }
}
