package dev.lora4j.cli;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Prediction;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code lora4j run}: answer texts with one adapter through the runtime. */
final class RunCommand implements Command {
  private static final int CHUNK = 64;

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
        TSV file (header line; the 'sentence' column, or the first; a 'label' column if present) and
        reports accuracy when labels are there.
        Examples:
          lora4j run --base export/sst2 --adapter sst2-sora "a gripping, funny film"
          lora4j run --base export/sst2 --adapter sst2-sora --input ../shared/data/sst2/dev.tsv""";
  }

  @Override
  public Options options() {
    Options o = new Options();
    RuntimeOptionsCli.add(o);
    o.addOption(Option.builder().longOpt("adapter").hasArg().argName("name|file")
        .desc("An adapter name in the export directory, or a path to an .onnx_adapter file.").get());
    o.addOption(Option.builder().longOpt("input").hasArg().argName("file.tsv")
        .desc("Classify every row of a TSV file instead of the arguments.").get());
    return o;
  }

  @Override
  public int run(CommandLine line, PrintStream out) {
    Path base = RuntimeOptionsCli.requireBase(line);
    if (!line.hasOption("adapter")) {
      throw new IllegalArgumentException("--adapter is required");
    }
    try (AdapterRuntime rt = AdapterRuntime.open(base, RuntimeOptionsCli.parse(line))) {
      String name = load(rt, line.getOptionValue("adapter"));
      if (line.hasOption("input")) {
        evaluate(rt, name, Path.of(line.getOptionValue("input")), out);
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

  private static void evaluate(AdapterRuntime rt, String name, Path tsv, PrintStream out) {
    List<String[]> rows = readTsv(tsv);
    int correct = 0;
    int labelled = 0;
    for (int start = 0; start < rows.size(); start += CHUNK) {
      List<String[]> chunk = rows.subList(start, Math.min(rows.size(), start + CHUNK));
      List<Prediction> ps = rt.predict(name, chunk.stream().map(r -> r[0]).toList());
      for (int i = 0; i < chunk.size(); i++) {
        String gold = chunk.get(i)[1];
        if (gold != null) {
          labelled++;
          correct += ps.get(i).label().equals(gold) ? 1 : 0;
        } else {
          out.println(format(ps.get(i), chunk.get(i)[0]));
        }
      }
    }
    if (labelled > 0) {
      out.printf(Locale.ROOT, "accuracy %.2f%% (%d of %d) on %s with adapter %s%n", 100.0 * correct / labelled,
          correct, labelled, tsv, name);
    }
  }

  /** Rows as {text, label-or-null}. */
  static List<String[]> readTsv(Path tsv) {
    List<String> lines;
    try {
      lines = Files.readAllLines(tsv, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new Lora4jException(tsv + ": cannot read (" + e.getMessage() + ")", e);
    }
    if (lines.isEmpty()) {
      throw new Lora4jException(tsv + ": empty file (expected a header line such as 'sentence<TAB>label')");
    }
    List<String> header = List.of(lines.get(0).split("\t", -1));
    int text = Math.max(0, header.indexOf("sentence"));
    int label = header.indexOf("label");
    List<String[]> rows = new ArrayList<>();
    for (int i = 1; i < lines.size(); i++) {
      if (lines.get(i).isBlank()) {
        continue;
      }
      String[] f = lines.get(i).split("\t", -1);
      if (f.length != header.size()) {
        throw new Lora4jException(tsv + ": line " + (i + 1) + " has " + f.length + " columns, the header has "
            + header.size());
      }
      rows.add(new String[] {f[text], label >= 0 ? f[label] : null});
    }
    return rows;
  }
}
