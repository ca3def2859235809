package dev.lora4j.cli;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtLoraAdapter;
import ai.onnxruntime.OrtSession;
import dev.lora4j.exporter.ExportBundle;
import dev.lora4j.exporter.ExportFormat;
import dev.lora4j.exporter.ExportRequest;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.testing.SyntheticAdapters;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.text.Encoding;
import dev.lora4j.models.text.Tokenizer;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Device;
import dev.lora4j.runtime.MixedRequest;
import dev.lora4j.runtime.RuntimeOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

/**
 * The runtime benchmark on a real base model: every number is a ratio of two timings taken in the
 * same run, on the same machine, with the same inputs, so it travels between machines better than a
 * raw latency. Eight synthetic LoRA adapters (ranks 4 to 16 on query/value, two labels) stand in for
 * trained ones: speed does not depend on what the weights learned.
 */
final class RuntimeBenchmark {
  /** One measured line: what, the value, its goal, and whether the goal was met. */
  public record Row(String what, double value, String unit, String goal, boolean met) {}

  /** Everything measured, plus context. */
  public record Report(String base, Device device, int batch, List<Row> rows, Map<String, Double> timingsMs) {}

  private static final int ADAPTERS = 8;
  /** Batch-1 calls per timed sample (see batchOne). */
  private static final int BATCH_ONE_BLOCK = 4;
  private static final java.util.Set<String> LOGITS = java.util.Set.of("logits");
  /** What the runtime's predict fetches, so the bare session does the same work. */
  private static final java.util.Set<String> PREDICTION = java.util.Set.of("logits", "probabilities");

  private final BaseModelFiles base;
  private final List<String> sentences;
  private final int runs;
  private final Consumer<String> progress;

  public RuntimeBenchmark(BaseModelFiles base, List<String> sentences, int runs, Consumer<String> progress) {
    this.base = base;
    this.sentences = sentences;
    this.runs = runs;
    this.progress = progress;
  }

