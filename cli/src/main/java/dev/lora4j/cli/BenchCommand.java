package dev.lora4j.cli;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.base.BaseModelCatalog;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.trainer.data.TsvDataset;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code lora4j bench}: the runtime benchmark, written into docs/RESULTS.md. */
final class BenchCommand implements Command {
  static final List<String> FALLBACK_SENTENCES = List.of(
      "a gripping , funny and finally moving film", "the plot is a mess and the acting is worse",
      "an intelligent , heartfelt story", "tedious , predictable and far too long");

  @Override
  public String name() {
    return "bench";
  }

  @Override
  public String arguments() {
    return "";
  }

  @Override
  public String summary() {
    return "Measure the runtime (switching, mixed batches, overhead) and write docs/RESULTS.md.";
  }

  @Override
  public String description() {
    return """
        Exports eight synthetic adapters (ranks 4-16 on query/value) for the base model, then times,
        in one run: factored vs merged graphs; a per-request adapter switch vs reloading a merged
        model; an 8-adapter mixed batch vs a single-adapter batch and vs the 8 adapters one after
        another; memory per loaded adapter; the runtime vs a bare OrtSession on the merged model; and
        the export itself. Prints a table of ratios with their goals, replaces the 'runtime' section
        of <docs>/RESULTS.md and writes <docs>/bench-runtime.png. Timings, not a test: run it on an
        otherwise idle machine.
        Then the float32 base against the int8 base (export --quantize int8) in the runtime:
        throughput at batch 1 and 32, interleaved, and accuracy on --data for each --adapter.
        With --overhead it only breaks the runtime's batch-1 time down, interleaved in one run: bare
        merged graph, the same through a thread hop, factored and multi graphs, predict from a plain
        thread and from a runtime thread, then tokenizing, tensors, RunOptions and outputs alone.
        Example: lora4j bench --base minilm-l6""";
  }

  @Override
  public Options options() {
    Options o = new Options();
    o.addOption(Option.builder().longOpt("base").hasArg().argName("model")
        .desc("Base model (default minilm-l6).").get());
    o.addOption(Option.builder().longOpt("data").hasArg().argName("file.tsv")
        .desc("Sentences to run (first column after the header); default ../shared/data/sst2/dev.tsv.").get());
    o.addOption(Option.builder().longOpt("calibration").hasArg().argName("file.tsv")
        .desc("Texts the int8 base is calibrated on, as export --calibration takes them (the first "
            + ExportCommand.CALIBRATION_TEXTS + "); default ../shared/data/sst2/train.tsv when present, else none.")
        .get());
    o.addOption(Option.builder().longOpt("runs").hasArg().argName("n").desc("Timed runs per measure (default 30).").get());
    o.addOption(Option.builder().longOpt("adapter").hasArg().argName("file")
        .desc("Trained .onnx_adapter (exported for the same base) whose --data accuracy is compared on the float32 and "
            + "int8 bases; repeat for several.").get());
    o.addOption(Option.builder().longOpt("overhead")
        .desc("Only break the runtime's batch-1 time down against a bare OrtSession (interleaved runs; "
            + "--runs rounds, default 200) and print it; RESULTS.md is left alone.").get());
    o.addOption(Option.builder().longOpt("threads").hasArg().argName("n")
        .desc("With --overhead: ONNX Runtime intra-op threads for every session (default: ONNX Runtime's own "
            + "choice); with 1 the whole run is on Java threads, so the CPU-time column covers it.").get());
    o.addOption(Option.builder().longOpt("docs").hasArg().argName("dir")
        .desc("Where RESULTS.md and the chart go (default docs).").get());
    return o;
  }

  @Override
  public java.util.Set<String> repeatable() {
    return java.util.Set.of("adapter");
  }

