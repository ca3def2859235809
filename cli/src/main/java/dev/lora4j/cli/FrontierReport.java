package dev.lora4j.cli;

import dev.lora4j.runtime.AdapterInfo;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Prediction;
import dev.lora4j.runtime.RuntimeOptions;
import dev.lora4j.trainer.data.LabeledText;
import dev.lora4j.trainer.data.TsvDataset;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Writes the accuracy-against-bytes frontier of {@code docs/RESULTS.md} (issue 13) from the adapters
 * {@code scripts/frontier-train.sh} trained: every point is one exported variant of a trained adapter
 * (as trained, in another dtype, or cut to a rank budget by {@code lora4j export}), scored by the
 * runtime on the reported dev set and on the held-out slice of train that settings are chosen on.
 * Scored points are cached in {@code <frontier-dir>/points.tsv}, so a rerun only scores new ones
 * ({@code -Dfrontier.noScore=true}: none, the report is written from the cache alone).
 * Not a test: it reads real runs.
 *
 * <p>Usage: {@code FrontierReport <frontier-dir> <spec-file> <out.md> <chart.png|-> [frontier|tune]}. The
 * {@code frontier} table (the default) gives dev and held-out accuracy and goes with the chart; the
 * {@code tune} table is the recipe search, which may only look at the held-out slice, so it shows
 * nothing else (and no chart: {@code -}). Each spec line is
 * {@code series | run run ... | export options | budgets}: the runs (names under {@code s<seed>/}) are
 * exported with those options, once per budget when budgets are given ({@code {}} in the options is
 * replaced by the budget), and every result is a point of the series.
 */
public final class FrontierReport {
  private static final int MAX_TOKENS = 64; // the training max length of every frontier run

  private FrontierReport() {}

  record Spec(String series, List<String> runs, String options, List<String> budgets) {
    static Spec parse(String line) {
      String[] f = line.split("\\|", -1);
      if (f.length != 4) {
        throw new IllegalArgumentException("spec line needs 4 '|'-separated fields: " + line);
      }
      return new Spec(f[0].strip(), words(f[1]), f[2].strip(), words(f[3]));
    }

    private static List<String> words(String s) {
      return s.isBlank() ? List.of() : Arrays.asList(s.strip().split("\\s+"));
    }

    /** Export options per variant key; a variant without budget has the key "". */
    Map<String, String> variants() {
      Map<String, String> v = new LinkedHashMap<>();
      if (budgets.isEmpty()) {
        v.put("", options);
      } else {
        budgets.forEach(b -> v.put(b, options.replace("{}", b)));
      }
      return v;
    }
  }

  /** One scored export of one trained adapter. */
  record Point(int seed, String run, String options, long bytes, int ranks, double dev, double holdout) {
    String key() {
      return seed + "\t" + run + "\t" + options;
    }

    String tsv() {
      return String.format(Locale.ROOT, "%s\t%d\t%d\t%.6f\t%.6f", key(), bytes, ranks, dev, holdout);
    }

