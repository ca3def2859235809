package dev.lora4j.cli;

import dev.lora4j.exporter.ExportBundle;
import dev.lora4j.exporter.ExportFormat;
import dev.lora4j.exporter.ExportRequest;
import dev.lora4j.models.export.AdapterFiles;
import dev.lora4j.models.testing.SyntheticAdapters;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Device;
import dev.lora4j.runtime.Prediction;
import dev.lora4j.runtime.RuntimeOptions;
import dev.lora4j.trainer.data.LabeledText;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The int8 base against the float32 base, both served by the runtime from one export (written with
 * {@code --quantize int8}): throughput at batch 1 and batch 32 taken interleaved (float, int8,
 * float, int8, ...) so that a change of load hits both sides alike, and the accuracy of each path on
 * a labelled file for every adapter given (or, without one, how often the two agree on the argmax).
 */
final class Int8Benchmark {
  private static final int ROUNDS = 4;
  private static final int CHUNK = 64;

  private final List<String> sentences;
  private final List<LabeledText> labelled;
  private final List<Path> adapters;
  private final List<String> calibration;
  private final int runs;
  private final Consumer<String> progress;

  /**
   * @param sentences texts for timing (batch 32 takes the first 32, batch 1 cycles through them)
   * @param labelled texts with gold labels for accuracy; may be empty
   * @param adapters {@code .onnx_adapter} files (with their sidecars) to score; may be empty
   * @param calibration texts the int8 base is calibrated on ({@code export --calibration}); may be empty
   */
  public Int8Benchmark(List<String> sentences, List<LabeledText> labelled, List<Path> adapters,
      List<String> calibration, int runs, Consumer<String> progress) {
    this.sentences = List.copyOf(sentences);
    this.labelled = List.copyOf(labelled);
    this.adapters = List.copyOf(adapters);
    this.calibration = List.copyOf(calibration);
    this.runs = runs;
    this.progress = progress;
  }

  /**
   * Exports the multi-adapter graph with its int8 variant and one synthetic adapter (rank 8 on
   * query and value) into {@code work}, untimed, then compares the two bases on it. The graphs branch
   * on the modules the synthetic adapter and the scored adapters change.
   */
  public RuntimeBenchmark.Report run(BaseModelFiles base, Path work) throws Exception {
    EncoderDescription d = EncoderDescription.of(OnnxModel.read(base.onnx()));
    Map<String, Integer> ranks = new LinkedHashMap<>();
    d.resolveTargets("query,value").forEach(m -> ranks.put(m.name(), 8));
    String synthetic = "int8-bench";
    Path export = work.resolve("int8-export");
    // branches where the synthetic adapter and every --adapter scored below need them, no more:
    // what an export of these adapters serves with (export --adapter-modules used)
    java.util.Set<String> modules = new java.util.LinkedHashSet<>(ranks.keySet());
    for (Path a : adapters) {
      AdapterFiles.read(a).compact().modules().keySet().stream()
          .filter(m -> d.modules().stream().anyMatch(x -> x.name().equals(m))).forEach(modules::add);
    }
    progress.accept("exporting the multi-adapter graph with --quantize int8 (branches on " + modules.size() + " of "
        + d.modules().size() + " modules; " + (calibration.isEmpty() ? "not calibrated"
        : "calibrated on " + calibration.size() + " texts") + ")");
    ExportBundle.export(ExportRequest.of(base, List.of(SyntheticAdapters.classifier(d, base.ref(), synthetic, ranks, 2,
        TaskHead.Pooling.MEAN, 3)), EnumSet.of(ExportFormat.MULTI), export).withInt8Base(true)
        .withInt8Calibration(calibration).withAdapterModules(String.join(",", modules)), line -> { });
    RuntimeBenchmark.Report r = run(export, synthetic, base.id());
    // the int8 rows are read against how the int8 base was made: calibration costs speed, buys accuracy
    List<RuntimeBenchmark.Row> rows = new ArrayList<>(r.rows());
    rows.add(new RuntimeBenchmark.Row("int8 base calibrated on (export --calibration; 0: not calibrated)",
        calibration.size(), "texts", "(context)", true));
    return new RuntimeBenchmark.Report(r.base(), r.device(), r.batch(), rows, r.timingsMs());
  }