  @Override
  public int run(CommandLine line, PrintStream out) throws Exception {
    // checked before the minutes of export and timing that would end in an index error at the first median
    int runs = OptionValues.integer(line, "runs", line.hasOption("overhead") ? 200 : 30);
    if (runs < 1) {
      throw new Lora4jException("--runs must be at least 1, not " + runs);
    }
    int overheadThreads = line.hasOption("overhead") ? RuntimeOptionsCli.threads(line) : 0;
    BaseModelFiles base = BaseModelCatalog.atDefaultCache().resolve(line.getOptionValue("base"));
    Path data = Path.of(line.getOptionValue("data", "../shared/data/sst2/dev.tsv"));
    List<String> sentences = new ArrayList<>();
    if (Files.isRegularFile(data)) {
      // sentences of median length: every compared run then pads to about the same length, so the
      // ratios measure batching and switching, not how ragged one batch happens to be
      List<String> all = new ArrayList<>(TsvDataset.readTexts(data).texts());
      all.sort(java.util.Comparator.comparingInt((String x) -> x.split(" ").length).thenComparing(x -> x));
      int from = Math.max(0, all.size() / 2 - 16);
      sentences.addAll(all.subList(from, Math.min(all.size(), from + 32)));
    } else {
      while (sentences.size() < 32) {
        sentences.addAll(FALLBACK_SENTENCES);
      }
    }
    Path work = Files.createTempDirectory("lora4j-bench");
    try {
      if (line.hasOption("overhead")) {
        new BatchOneOverhead(base, sentences, runs, overheadThreads, out).run(work);
        return 0;
      }
      RuntimeBenchmark.Report r = new RuntimeBenchmark(base, sentences, runs, s -> out.println("bench: " + s)).run(work);
      r = withInt8(r, base, data, line, sentences, runs, work, out);
      out.printf(Locale.ROOT, "%n%-62s %12s  %-9s %s%n", "measure", "value", "goal", "met");
      for (RuntimeBenchmark.Row row : r.rows()) {
        out.printf(Locale.ROOT, "%-62s %10.3f %-2s %-9s %s%n", row.what(), row.value(), row.unit(), row.goal(),
            row.goal().startsWith("(") ? "" : row.met() ? "yes" : "NO");
      }
      Path docs = Path.of(line.getOptionValue("docs", "docs"));
      Files.createDirectories(docs);
      ResultsDoc.replaceSection(docs.resolve("RESULTS.md"), "runtime",
          RuntimeBenchmark.markdown(r, "./lora4j bench --runs " + runs));
      BenchCharts.write(docs.resolve("bench-runtime.png"), r.rows());
      out.println("\nwrote " + docs.resolve("RESULTS.md") + " and " + docs.resolve("bench-runtime.png"));
      return 0;
    } finally {
      AtomicFiles.deleteRecursively(work);
    }
  }

  /** --calibration's texts, else SST-2's training sentences when present (not --data: that is scored), else none. */
  private static List<String> calibration(CommandLine line) {
    Path file = line.hasOption("calibration") ? Path.of(line.getOptionValue("calibration"))
        : DataDefaults.SST2.resolve("train.tsv");
    if (!line.hasOption("calibration") && !Files.isRegularFile(file)) {
      return List.of();
    }
    return ExportCommand.calibrationTexts(file);
  }

  /** Appends the float32 vs int8 base rows, measured on the export the runtime benchmark wrote. */
  private static RuntimeBenchmark.Report withInt8(RuntimeBenchmark.Report r, BaseModelFiles base, Path data,
      CommandLine line,
      List<String> sentences, int runs, Path work, PrintStream out) throws Exception {
    List<dev.lora4j.trainer.data.LabeledText> labelled = Files.isRegularFile(data)
        ? TsvDataset.readTexts(data).rows() : List.of();
    List<Path> adapters = line.hasOption("adapter")
        ? java.util.Arrays.stream(line.getOptionValues("adapter")).map(Path::of).toList() : List.of();
    RuntimeBenchmark.Report q = new Int8Benchmark(sentences, labelled, adapters, calibration(line), runs,
        s -> out.println("bench: " + s)).run(base, work);
    List<RuntimeBenchmark.Row> rows = new ArrayList<>(r.rows());
    rows.addAll(q.rows());
    java.util.Map<String, Double> t = new java.util.LinkedHashMap<>(r.timingsMs());
    t.putAll(q.timingsMs());
    return new RuntimeBenchmark.Report(r.base(), r.device(), r.batch(), rows, t);
  }
}
