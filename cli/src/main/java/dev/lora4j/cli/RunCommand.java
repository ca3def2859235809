package dev.lora4j.cli;

import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Prediction;
import dev.lora4j.runtime.RuntimeOptions;
import dev.lora4j.trainer.data.LabelSet;
import dev.lora4j.trainer.data.LabeledText;
import dev.lora4j.trainer.data.TsvDataset;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code lora4j run}: answer texts with one adapter through the runtime. */
final class RunCommand implements Command {
  private static final int DEFAULT_BATCH = 64;
  /** How --adapter names an adapter packaged by {@code lora4j package}, found on the class path. */
  static final String CLASSPATH = "classpath:";

  @Override
  public String name() {
    return "run";
  }

  @Override
  public String arguments() {
    return "[text ...]";
  }

  @Override
  public String summary() {
    return "Classify texts (arguments or a TSV file) with an exported adapter.";
  }

  @Override
  public String description() {
    return """
        Runs texts through the runtime: the export's multi-adapter base graph with the adapter
        activated. Prints the label and every label's probability per text. With --input, reads a
        TSV file (header line; the 'sentence' or 'text' column; a 'label' column if present),
        reports accuracy when labels are there, and how many texts a second the runtime answered
        (tokenizing included; loading the base and adapter not).
        Examples:
          lora4j run --base export/sst2 --adapter sst2-sora "a gripping, funny film"
          lora4j run --base export/sst2 --adapter sst2-sora --input ../shared/data/sst2/dev.tsv""";
  }

  @Override
  public Options options() {
    Options o = new Options();
    RuntimeOptionsCli.add(o);
    o.addOption(Option.builder().longOpt("adapter").hasArg().argName("name|file")
        .desc("An adapter name in the export directory, a path to an .onnx_adapter file, or classpath:<name>"
            + " (a jar from 'lora4j package' on the class path; ./lora4j adds LORA4J_CLASSPATH).").get());
    o.addOption(Option.builder().longOpt("input").hasArg().argName("file.tsv")
        .desc("Classify every row of a TSV file instead of the arguments.").get());
    o.addOption(Option.builder().longOpt("batch").hasArg().argName("n")
        .desc("With --input: texts per run, in file order (default " + DEFAULT_BATCH + ").").get());
    return o;
  }

  @Override
  public int run(CommandLine line, PrintStream out) {
    if (RuntimeOptionsCli.classpathBase(line) == null) {
      RuntimeOptionsCli.requireBase(line);
    }
    if (!line.hasOption("adapter")) {
      throw new IllegalArgumentException("--adapter is required");
    }
    RuntimeOptions options = RuntimeOptionsCli.parse(line);
    int batch = OptionValues.integer(line, "batch", DEFAULT_BATCH);
    if (batch < 1 || batch > options.maxBatch()) {
      throw new IllegalArgumentException("--batch must be between 1 and " + options.maxBatch() + ", not " + batch);
    }
    try (AdapterRuntime rt = RuntimeOptionsCli.open(line, options)) {
      String name = load(rt, line.getOptionValue("adapter"));
      if (line.hasOption("input")) {
        evaluate(rt, name, Path.of(line.getOptionValue("input")), batch, out);
        return 0;
      }
      List<String> texts = line.getArgList();
      if (texts.isEmpty()) {
        throw new IllegalArgumentException("give texts to classify, or --input file.tsv");
      }
      List<Prediction> ps = rt.predict(name, texts);
      for (int i = 0; i < texts.size(); i++) {
        out.println(format(ps.get(i), texts.get(i)));
      }
      return 0;
    }
  }

  /** Loads the adapter the user named and returns its name in the runtime. */
  static String load(AdapterRuntime rt, String adapter) {
    if (adapter.startsWith(CLASSPATH)) { // a jar 'lora4j package' wrote, on the class path
      String name = adapter.substring(CLASSPATH.length());
      rt.loadFromClasspath(name);
      return name;
    }
    if (adapter.endsWith(OrtAdapterFile.EXTENSION)) {
      Path file = Path.of(adapter);
      String f = file.getFileName().toString();
      String name = f.substring(0, f.length() - OrtAdapterFile.EXTENSION.length());
      rt.load(name, file);
      return name;
    }
    rt.load(adapter);
    return adapter;
  }

  static String format(Prediction p, String text) {
    StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-10s", p.label()));
    float[] pr = p.probabilities();
    for (int i = 0; i < pr.length; i++) {
      sb.append(String.format(Locale.ROOT, " p(%s)=%.3f", p.labels().get(i), pr[i]));
    }
    return sb.append("  ").append(text).toString();
  }

  private static void evaluate(AdapterRuntime rt, String name, Path tsv, int batch, PrintStream out) {
    List<LabeledText> rows = TsvDataset.readTexts(tsv).rows();
    // the check eval makes (Examples.of): a gold label the adapter cannot answer is a wrong file,
    // not a wrong answer, so it is refused before anything runs instead of scoring 0%
    List<String> labels = rt.adapters().stream().filter(a -> a.name().equals(name)).findFirst().orElseThrow()
        .labels();
    if (!labels.isEmpty()) { // an embedding adapter has none; predict refuses it with its own message
      LabelSet known = new LabelSet(labels);
      for (LabeledText row : rows) {
        if (row.label() != null) {
          known.index(row, tsv);
        }
      }
    }
    int correct = 0;
    int labelled = 0;
    long nanos = 0; // predict calls only: printing answers is not the runtime's time
    for (int start = 0; start < rows.size(); start += batch) {
      List<LabeledText> chunk = rows.subList(start, Math.min(rows.size(), start + batch));
      long t0 = System.nanoTime();
      List<Prediction> ps = rt.predict(name, chunk.stream().map(LabeledText::text).toList());
      nanos += System.nanoTime() - t0;
      for (int i = 0; i < chunk.size(); i++) {
        String gold = chunk.get(i).label();
        if (gold != null) {
          labelled++;
          correct += ps.get(i).label().equals(gold) ? 1 : 0;
        } else {
          out.println(format(ps.get(i), chunk.get(i).text()));
        }
      }
    }
    if (labelled > 0) {
      out.printf(Locale.ROOT, "accuracy %.2f%% (%d of %d) on %s with adapter %s%n", 100.0 * correct / labelled,
          correct, labelled, tsv, name);
    }
    double seconds = nanos / 1e9;
    out.printf(Locale.ROOT, "%d texts in %.2f s: %.0f texts/s (batches of %d; tokenizing included, loading not)%n",
        rows.size(), seconds, rows.size() / Math.max(seconds, 1e-9), batch);
  }
}
