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
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes {@code docs/RESULTS.md} from adapters trained by {@code scripts/train-results.sh}: dev
 * accuracy, ranks kept (table and heat map per adapter), trainable parameters, exported adapter size,
 * training and wall time and training tokens/s per method, and the
 * training-versus-inference throughput line (ONNX Runtime on the same base model and machine).
 * Not a test: it reads real runs.
 *
 * <p>Usage: {@code TrainResults <results-dir> <out.md> <commands-file> <method-dir>...}
 */
public final class TrainResults {
  private TrainResults() {}

  public static void main(String[] args) throws Exception {
    Path results = Path.of(args[0]);
    Path out = Path.of(args[1]);
    String commands = Files.readString(Path.of(args[2]));
    List<Adapter> adapters = new ArrayList<>();
    for (int i = 3; i < args.length; i++) {
      Path dir = results.resolve(args[i]);
      if (Files.isDirectory(dir)) {
        adapters.add(PeftAdapters.read(dir));
      } else {
        System.err.println("skipping " + dir + ": not trained (yet)");
      }
    }
    BaseModel base = BaseModel.open("minilm-l6");
    TsvDataset data = TsvDataset.read(DataDefaults.resolve(null, "train", "train.tsv"));
    double inference = ortTokensPerSecond(base, data.texts().subList(0, 2048), 64, 32);

    StringBuilder md = new StringBuilder();
    md.append("## Training results: SST-2 on all-MiniLM-L6-v2\n\n");
    md.append("Produced by `scripts/train-results.sh` on this machine (")
        .append(Runtime.getRuntime().availableProcessors()).append(" CPU cores, no GPU, other builds running "
            + "beside it, so times are pessimistic). Dev set: ../shared/data/sst2/dev.tsv (1,821 sentences). "
            + "Reference: a linear probe on frozen MiniLM (logistic regression) reaches 81.1%. "
            + "Every run: seed 42, the same " + trainExamples(adapters) + " training sentences (seeded subset of "
            + "SST-2 train), max length 64, batch 32; options per run under Commands.\n\n");
    md.append("| method | dev accuracy | ranks kept / initial | trainable parameters | exported adapter | steps | "
        + "train time | wall time | training tokens/s |\n|---|---|---|---|---|---|---|---|---|\n");
    for (Adapter a : adapters) {
      Map<String, Object> m = a.provenance().metrics();
      Map<String, Object> h = a.provenance().hyperParameters();
      String label = a.provenance().method() + ("probe".equals(a.provenance().method()) ? "" : " r=" + h.get("rank"));
      md.append(String.format(Locale.ROOT, "| %s | %.2f%% | %s / %s | %,d | %s | %s | %.0f s | %.0f s | %.0f |%n",
          label, 100 * num(m, "dev_accuracy"), m.get("ranks_kept"), m.get("ranks_initial"),
          (long) num(m, "trainable_parameters"), kib(exportedBytes(a)), m.get("steps"), num(m, "train_seconds"),
          num(m, "wall_seconds"), num(m, "train_tokens_per_second")));
    }
    md.append("\nExported adapter: the compact adapter (dead ranks dropped, gates / T / scaling folded into B) as "
        + "an ONNX Runtime `.onnx_adapter` file, classifier head included. Wall time: the whole `train` call "
        + "(tokenizing, training, evaluations, rank sweeps).\n");
    md.append("\n### Ranks kept per module\n\n");
    int layers = base.description().spec().layers();
    Path docs = out.toAbsolutePath().getParent();
    for (Adapter a : adapters) {
      if (a.modules().isEmpty()) {
        continue;
      }
      String png = "results-ranks-" + a.name() + ".png";
      int rank = ((Number) a.provenance().hyperParameters().get("rank")).intValue();
      Map<String, Integer> trained = new LinkedHashMap<>();
      a.modules().keySet().forEach(k -> trained.put(k, rank));
      Files.createDirectories(docs);
      Files.write(docs.resolve(png), RankPlot.png(a.name(), layers, trained, a.compact().ranks()));
      md.append("**").append(a.name()).append("** (").append(a.provenance().method()).append(")\n\n")
          .append("![ranks of ").append(a.name()).append("](").append(png).append(")\n\n")
          .append("| module | ranks |\n|---|---|\n");
      a.modules().keySet().forEach(k -> md.append("| ").append(k).append(" | ")
          .append(a.compact().ranks().getOrDefault(k, 0)).append(" |\n"));
      md.append('\n');
    }
    md.append("### Training vs inference throughput\n\n");
    double best = adapters.stream().filter(a -> !"probe".equals(a.provenance().method()))
        .mapToDouble(a -> num(a.provenance().metrics(), "train_tokens_per_second")).max().orElse(0);
    md.append(String.format(Locale.ROOT, "ONNX Runtime inference (base graph, 2 threads, batches of 32, max length "
        + "64, 2,048 SST-2 train sentences): %.0f tokens/s. Fastest adapter training above: %.0f tokens/s "
        + "(forward + backward + optimizer). Ratio %.2f (goal >= 0.30).%n%n", inference, best,
        inference > 0 ? best / inference : 0));
    md.append("### Hyper-parameters\n\n");
    for (Adapter a : adapters) {
      md.append("- **").append(a.name()).append("**: ").append(a.provenance().hyperParameters()).append('\n');
    }
    md.append("\n### Commands\n\n```\n").append(commands.strip()).append("\n```\n");
    Files.createDirectories(out.toAbsolutePath().getParent());
    dev.lora4j.cli.bench.ResultsDoc.replaceSection(out, "training", md.toString());
    System.out.print(md);
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
      OrtEnvironment env = OrtEnvironment.getEnvironment();
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
