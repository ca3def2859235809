package dev.lora4j.trainer;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.text.Tokenizer;
import dev.lora4j.trainer.data.Example;
import dev.lora4j.trainer.data.Examples;
import dev.lora4j.trainer.data.LabelSet;
import dev.lora4j.trainer.data.LabeledText;
import dev.lora4j.trainer.data.TsvDataset;
import dev.lora4j.trainer.encoder.DjlEncoder;
import dev.lora4j.trainer.head.ClassifierHead;
import dev.lora4j.trainer.loop.Checkpoint;
import dev.lora4j.trainer.loop.MetricsLog;
import dev.lora4j.trainer.loop.TrainingListener;
import dev.lora4j.trainer.loop.TrainingLoop;
import dev.lora4j.trainer.loop.TrainingSummary;
import dev.lora4j.trainer.method.MethodSetup;
import dev.lora4j.trainer.method.MethodState;
import dev.lora4j.trainer.method.Methods;
import dev.lora4j.trainer.method.TrainingMethod;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Trains an adapter and a classification head on a frozen base encoder: the one entry point the
 * command line and other modules use.
 *
 * <pre>{@code
 * TrainingConfig config = TrainingConfig.builder().method("sora").rank(16).build();
 * TrainingResult r = Trainer.train(new TrainingRun(config, BaseModel.open("minilm-l6"),
 *     TsvDataset.read(train), TsvDataset.read(dev), runDir, false, "sst2-sora"), listener);
 * }</pre>
 */
public final class Trainer {
  private Trainer() {}

  /**
   * A run that fails before its first checkpoint leaves nothing to resume from, so the directories
   * it made for the run (the metrics of a diverged run, say) go with it; with a checkpoint they stay,
   * for {@code resume}.
   */
  public static TrainingResult train(TrainingRun run, TrainingListener listener) {
    Path createdByThisRun = run.runDirectory() == null ? null : firstMissing(run.runDirectory().toAbsolutePath());
    try {
      return trainInto(run, listener);
    } catch (RuntimeException e) {
      if (createdByThisRun != null && !Files.exists(run.checkpointDirectory())) {
        AtomicFiles.deleteRecursively(createdByThisRun);
      }
      throw e;
    }
  }

  /** The outermost directory on the way to {@code dir} that does not exist yet, or null if it exists. */
  private static Path firstMissing(Path dir) {
    Path missing = null;
    for (Path p = dir; p != null && !Files.exists(p); p = p.getParent()) {
      missing = p;
    }
    return missing;
  }

  private static TrainingResult trainInto(TrainingRun run, TrainingListener listener) {
    TrainingConfig config = run.config();
    TrainingMethod method = Methods.byId(config.method());
    List<LinearModule> targets = method.adaptsModules()
        ? run.base().description().resolveTargets(config.targets())
        : List.of();
    method.validate(config, run.dev() != null);
    config.requireFits(targets, run.base().description().spec());
    LabelSet labels = LabelSet.of(run.train());
    TsvDataset train = subset(run.train(), config.maxTrain(), config.seed());
    List<Example> trainExamples;
    List<Example> devExamples;
    try (Tokenizer tokenizer = run.base().tokenizer(config.maxLength())) {
      trainExamples = Examples.of(train, labels, tokenizer, config.maxLength());
      devExamples = run.dev() == null ? List.of() : Examples.of(run.dev(), labels, tokenizer, config.maxLength());
    }
    Device device = config.device().resolve();
    // provenance and checkpoints record the precision that ran, never "auto"
    config = config.toBuilder().precision(config.precision().resolve(device)).build();
    boolean bf16 = config.precision() == Precision.BF16;
    Engine engine = PyTorchEngine.load();
    Random init = new Random(config.seed());
    TrainingListener listeners = listener;
    MetricsLog metrics = null;
    Checkpoint resume = run.resume() ? Checkpoint.read(run.checkpointDirectory()) : null;
    try (NDManager root = NDManager.newBaseManager(device, PyTorchEngine.NAME);
        DjlEncoder encoder = DjlEncoder.load(run.base().description(), root, bf16);
        MethodState state = method.start(new MethodSetup(targets, config, root, init));
        ClassifierHead head = ClassifierHead.initial(encoder.spec().hidden(), labels.names(), config.pooling(),
            config.headDropout(), init, root)) {
      if (run.metricsFile() != null) {
        metrics = new MetricsLog(run.metricsFile(), config.logEvery(), resume == null ? 0 : resume.getLong("step"));
        listeners = TrainingListener.both(metrics, listener);
      }
      TrainingLoop loop = new TrainingLoop(config, engine, root, encoder, state, head, trainExamples, devExamples,
          run.checkpointDirectory(), fingerprint(trainExamples, devExamples), listeners);
      TrainingSummary summary = loop.run(resume);
      Provenance provenance = new Provenance(method.id(), config.toMap(),
          dataDescription(run, train, labels, trainExamples, devExamples), config.seed(), metrics(summary, config),
          java.time.Instant.now().toString(), Provenance.toolName());
      Adapter adapter = new Adapter(run.name(), run.base().ref(), Adapter.byName(state.export()), head.export(),
          provenance);
      adapter.requireFinite("trained adapter " + run.name());
      return new TrainingResult(adapter, summary, run.metricsFile());
    } finally {
      if (metrics != null) {
        metrics.close();
      }
    }
  }

  /** The run's metrics and the precision its tokens/s were measured in. */
  private static Map<String, Object> metrics(TrainingSummary summary, TrainingConfig config) {
    Map<String, Object> m = new LinkedHashMap<>(summary.toMetrics());
    m.put("precision", config.precision().id());
    return m;
  }

  /** The first {@code n} rows after a seeded shuffle (so a subset keeps the label mix), or all. */
  static TsvDataset subset(TsvDataset data, int n, long seed) {
    if (n <= 0 || n >= data.size()) {
      return data;
    }
    List<LabeledText> rows = new ArrayList<>(data.rows());
    Collections.shuffle(rows, new Random(seed));
    return new TsvDataset(data.source(), rows.subList(0, n));
  }

  private static Map<String, Object> dataDescription(TrainingRun run, TsvDataset train, LabelSet labels,
      List<Example> trainExamples, List<Example> devExamples) {
    Map<String, Object> d = new LinkedHashMap<>();
    d.put("train", run.train().source().toString());
    d.put("train_examples", train.size());
    d.put("train_tokens", Examples.tokens(trainExamples));
    if (run.dev() != null) {
      d.put("dev", run.dev().source().toString());
      d.put("dev_examples", devExamples.size());
    }
    d.put("labels", labels.names());
    d.put("label_counts", train.labelCounts(labels));
    return d;
  }

  /** SHA-256 over the tokenized training and dev data: a resume must see the same examples. */
  static String fingerprint(List<Example> train, List<Example> dev) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      for (List<Example> part : List.of(train, dev)) {
        md.update(ByteBuffer.allocate(4).putInt(part.size()).array());
        for (Example e : part) {
          ByteBuffer b = ByteBuffer.allocate(8 + 8 * e.length());
          b.putInt(e.label()).putInt(e.length());
          for (long id : e.ids()) {
            b.putLong(id);
          }
          md.update(b.array());
        }
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