    static Point parse(String line) {
      String[] f = line.split("\t", -1);
      return new Point(Integer.parseInt(f[0]), f[1], f[2], Long.parseLong(f[3]), Integer.parseInt(f[4]),
          Double.parseDouble(f[5]), Double.parseDouble(f[6]));
    }
  }

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    List<Spec> specs = Files.readAllLines(Path.of(args[1])).stream().map(String::strip)
        .filter(l -> !l.isEmpty() && !l.startsWith("#")).map(Spec::parse).toList();
    Path md = Path.of(args[2]);
    String chart = args[3];
    boolean tune = args.length > 4 && args[4].equals("tune");
    Path cache = dir.resolve("points.tsv");
    Map<String, Point> points = new LinkedHashMap<>();
    if (Files.exists(cache)) {
      Files.readAllLines(cache).stream().filter(l -> !l.isBlank()).map(Point::parse).forEach(p -> points.put(p.key(), p));
    }
    List<LabeledText> dev = TsvDataset.read(DataDefaults.resolve(null, "dev", "dev.tsv")).rows();
    List<LabeledText> holdout = TsvDataset.read(dir.resolve("split/holdout.tsv")).rows();
    // -Dfrontier.noScore=true reports the cached points only (a rerun with a wider spec, no new exports)
    List<Integer> toScore = Boolean.getBoolean("frontier.noScore") ? List.of() : seeds(dir);
    for (int seed : toScore) {
      // one export per distinct option set and seed, holding every run that needs it
      Map<String, Set<String>> byOptions = new LinkedHashMap<>();
      for (Spec s : specs) {
        for (String options : s.variants().values()) {
          for (String run : s.runs()) {
            boolean trained = Files.exists(dir.resolve("s" + seed).resolve(run).resolve("adapter_config.json"));
            if (trained && !points.containsKey(seed + "\t" + run + "\t" + options)) {
              byOptions.computeIfAbsent(options, k -> new LinkedHashSet<>()).add(run);
            }
          }
        }
      }
      for (Map.Entry<String, Set<String>> e : byOptions.entrySet()) {
        for (Point p : score(dir, seed, e.getValue(), e.getKey(), dev, holdout)) {
          points.put(p.key(), p);
          Files.writeString(cache, points.values().stream().map(Point::tsv).collect(Collectors.joining("\n", "", "\n")));
          System.err.printf(Locale.ROOT, "s%d %-16s %-32s %7.1f KiB %4d ranks  dev %.2f%%  holdout %.2f%%%n", seed,
              p.run(), p.options(), p.bytes() / 1024.0, p.ranks(), 100 * p.dev(), 100 * p.holdout());
        }
      }
    }
    List<Row> rows = rows(specs, points);
    write(md, tune ? "tune" : "frontier", table(rows, !tune));
    if (!chart.equals("-")) {
      chart(Path.of(chart), rows);
    }
  }

  /** Exports {@code runs} of one seed with {@code options} (multi format only) and scores each adapter. */
  private static List<Point> score(Path dir, int seed, Set<String> runs, String options, List<LabeledText> dev,
      List<LabeledText> holdout) throws IOException {
    Path out = dir.resolve("exports").resolve("s" + seed).resolve(options.isBlank() ? "as-trained"
        : options.replaceAll("[^A-Za-z0-9.]+", "_").replaceAll("^_|_$", ""));
    List<String> args = new ArrayList<>(List.of("export", "--base", "minilm-l6", "--format", "multi", "--overwrite",
        "--out", out.toString()));
    for (String run : runs) {
      args.add("--adapter");
      args.add(dir.resolve("s" + seed).resolve(run).toString());
    }
    if (!options.isBlank()) {
      args.addAll(Arrays.asList(options.split("\\s+")));
    }
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    int rc = Main.standard().run(args.toArray(String[]::new), new PrintStream(log, true, StandardCharsets.UTF_8),
        new PrintStream(log, true, StandardCharsets.UTF_8));
    if (rc != 0) {
      throw new IllegalStateException("lora4j " + String.join(" ", args) + " failed:\n" + log);
    }
    RuntimeOptions ro = RuntimeOptions.defaults();
    ro = new RuntimeOptions(ro.session(), ro.adapterBudgetBytes(), MAX_TOKENS, ro.maxTextChars(), ro.maxBatch(),
        ro.batchWindow(), ro.batchRows(), ro.queueCapacity());
    List<Point> scored = new ArrayList<>();
    try (AdapterRuntime runtime = AdapterRuntime.open(out, ro)) {
      for (String run : runs) {
        AdapterInfo info = runtime.load(run);
        long bytes = Files.size(out.resolve(run + ".onnx_adapter"));
        int ranks = info.ranks().values().stream().mapToInt(Integer::intValue).sum();
        scored.add(new Point(seed, run, options, bytes, ranks, accuracy(runtime, run, dev),
            accuracy(runtime, run, holdout)));
      }
    }
    return scored;
  }

  /** Share of {@code rows} the runtime labels right with {@code adapter}, 64 texts per call (also the demo's). */
  static double accuracy(AdapterRuntime runtime, String adapter, List<LabeledText> rows) {
    int right = 0;
    for (int i = 0; i < rows.size(); i += 64) {
      List<LabeledText> batch = rows.subList(i, Math.min(rows.size(), i + 64));
      List<Prediction> p = runtime.predict(adapter, batch.stream().map(LabeledText::text).toList());
      for (int j = 0; j < p.size(); j++) {
        right += p.get(j).label().equals(batch.get(j).label()) ? 1 : 0;
      }
    }
    return (double) right / rows.size();
  }

  /** One point of the report: a variant of a run, over the seeds present. */
  record Row(String series, String run, String budget, String options, MeanAndSpread kib, MeanAndSpread ranks, MeanAndSpread dev,
      MeanAndSpread holdout) {}

  private static List<Row> rows(List<Spec> specs, Map<String, Point> points) {
    List<Row> rows = new ArrayList<>();
    for (Spec s : specs) {
      for (Map.Entry<String, String> v : s.variants().entrySet()) {
        for (String run : s.runs()) {
          List<Point> ps = points.values().stream().filter(p -> p.run().equals(run) && p.options().equals(v.getValue()))
              .toList();
          if (ps.isEmpty()) {
            continue;
          }
          rows.add(new Row(s.series(), run, v.getKey(), v.getValue(),
              MeanAndSpread.of(ps.stream().mapToDouble(p -> p.bytes() / 1024.0).toArray()),
              MeanAndSpread.of(ps.stream().mapToDouble(Point::ranks).toArray()),
              MeanAndSpread.of(ps.stream().mapToDouble(p -> 100 * p.dev()).toArray()),
              MeanAndSpread.of(ps.stream().mapToDouble(p -> 100 * p.holdout()).toArray())));
        }
      }
    }
    return rows;
  }

  /**
   * The report's table. The recipe search's ({@code withDev} false) shows held-out accuracy only:
   * settings are chosen on it, and the dev set is what the frontier reports.
   */
  private static String table(List<Row> rows, boolean withDev) {
    StringBuilder md = new StringBuilder();
    md.append(withDev ? "| series | run | export options | adapter KiB | ranks kept | dev accuracy (%) "
        + "| held-out accuracy (%) | seeds |\n|---|---|---|---|---|---|---|---|\n"
        : "| settings | run | export options | adapter KiB | ranks kept | held-out accuracy (%) | seeds |\n"
        + "|---|---|---|---|---|---|---|\n");
    for (Row r : rows) {
      md.append("| ").append(r.series()).append(" | ").append(r.run()).append(" | ")
          .append(r.options().isBlank() ? "(as trained)" : "`" + r.options() + "`").append(" | ")
          .append(r.kib().meanRange(1)).append(" | ").append(r.ranks().meanRange(0)).append(" | ");
      if (withDev) {
        md.append(r.dev().meanSd(2)).append(" | ");
      }
      md.append(r.holdout().meanSd(2)).append(" | ").append(r.holdout().n()).append(" |\n");
    }
    return md.toString();
  }

  private static void write(Path md, String name, String table) throws IOException {
    String begin = "<!-- begin " + name + " table -->\n";
    String end = "<!-- end " + name + " table -->\n";
    String doc = Files.exists(md) ? Files.readString(md) : "";
    int b = doc.indexOf(begin);
    int e = doc.indexOf(end);
    String updated = b >= 0 && e > b ? doc.substring(0, b + begin.length()) + table + doc.substring(e)
        : doc + "\n" + begin + table + end;
    Files.writeString(md, updated);
  }

  private static void chart(Path png, List<Row> rows) throws IOException {
    XYChart c = new XYChartBuilder().width(1100).height(760).title("SST-2 dev accuracy against exported adapter size "
        + "(mean ± sd over seeds)").xAxisTitle("exported .onnx_adapter (KiB, log scale)").yAxisTitle("dev accuracy (%)")
        .build();
    c.getStyler().setXAxisLogarithmic(true);
    c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS); // inside, it hid points
    c.getStyler().setMarkerSize(7);
    for (String s : rows.stream().map(Row::series).distinct().toList()) {
      List<Row> rs = rows.stream().filter(r -> r.series().equals(s))
          .sorted((a, b) -> Double.compare(a.kib().mean(), b.kib().mean())).toList();
      double[] x = rs.stream().mapToDouble(r -> r.kib().mean()).toArray();
      double[] y = rs.stream().mapToDouble(r -> r.dev().mean()).toArray();
      double[] err = rs.stream().mapToDouble(r -> Double.isNaN(r.dev().sd()) ? 0 : r.dev().sd()).toArray();
      XYSeries xy = c.addSeries(s, x, y, err);
      boolean reference = s.startsWith("LoRA (");
      // plain LoRA is the reference line every other method has to beat; the rest are markers joined thinly
      xy.setLineWidth(reference ? 3f : 1f);
      xy.setMarker(reference ? SeriesMarkers.SQUARE : SeriesMarkers.CIRCLE);
    }
    BitmapEncoder.saveBitmap(c, png.toString(), BitmapEncoder.BitmapFormat.PNG);
  }

  private static List<Integer> seeds(Path dir) throws IOException {
    try (var s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.matches("s\\d+")).map(n -> Integer.parseInt(n.substring(1)))
          .sorted().toList();
    }
  }
}
