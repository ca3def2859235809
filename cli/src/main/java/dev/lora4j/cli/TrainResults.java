package dev.lora4j.cli;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.ortformat.MultiAdapterParameters;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.text.Encoding;
import dev.lora4j.models.text.Tokenizer;
import dev.lora4j.trainer.BaseModel;
import dev.lora4j.trainer.data.TsvDataset;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.ToDoubleFunction;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Writes the training section of {@code docs/RESULTS.md} from adapters trained by
 * {@code scripts/train-results.sh}: per method, dev accuracy as mean ± sample standard deviation over
 * the seeds present, ranks kept, trainable parameters, exported adapter size, training and wall time
 * and training tokens/s; ranks kept per module for the first seed (table and heat map per method);
 * the training-versus-inference throughput line (ONNX Runtime on the same base model and machine).
 * Not a test: it reads real runs.
 *
 * <p>Usage: {@code TrainResults <results-dir> <out.md> <commands-file> <run>...}, where every run was
 * trained into {@code <results-dir>/s<seed>/<run>}.
 */
public final class TrainResults {
  private TrainResults() {}

  public static void main(String[] args) throws Exception {
    Path results = Path.of(args[0]);
    Path out = Path.of(args[1]);
    String commands = Files.readString(Path.of(args[2]));
    List<Integer> seeds = seeds(results);
    Files.createDirectories(out.toAbsolutePath().getParent());
    Map<String, List<Adapter>> runs = new LinkedHashMap<>();
    for (int i = 3; i < args.length; i++) {
      List<Adapter> trained = new ArrayList<>();
      for (int seed : seeds) {
        Path dir = results.resolve("s" + seed).resolve(args[i]);
        if (Files.isDirectory(dir)) {
          trained.add(PeftAdapters.read(dir));
        } else {
          System.err.println("skipping " + dir + ": not trained (yet)");
        }
      }
      if (!trained.isEmpty()) {
        runs.put(args[i], trained);
      }
    }
    BaseModel base = BaseModel.open("minilm-l6");
    TsvDataset data = TsvDataset.read(DataDefaults.resolve(null, "train", "train.tsv"));
    double inference = ortTokensPerSecond(base, data.texts().subList(0, 2048), 64, 32);
    List<Adapter> first = runs.values().stream().map(l -> l.get(0)).toList();

    StringBuilder md = new StringBuilder();
    md.append("## Training results: SST-2 on all-MiniLM-L6-v2\n\n");
    md.append("Produced by `scripts/train-results.sh` on this machine (")
        .append(Runtime.getRuntime().availableProcessors()).append(" CPU cores, no GPU). Dev set: "
            + "../shared/data/sst2/dev.tsv (1,821 sentences). Reference: a linear probe on frozen MiniLM (logistic "
            + "regression) reaches 81.1%. Every run: the same " + trainExamples(first) + " training sentences, max "
            + "length 64, batch 32, one budget per method (options under Commands); seeds ")
        .append(seeds.stream().map(String::valueOf).collect(Collectors.joining(", ")))
        .append(" (seed = initialisation, dropout and data order). Accuracy is the mean ± sample standard deviation "
            + "over the seeds, the other columns are means; ranges are min–max over the seeds.\n\n");
    md.append("| method | dev accuracy (%) | per seed | ranks kept / initial | trainable parameters | exported "
        + "adapter | steps | train time | wall time | training tokens/s |\n|---|---|---|---|---|---|---|---|---|---|\n");
    runs.forEach((run, adapters) -> {
      Adapter a = adapters.get(0);
      Map<String, Object> h = a.provenance().hyperParameters();
      String label = a.provenance().method() + ("probe".equals(a.provenance().method()) ? "" : " r=" + h.get("rank"));
      MeanAndSpread acc = spread(adapters, x -> 100 * num(x.provenance().metrics(), "dev_accuracy"));
      md.append(String.format(Locale.ROOT, "| %s | %s | %s | %s / %s | %,d | %s KiB | %s | %.0f s | %.0f s | %.0f |%n",
          label, acc.meanSd(2),
          adapters.stream().map(x -> String.format(Locale.ROOT, "%.2f", 100 * num(x.provenance().metrics(),
              "dev_accuracy"))).collect(Collectors.joining(" / ")),
          spread(adapters, x -> num(x.provenance().metrics(), "ranks_kept")).meanRange(0),
          a.provenance().metrics().get("ranks_initial"),
          (long) num(a.provenance().metrics(), "trainable_parameters"),
          spread(adapters, x -> exportedBytes(x) / 1024.0).meanRange(1),
          a.provenance().metrics().get("steps"),
          spread(adapters, x -> num(x.provenance().metrics(), "train_seconds")).mean(),
          spread(adapters, x -> num(x.provenance().metrics(), "wall_seconds")).mean(),
          spread(adapters, x -> num(x.provenance().metrics(), "train_tokens_per_second")).mean()));
    });
    md.append("\nExported adapter: the compact adapter (dead ranks dropped, gates / T / scaling folded into B) as "
        + "an ONNX Runtime `.onnx_adapter` file, classifier head included. Wall time: the whole `train` call "
        + "(tokenizing, training, evaluations, rank sweeps).\n");
    appendSweeps(md, runs);
    appendRanks(md, first, base.description().spec().layers(), out.toAbsolutePath().getParent(), seeds.get(0));
    md.append("### Training vs inference throughput\n\n");
    double best = runs.values().stream().flatMap(List::stream).filter(a -> !"probe".equals(a.provenance().method()))
        .mapToDouble(a -> num(a.provenance().metrics(), "train_tokens_per_second")).max().orElse(0);
    md.append(String.format(Locale.ROOT, "ONNX Runtime inference (base graph, 2 threads, batches of 32, max length "
        + "64, 2,048 SST-2 train sentences): %.0f tokens/s. Fastest adapter training above: %.0f tokens/s "
        + "(forward + backward + optimizer). Ratio %.2f (goal >= 0.30).%n%n", inference, best,
        inference > 0 ? best / inference : 0));
    md.append("### Hyper-parameters\n\n");
    for (Adapter a : first) {
      md.append("- **").append(a.name()).append("**: ").append(a.provenance().hyperParameters()).append('\n');
    }
    md.append("\n### Commands\n\n```\n").append(commands.strip()).append("\n```\n");
    ResultsDoc.replaceSection(out, "training", md.toString());
    System.out.print(md);
  }