  /** Rows and median timings of the comparison; {@code synthetic} names an adapter of {@code export}. */
  RuntimeBenchmark.Report run(Path export, String synthetic, String baseId) throws Exception {
    List<RuntimeBenchmark.Row> rows = new ArrayList<>();
    Map<String, Double> t = new LinkedHashMap<>();
    int batch = Math.min(32, sentences.size());
    List<String> texts = sentences.subList(0, batch);
    RuntimeOptions options = RuntimeOptions.defaults().withDevice(Device.AUTO).withMaxBatch(Math.max(batch, CHUNK));
    double loadBefore = load1();
    Device device;
    // two runtimes of each base, opened float32, int8, int8, float32, timed alike and averaged: one
    // session's speed depends on where its memory landed and on how many sessions the process made
    // before it (up to ~5 %), which more samples of that one session cannot average out
    try (AdapterRuntime f32 = AdapterRuntime.open(export, options);
        AdapterRuntime i8 = AdapterRuntime.open(export, options.withInt8Base(true));
        AdapterRuntime i8b = AdapterRuntime.open(export, options.withInt8Base(true));
        AdapterRuntime f32b = AdapterRuntime.open(export, options)) {
      device = i8.device();
      for (AdapterRuntime rt : List.of(f32, i8, i8b, f32b)) {
        rt.load(synthetic);
      }
      List<AdapterRuntime> f32s = List.of(f32, f32b);
      List<AdapterRuntime> i8s = List.of(i8, i8b);
      progress.accept("float32 vs int8 base, batch 1 and " + batch + ", " + 2 * ROUNDS + " and " + ROUNDS
          + " interleaved rounds");
      // timed where the server runs a request: on a runtime thread, so the call runs in place; the
      // hand-off an application's own thread pays (the same for both bases) is the context row after
      for (int b : new int[] {1, batch}) {
        rows.add(inPlace(() -> compare(f32s, i8s, synthetic, texts, b, "", ">= 1.8x", t)));
      }
      rows.add(compare(f32s, i8s, synthetic, texts, 1, ", called from an application thread (a hand-off each call)",
          "(context)", t));
      oneThreadPerSession(export, synthetic, options, texts, rows, t);
      List<LabeledText> scored = labelled.stream().filter(r -> r.label() != null).toList();
      if (!adapters.isEmpty() && !scored.isEmpty()) {
        for (Path a : adapters) {
          String name = load(f32, a);
          load(i8, a);
          progress.accept("accuracy of " + name + " on " + scored.size() + " labelled texts, float32 and int8");
          Score s = score(f32, i8, name, scored);
          rows.add(new RuntimeBenchmark.Row(String.format(Locale.ROOT,
              "int8 - float32 accuracy, %s (%.2f%% vs %.2f%%, agree %.2f%%)", name, s.int8(), s.f32(), s.agree()),
              s.int8() - s.f32(), "pt", ">= -0.5 pt", s.int8() - s.f32() >= -0.5));
        }
      } else {
        List<LabeledText> some = scored.isEmpty()
            ? sentences.stream().map(x -> new LabeledText(x, null, 0)).toList()
            : scored.subList(0, Math.min(256, scored.size()));
        Score s = score(f32, i8, synthetic, some);
        rows.add(new RuntimeBenchmark.Row("int8 / float32 argmax agreement, synthetic adapter " + synthetic
            + " (give --adapter for accuracy)", s.agree(), "%", "(context)", true));
      }
    }
    double loadAfter = load1();
    rows.add(new RuntimeBenchmark.Row(String.format(Locale.ROOT, "load average (1 min) before / after the int8 runs, "
        + "%.1f / %.1f on %d cores", loadBefore, loadAfter, Runtime.getRuntime().availableProcessors()), loadAfter,
        "", "(context)", true));
    return new RuntimeBenchmark.Report(baseId, device, batch, rows, t);
  }