  public Report run(Path work) throws Exception {
    EncoderDescription d = EncoderDescription.of(OnnxModel.read(base.onnx()));
    List<Adapter> adapters = syntheticAdapters(d, base, ADAPTERS);
    Path dir = work.resolve("export");
    progress.accept("exporting " + ADAPTERS + " adapters (merged, factored, multi, mixed)");
    long t0 = System.nanoTime();
    ExportBundle.export(ExportRequest.of(base, adapters, EnumSet.of(ExportFormat.MERGED, ExportFormat.FACTORED,
        ExportFormat.MULTI, ExportFormat.MIXED), dir), line -> { });
    double exportMs = (System.nanoTime() - t0) / 1e6;

    Map<String, Double> t = new LinkedHashMap<>();
    List<Row> rows = new ArrayList<>();
    OrtEnvironment env = dev.lora4j.runtime.ExecutionProviders.environment(); // its start-up needs a big stack
    int batch = Math.min(32, sentences.size());
    List<String> texts = sentences.subList(0, batch);
    List<String> small = texts.subList(0, Math.min(8, batch));
    Device device;
    try (Tokenizer tok = Tokenizer.open(dir.resolve(ExportLayout.TOKENIZER));
        OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
      // the runtime's own session options (SessionSettings.toOptions), so that bare and runtime compare fairly
      opts.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
      opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      Encoding enc8 = tok.encode(small);
      Encoding enc32 = tok.encode(texts);
      String first = adapters.get(0).name();

      progress.accept("merged vs factored");
      // two sessions of each, created merged, factored, factored, merged: one session's speed depends
      // on where its memory landed and on how many sessions the process made before it (up to ~5 %
      // here, for sessions of one graph), which more samples of that one session cannot average out
      try (OrtSession merged = env.createSession(dir.resolve(ExportLayout.merged(first)).toString(), opts);
          OrtSession factored = env.createSession(dir.resolve(ExportLayout.factored(first)).toString(), opts);
          OrtSession factored2 = env.createSession(dir.resolve(ExportLayout.factored(first)).toString(), opts);
          OrtSession merged2 = env.createSession(dir.resolve(ExportLayout.merged(first)).toString(), opts);
          Feed f8 = new Feed(env, enc8)) {
        // interleaved: the goal is their ratio, and load drifting between two blocks would move it
        Map<String, Interleaved.Timed> sessions = new LinkedHashMap<>();
        sessions.put("merged", Interleaved.here(() -> merged.run(f8.map(), LOGITS).close()));
        sessions.put("factored", Interleaved.here(() -> factored.run(f8.map(), LOGITS).close()));
        sessions.put("factored2", Interleaved.here(() -> factored2.run(f8.map(), LOGITS).close()));
        sessions.put("merged2", Interleaved.here(() -> merged2.run(f8.map(), LOGITS).close()));
        Map<String, Interleaved.Median> m = Interleaved.medians(sessions, 5, runs, 1);
        t.put("merged, batch 8", (m.get("merged").wallMs() + m.get("merged2").wallMs()) / 2);
        t.put("factored, batch 8", (m.get("factored").wallMs() + m.get("factored2").wallMs()) / 2);
        t.put("reload a merged model (create session)", Timer.medianMs(1, 5,
            () -> env.createSession(dir.resolve(ExportLayout.merged(first)).toString(), opts).close()));
        t.put("bare OrtSession on merged, tokenize + run, batch 8", Timer.medianMs(5, runs, () -> {
          try (Feed f = new Feed(env, tok.encode(small))) {
            merged.run(f.map(), PREDICTION).close();
          }
        }));
      }
      rows.add(ratio("factored / merged latency (batch 8)", t.get("factored, batch 8"), t.get("merged, batch 8"),
          "<= 1.05x", 1.05, true));

      progress.accept("adapter switching on the multi-adapter base");
      List<OrtLoraAdapter> ort = new ArrayList<>();
      double switchMs;
      try (OrtSession multi = env.createSession(dir.resolve(ExportLayout.MULTI_GRAPH).toString(), opts);
          Feed f8 = new Feed(env, enc8);
          Feed f32 = new Feed(env, enc32)) {
        for (Adapter a : adapters) {
          ort.add(OrtLoraAdapter.create(dir.resolve(ExportLayout.onnxAdapter(a.name())).toAbsolutePath().toString()));
        }
        int[] k = {0};
        for (int i = 0; i < 5; i++) {
          runWith(multi, f8, ort.get(i % ADAPTERS)); // warm-up
        }
        // the switch cost is a small difference between two ~17 ms runs: paired blocks of each. The
        // adapters differ in rank, so "same" is adapter r % 8 in round r and "different" cycles all 8:
        // a cycle of 8 rounds runs every adapter alike on both sides, and its mean difference is
        // switching alone (the median over rounds would keep the ranks' difference); the median of
        // five cycles sheds those a burst of load hit
        int[] sameCalls = {0};
        int block = 11;
        int cycles = 5;
        Interleaved.Paired switching = Interleaved.pairedBlocks(
            () -> runWith(multi, f8, ort.get(sameCalls[0]++ / block % ADAPTERS)),
            () -> runWith(multi, f8, ort.get(k[0]++ % ADAPTERS)), cycles * ADAPTERS, block);
        t.put("multi, same adapter every run, batch 8", switching.aMs());
        t.put("multi, a different adapter every run, batch 8", switching.bMs());
        double[] perCycle = new double[cycles];
        for (int r = 0; r < cycles * ADAPTERS; r++) {
          perCycle[r / ADAPTERS] += switching.differencesMs()[r] / ADAPTERS;
        }
        switchMs = Interleaved.median(perCycle);
        t.put("activate an adapter (RunOptions + addActiveLoraAdapter)", Timer.medianMs(100, 2_000, () -> {
          try (OrtSession.RunOptions ro = new OrtSession.RunOptions()) {
            ro.addActiveLoraAdapter(ort.get(k[0]++ % ADAPTERS));
          }
        }));
        t.put("bare OrtSession on multi, adapter active, tokenize + run, batch 8", Timer.medianMs(5, runs,
            () -> bare(env, tok, multi, ort.get(0), small)));
        t.put("multi, one adapter, batch 32", Timer.medianMs(3, runs, () -> runWith(multi, f32, ort.get(0))));
        Feed[] quarters = new Feed[ADAPTERS];
        for (int i = 0; i < ADAPTERS; i++) {
          quarters[i] = new Feed(env, tok.encode(texts.subList(i * batch / ADAPTERS, (i + 1) * batch / ADAPTERS)));
        }
        t.put("multi, 8 adapters one after another, " + batch / ADAPTERS + " rows each", Timer.medianMs(3, runs, () -> {
          for (int i = 0; i < ADAPTERS; i++) {
            runWith(multi, quarters[i], ort.get(i));
          }
        }));
        for (Feed q : quarters) {
          q.close();
        }
      } finally {
        ort.forEach(OrtLoraAdapter::close);
      }
      rows.add(new Row("per-request switch cost (different minus same adapter, paired blocks)", switchMs,
          "ms", "< 0.1 ms", switchMs < 0.1));
      rows.add(new Row("adapter activation per request", t.get("activate an adapter (RunOptions + addActiveLoraAdapter)"),
          "ms", "< 0.1 ms", t.get("activate an adapter (RunOptions + addActiveLoraAdapter)") < 0.1));
      rows.add(ratio("reload a merged model / one switched request", t.get("reload a merged model (create session)"),
          t.get("multi, a different adapter every run, batch 8"), "(context)", 0, false));

      progress.accept("mixed batches and the runtime");
      RuntimeOptions ro = RuntimeOptions.defaults().withDevice(Device.AUTO).withMaxBatch(batch);
      try (AdapterRuntime rt = AdapterRuntime.open(dir, ro)) {
        device = rt.device();
        for (Adapter a : adapters) {
          rt.load(a.name());
        }
        List<MixedRequest> mixed = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
          mixed.add(new MixedRequest(adapters.get(i * ADAPTERS / batch).name(), texts.get(i)));
        }
        t.put("runtime, mixed batch of " + batch + " over 8 adapters", Timer.medianMs(3, runs, () -> rt.predictMixed(mixed)));
        t.put("runtime, predict batch 8", Timer.medianMs(5, runs, () -> rt.predict(first, small)));
        batchOne(env, opts, tok, dir, first, rt, small, t);
        t.put("runtime, one adapter, batch " + batch, Timer.medianMs(3, runs, () -> rt.predict(first, texts)));
        t.put("runtime, 8 adapters one after another, " + batch / ADAPTERS + " rows each", Timer.medianMs(3, runs, () -> {
          for (int i = 0; i < ADAPTERS; i++) {
            rt.predict(adapters.get(i).name(), texts.subList(i * batch / ADAPTERS, (i + 1) * batch / ADAPTERS));
          }
        }));
        long bytes = rt.adapters().stream().mapToLong(a -> a.bytes()).sum();
        rows.add(new Row("memory per loaded adapter (every resident copy: ONNX Runtime's, the Java factors, "
            + "the mixed-batch stacks; mean of 8)", bytes / (double) ADAPTERS / 1024, "KiB", "(context)", true));
      }
      // runtime against runtime: all three include tokenizing and reading the outputs
      double single = t.get("runtime, one adapter, batch " + batch);
      double mixedMs = t.get("runtime, mixed batch of " + batch + " over 8 adapters");
      double sequential = t.get("runtime, 8 adapters one after another, " + batch / ADAPTERS + " rows each");
      rows.add(ratio("mixed 8-adapter batch / single-adapter batch throughput", single, mixedMs, ">= 0.9x", 0.9, false));
      rows.add(ratio("mixed 8-adapter batch / 8 adapters one after another", sequential, mixedMs, ">= 3x", 3, false));
      // the runtime's overhead against a bare session on the graph it serves: the multi graph, whose
      // fused kernels (export's OrtFusedOps) the standard-ONNX merged graph does not have
      rows.add(ratio("runtime / bare OrtSession on the multi graph (tokenize + run, batch 8)",
          t.get("runtime, predict batch 8"), t.get("bare OrtSession on multi, adapter active, tokenize + run, batch 8"),
          "<= 1.10x", 1.10, true));
      double bareOne = t.get("bare OrtSession on multi, adapter active, tokenize + run, batch 1");
      rows.add(ratio("runtime / bare OrtSession on the multi graph (tokenize + run, batch 1)",
          t.get("runtime, predict batch 1"), bareOne, "<= 1.10x", 1.10, true));
      rows.add(ratio("runtime, in place on a runtime thread / bare (batch 1)",
          t.get("runtime, predict batch 1, on an AdapterRuntime.threadFactory thread"), bareOne, "<= 1.10x", 1.10,
          true));
      rows.add(ratio("multi graph (fused kernels, LoRA branches) / merged graph (standard ONNX), bare (batch 1)",
          bareOne, t.get("bare OrtSession on merged, tokenize + run, batch 1"), "(context)", 0, true));
    }
    t.put("export 8 adapters, all formats", exportMs);
    rows.add(new Row("export of MiniLM + 8 adapters, all formats", exportMs / 1000, "s", "< 10 s", exportMs < 10_000));
    return new Report(base.id(), device, batch, rows, t);
  }

  /**
   * Batch 1, interleaved (bare, runtime, runtime in place, bare multi, bare, ...) on the same
   * sentence per round: one text's run is short, so a change of load between separately timed
   * blocks would move the ratio more than the runtime's overhead does. The bare sides read both
   * outputs, as the runtime does, and activate the adapter with a new RunOptions per call. Each
   * sample is a block of {@value #BATCH_ONE_BLOCK} calls, every action alike: one call alone on a
   * thread that had just been woken for it made the in-place row read 0.93-1.33x across runs.
   */
  private void batchOne(OrtEnvironment env, OrtSession.SessionOptions opts, Tokenizer tok, Path dir, String first,
      AdapterRuntime rt, List<String> small, Map<String, Double> t) throws Exception {
    progress.accept("batch 1: bare merged graph, runtime, runtime in place, bare multi graph (interleaved)");
    ExecutorService own = Executors.newSingleThreadExecutor(AdapterRuntime.threadFactory("bench-caller"));
    try (OrtSession merged = env.createSession(dir.resolve(ExportLayout.merged(first)).toString(), opts);
        OrtSession multi = env.createSession(dir.resolve(ExportLayout.MULTI_GRAPH).toString(), opts);
        OrtLoraAdapter lora = OrtLoraAdapter.create(dir.resolve(ExportLayout.onnxAdapter(first)).toString())) {
      int[] next = new int[4];
      Map<String, Interleaved.Timed> actions = new LinkedHashMap<>();
      int n = BATCH_ONE_BLOCK;
      actions.put("bare OrtSession on merged, tokenize + run, batch 1",
          Interleaved.here(() -> bare(env, tok, merged, null, small.get(next[0]++ % small.size())), n));
      actions.put("runtime, predict batch 1",
          Interleaved.here(() -> rt.predict(first, small.get(next[1]++ % small.size())), n));
      actions.put("runtime, predict batch 1, on an AdapterRuntime.threadFactory thread",
          Interleaved.on(own, () -> rt.predict(first, small.get(next[2]++ % small.size())), n));
      actions.put("bare OrtSession on multi, adapter active, tokenize + run, batch 1",
          Interleaved.here(() -> bare(env, tok, multi, lora, small.get(next[3]++ % small.size())), n));
      Interleaved.medians(actions, 3, Math.max(10, runs), 1).forEach((k, v) -> t.put(k, v.wallMs()));
    } finally {
      own.shutdown();
    }
  }

  /** What a caller of bare ONNX Runtime does for one text: tokenize, make tensors, run, read both outputs. */
  static void bare(OrtEnvironment env, Tokenizer tok, OrtSession s, OrtLoraAdapter lora, String text)
      throws Exception {
    bare(env, tok, s, lora, List.of(text));
  }

  static void bare(OrtEnvironment env, Tokenizer tok, OrtSession s, OrtLoraAdapter lora, List<String> texts)
      throws Exception {
    try (Feed in = new Feed(env, tok.encode(texts));
        OrtSession.RunOptions ro = new OrtSession.RunOptions()) {
      if (lora != null) {
        ro.addActiveLoraAdapter(lora);
      }
      try (OrtSession.Result r = s.run(in.map(), PREDICTION, ro)) {
        for (String o : PREDICTION) {
          r.get(o).orElseThrow().getValue();
        }
      }
    }
  }

  /** {@code n} synthetic two-label LoRA adapters, ranks 4 to 16 on query/value, named a0, a1, ... */
  static List<Adapter> syntheticAdapters(EncoderDescription d, BaseModelFiles base, int n) {
    List<Adapter> adapters = new ArrayList<>();
    List<LinearModule> targets = d.resolveTargets("query,value");
    for (int i = 0; i < n; i++) {
      Map<String, Integer> ranks = new LinkedHashMap<>();
      for (LinearModule m : targets) {
        ranks.put(m.name(), 4 + (i * 5 + m.layer()) % 13);
      }
      adapters.add(SyntheticAdapters.classifier(d, base.ref(), "a" + i, ranks, 2, TaskHead.Pooling.MEAN, 7 + i));
    }
    return adapters;
  }

  private static Row ratio(String what, double a, double b, String goal, double bound, boolean atMost) {
    double r = a / b;
    boolean met = bound == 0 || (atMost ? r <= bound : r >= bound);
    return new Row(what, r, "x", goal, met);
  }

  private static void runWith(OrtSession s, Feed f, OrtLoraAdapter a) throws Exception {
    try (OrtSession.RunOptions ro = new OrtSession.RunOptions()) {
      ro.addActiveLoraAdapter(a);
      s.run(f.map(), LOGITS, ro).close();
    }
  }

  /** Token inputs as ONNX Runtime tensors. */
  static final class Feed implements AutoCloseable {
    private final Map<String, OnnxTensor> tensors = new LinkedHashMap<>();

    Feed(OrtEnvironment env, Encoding e) throws Exception {
      tensors.put("input_ids", OnnxTensor.createTensor(env, e.inputIdsBuffer(), e.shape()));
      tensors.put("attention_mask", OnnxTensor.createTensor(env, e.attentionMaskBuffer(), e.shape()));
      tensors.put("token_type_ids", OnnxTensor.createTensor(env, e.tokenTypeIdsBuffer(), e.shape()));
    }

    Map<String, OnnxTensor> map() {
      return tensors;
    }

    @Override
    public void close() {
      tensors.values().forEach(OnnxTensor::close);
    }
  }

  /** The report as a markdown section. */
  public static String markdown(Report r, String command) {
    StringBuilder sb = new StringBuilder();
    sb.append("## Runtime benchmark\n\n");
    sb.append(String.format(Locale.ROOT, "Measured %s with `%s` on base `%s`, device %s (%s). "
        + "Ratios come from timings taken in the same run (median of repeated runs after warm-up), on %d "
        + "sentences of equal length (median-length SST-2 dev sentences when the data is there).%n%n",
        java.time.LocalDate.now(), command, r.base(), r.device().name().toLowerCase(Locale.ROOT),
        HostCpu.describe(), r.batch()));
    sb.append("| measure | value | goal | met |\n|---|---:|---|---|\n");
    for (Row row : r.rows()) {
      sb.append(String.format(Locale.ROOT, "| %s | %.3f %s | %s | %s |%n", row.what(), row.value(), row.unit(),
          row.goal(), row.goal().startsWith("(") ? "" : row.met() ? "yes" : "**no**"));
    }
    sb.append("\n![runtime benchmark](bench-runtime.png)\n\nTimings (median ms):\n\n| run | ms |\n|---|---:|\n");
    r.timingsMs().forEach((k, v) -> sb.append(String.format(Locale.ROOT, "| %s | %.3f |%n", k, v)));
    return sb.toString();
  }
}