  /**
   * DyLoRA and ERAT-DLoRA export a truncation picked by a dev-set sweep: what the truncation costs
   * against the adapter as trained (the last evaluation, at every rank or ERAT's per-layer cap).
   */
  private static void appendSweeps(StringBuilder md, Map<String, List<Adapter>> runs) {
    List<Map.Entry<String, List<Adapter>>> swept = runs.entrySet().stream()
        .filter(e -> e.getValue().get(0).provenance().hyperParameters().get("export-rank") != null
            && e.getValue().get(0).provenance().metrics().get("last_dev_accuracy") != null).toList();
    if (swept.isEmpty()) {
      return;
    }
    md.append("\n### Truncation sweep (DyLoRA, ERAT-DLoRA)\n\n| run | dev accuracy as trained (%) | after the sweep (%) "
        + "| ranks kept |\n|---|---|---|---|\n");
    for (Map.Entry<String, List<Adapter>> e : swept) {
      List<Adapter> a = e.getValue();
      md.append("| ").append(e.getKey()).append(" | ")
          .append(spread(a, x -> 100 * num(x.provenance().metrics(), "last_dev_accuracy")).meanSd(2)).append(" | ")
          .append(spread(a, x -> 100 * num(x.provenance().metrics(), "dev_accuracy")).meanSd(2)).append(" | ")
          .append(spread(a, x -> num(x.provenance().metrics(), "ranks_kept")).meanRange(0)).append(" |\n");
    }
  }

  /** One table, modules down and methods across, then each method's heat map (layers x module types). */
  private static void appendRanks(StringBuilder md, List<Adapter> adapters, int layers, Path docs, int seed)
      throws Exception {
    List<Adapter> adapted = adapters.stream().filter(a -> !a.modules().isEmpty()).toList();
    md.append("\n### Ranks kept per module (seed ").append(seed).append(")\n\n| module |");
    adapted.forEach(a -> md.append(' ').append(a.name()).append(" |"));
    md.append("\n|---|").append("---|".repeat(adapted.size())).append('\n');
    Set<String> modules = new LinkedHashSet<>();
    adapted.forEach(a -> modules.addAll(a.modules().keySet()));
    for (String module : modules) {
      md.append("| ").append(module).append(" |");
      adapted.forEach(a -> md.append(' ').append(a.modules().containsKey(module)
          ? String.valueOf(a.compact().ranks().getOrDefault(module, 0)) : "-").append(" |"));
      md.append('\n');
    }
    md.append('\n');
    for (Adapter a : adapted) {
      String png = "results-ranks-" + a.name() + ".png";
      int rank = ((Number) a.provenance().hyperParameters().get("rank")).intValue();
      Map<String, Integer> trained = new LinkedHashMap<>();
      a.modules().keySet().forEach(k -> trained.put(k, rank));
      Files.write(docs.resolve(png), RankPlot.png(a.name(), layers, trained, a.compact().ranks()));
      md.append("![ranks of ").append(a.name()).append("](").append(png).append(")\n\n");
    }
  }