  /** Interleaved rounds of float32 and int8 at batch {@code b} on the calling thread: the ratio row. */
  private RuntimeBenchmark.Row compare(List<AdapterRuntime> f32s, List<AdapterRuntime> i8s, String adapter,
      List<String> texts, int b, String how, String goal, Map<String, Double> t) throws Exception {
    double f = 0;
    double q = 0;
    double lo = Double.MAX_VALUE;
    double hi = 0;
    // at batch 1, each block first runs every text once untimed, then times each at least three
    // times. Alternating two sessions in one process slows the first calls after each switch
    // (measured: int8 takes about 20 calls to settle after a float32 block, float32 about 8; after
    // the same pause spent idle, int8 settles after 2), a cost of this interleaving that a server
    // running one base never pays; with 2 warm-up calls and blocks of 28 the ratio read ~4 % low
    int warmup = b == 1 ? texts.size() : 2;
    int per = b == 1 ? Math.max(3 * texts.size(), runs / ROUNDS * 4) : Math.max(3, runs / ROUNDS);
    // twice the rounds at batch 1, where a round's ratio scatters by a few percent (1.75-1.90x in
    // one run) and a round costs about a second, so that one run's estimate sits closer to the mean
    int rounds = b == 1 ? 2 * ROUNDS : ROUNDS;
    for (int round = 0; round < rounds; round++) {
      double mf = 0;
      double mq = 0;
      for (int k = 0; k < f32s.size(); k++) { // f, q, f', q'; each round's ratio is of the two means
        mf += time(f32s.get(k), adapter, texts, b, warmup, per) / f32s.size();
        mq += time(i8s.get(k), adapter, texts, b, warmup, per) / i8s.size();
      }
      f += mf;
      q += mq;
      lo = Math.min(lo, mf / mq);
      hi = Math.max(hi, mf / mq);
    }
    t.put("runtime float32 base, batch " + b + how, f / rounds);
    t.put("runtime int8 base, batch " + b + how, q / rounds);
    boolean goalRow = how.isEmpty();
    return new RuntimeBenchmark.Row(String.format(Locale.ROOT, "int8 / float32 base throughput, batch %d%s (rounds "
        + "%.2f-%.2fx)", b, how, lo, hi), f / q, "x", goal, !goalRow || f / q >= 1.8);
  }

  /** Runs {@code timing} on a runtime thread, where a predict call runs in place (as the server's do). */
  private static RuntimeBenchmark.Row inPlace(java.util.concurrent.Callable<RuntimeBenchmark.Row> timing)
      throws Exception {
    java.util.concurrent.ExecutorService serverLike =
        java.util.concurrent.Executors.newSingleThreadExecutor(AdapterRuntime.threadFactory("lora4j-int8-bench"));
    try {
      return serverLike.submit(timing).get();
    } finally {
      serverLike.shutdown();
    }
  }

  /**
   * Batch 1 with each session on one ONNX Runtime thread: one caller (what one core gives, and all a
   * one-core machine gets), then the way a server on this machine gets its throughput: one caller per
   * core, requests per second over all callers, float32 and int8 interleaved. Why the one-thread
   * rows: at batch 1 the int8 base gains little from a second thread (each parallel section costs a
   * few microseconds of hand-over, about what it saves on int8's small products) while float32's
   * larger products gain much, so the goal row above compares int8 on about one core with float32 on
   * two. Context rows: the goal rows are one caller with the default threads.
   */
  private void oneThreadPerSession(Path export, String adapter, RuntimeOptions options, List<String> texts,
      List<RuntimeBenchmark.Row> rows, Map<String, Double> t) throws Exception {
    int callers = Runtime.getRuntime().availableProcessors();
    if (callers < 2) {
      return; // the default is then one thread already: the goal row is the one-core row
    }
    RuntimeOptions one = options.withSession(options.session().withThreads(1));
    try (AdapterRuntime f32 = AdapterRuntime.open(export, one);
        AdapterRuntime i8 = AdapterRuntime.open(export, one.withInt8Base(true))) {
      f32.load(adapter);
      i8.load(adapter);
      progress.accept("float32 vs int8 base, batch 1, one caller, 1 thread per session");
      rows.add(inPlace(() -> compare(List.of(f32), List.of(i8), adapter, texts, 1, ", 1 thread per session (one core)",
          "(context)", t)));
      progress.accept("float32 vs int8 base, batch 1, " + callers + " concurrent callers on one thread each");
      int per = Math.max(20, runs * 2);
      double f = 0;
      double q = 0;
      for (int round = 0; round < ROUNDS; round++) {
        f += requestsPerSecond(f32, adapter, texts, callers, per);
        q += requestsPerSecond(i8, adapter, texts, callers, per);
      }
      // the timings table is in ms: wall time per request with all callers running
      t.put("runtime float32 base, batch 1, " + callers + " callers, wall time per request", 1000 / (f / ROUNDS));
      t.put("runtime int8 base, batch 1, " + callers + " callers, wall time per request", 1000 / (q / ROUNDS));
      rows.add(new RuntimeBenchmark.Row(String.format(Locale.ROOT,
          "int8 / float32 base throughput, batch 1, %d concurrent callers, 1 thread per session", callers),
          q / f, "x", "(context)", true));
    }
  }