  /** The seeds trained so far: the {@code s<seed>} directories under the results directory, in order. */
  private static List<Integer> seeds(Path results) throws Exception {
    try (Stream<Path> dirs = Files.list(results)) {
      List<Integer> seeds = dirs.filter(Files::isDirectory).map(p -> p.getFileName().toString())
          .filter(n -> n.matches("s\\d+")).map(n -> Integer.parseInt(n.substring(1))).sorted().toList();
      if (seeds.isEmpty()) {
        throw new IllegalArgumentException("no s<seed> directories in " + results);
      }
      return seeds;
    }
  }

  private static MeanAndSpread spread(List<Adapter> adapters, ToDoubleFunction<Adapter> value) {
    return MeanAndSpread.of(adapters.stream().mapToDouble(value).toArray());
  }

  private static String trainExamples(List<Adapter> adapters) {
    return adapters.stream().map(a -> a.provenance().data().get("train_examples")).filter(x -> x != null)
        .map(x -> String.format(Locale.ROOT, "%,d", ((Number) x).longValue())).findFirst().orElse("?");
  }

  /** Bytes of the compact adapter as ONNX Runtime's {@code .onnx_adapter}: what a deployment ships. */
  static long exportedBytes(Adapter a) {
    return OrtAdapterFile.toBytes(MultiAdapterParameters.of(a.compact())).length;
  }

  private static String kib(long bytes) {
    return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
  }

  private static double num(Map<String, Object> m, String key) {
    Object v = m.get(key);
    return v instanceof Number n ? n.doubleValue() : Double.NaN;
  }

  /** Real (non-padding) tokens per second of ONNX Runtime on the base graph, length-bucketed batches. */
  static double ortTokensPerSecond(BaseModel base, List<String> texts, int maxLength, int batch) throws Exception {
    List<String> sorted = new ArrayList<>(texts);
    try (Tokenizer tok = base.tokenizer(maxLength)) {
      Map<String, Integer> lengths = new LinkedHashMap<>();
      Encoding all = tok.encode(sorted, maxLength);
      for (int i = 0; i < sorted.size(); i++) {
        lengths.put(sorted.get(i), all.tokenCount(i));
      }
      sorted.sort(Comparator.comparingInt(lengths::get));
      List<Encoding> batches = new ArrayList<>();
      for (int i = 0; i < sorted.size(); i += batch) {
        batches.add(tok.encode(sorted.subList(i, Math.min(sorted.size(), i + batch)), maxLength));
      }
      OrtEnvironment env = dev.lora4j.runtime.ExecutionProviders.environment(); // its start-up needs a big stack
      try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
        o.setIntraOpNumThreads(Runtime.getRuntime().availableProcessors());
        try (OrtSession s = env.createSession(base.files().onnx().toString(), o)) {
          run(env, s, batches.subList(0, 4));
          long t0 = System.nanoTime();
          long tokens = run(env, s, batches);
          return tokens / ((System.nanoTime() - t0) / 1e9);
        }
      }
    }
  }

  private static long run(OrtEnvironment env, OrtSession s, List<Encoding> batches) throws Exception {
    long tokens = 0;
    for (Encoding e : batches) {
      try (OnnxTensor ids = OnnxTensor.createTensor(env, LongBuffer.wrap(e.inputIds()), e.shape());
          OnnxTensor mask = OnnxTensor.createTensor(env, LongBuffer.wrap(e.attentionMask()), e.shape());
          OnnxTensor types = OnnxTensor.createTensor(env, LongBuffer.wrap(e.tokenTypeIds()), e.shape());
          OrtSession.Result r = s.run(Map.of("input_ids", ids, "attention_mask", mask, "token_type_ids", types))) {
        for (int i = 0; i < e.batchSize(); i++) {
          tokens += e.tokenCount(i);
        }
      }
    }
    return tokens;
  }
}