  private static double requestsPerSecond(AdapterRuntime rt, String adapter, List<String> texts, int callers, int per)
      throws Exception {
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(callers);
    try {
      callAll(pool, rt, adapter, texts, callers, Math.max(5, per / 4)); // warm the threads' first runs
      long t0 = System.nanoTime();
      callAll(pool, rt, adapter, texts, callers, per);
      return callers * per / ((System.nanoTime() - t0) / 1e9);
    } finally {
      pool.shutdownNow();
    }
  }

  /** {@code callers} tasks of {@code per} batch-1 predictions each; returns when all are done. */
  private static void callAll(java.util.concurrent.ExecutorService pool, AdapterRuntime rt, String adapter,
      List<String> texts, int callers, int per) throws Exception {
    List<java.util.concurrent.Future<?>> done = new ArrayList<>();
    for (int c = 0; c < callers; c++) {
      int offset = c * 7;
      done.add(pool.submit(() -> {
        for (int i = 0; i < per; i++) {
          rt.predict(adapter, texts.get((offset + i) % texts.size()));
        }
      }));
    }
    for (java.util.concurrent.Future<?> d : done) {
      d.get();
    }
  }

  private static String load(AdapterRuntime rt, Path adapter) {
    String f = adapter.getFileName().toString();
    String name = f.endsWith(OrtAdapterFile.EXTENSION) ? f.substring(0, f.length() - OrtAdapterFile.EXTENSION.length()) : f;
    rt.load(name, adapter);
    return name;
  }

  private double time(AdapterRuntime rt, String adapter, List<String> texts, int b, int warmup, int n)
      throws Exception {
    int[] next = {0};
    return Timer.medianMs(warmup, n, () -> {
      if (b == 1) {
        rt.predict(adapter, texts.get(next[0]++ % texts.size()));
      } else {
        rt.predict(adapter, texts.subList(0, b));
      }
    });
  }

  /** Accuracy (percent) of each path, where gold labels exist, and how often the two agree. */
  record Score(double f32, double int8, double agree) {}

  private static Score score(AdapterRuntime f32, AdapterRuntime i8, String adapter, List<LabeledText> rows) {
    int correctF = 0;
    int correctQ = 0;
    int same = 0;
    int gold = 0;
    for (int start = 0; start < rows.size(); start += CHUNK) {
      List<LabeledText> chunk = rows.subList(start, Math.min(rows.size(), start + CHUNK));
      List<String> texts = chunk.stream().map(LabeledText::text).toList();
      List<Prediction> pf = f32.predict(adapter, texts);
      List<Prediction> pq = i8.predict(adapter, texts);
      for (int i = 0; i < chunk.size(); i++) {
        same += pf.get(i).labelIndex() == pq.get(i).labelIndex() ? 1 : 0;
        String g = chunk.get(i).label();
        if (g != null) {
          gold++;
          correctF += pf.get(i).label().equals(g) ? 1 : 0;
          correctQ += pq.get(i).label().equals(g) ? 1 : 0;
        }
      }
    }
    double n = Math.max(1, gold);
    return new Score(100.0 * correctF / n, 100.0 * correctQ / n, 100.0 * same / Math.max(1, rows.size()));
  }

  private static double load1() {
    try {
      return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
    } catch (IOException | RuntimeException e) {
      return Double.NaN; // not Linux: the row then says NaN rather than failing the benchmark
    }
  }
}
