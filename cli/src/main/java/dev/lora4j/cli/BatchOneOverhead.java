package dev.lora4j.cli;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtLoraAdapter;
import ai.onnxruntime.OrtSession;
import dev.lora4j.exporter.ExportBundle;
import dev.lora4j.exporter.ExportFormat;
import dev.lora4j.exporter.ExportRequest;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.text.Encoding;
import dev.lora4j.models.text.Tokenizer;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Device;
import dev.lora4j.runtime.ExecutionProviders;
import dev.lora4j.runtime.Prediction;
import dev.lora4j.runtime.RuntimeOptions;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Where the runtime's batch-1 time goes beyond a bare ONNX Runtime session ({@code lora4j bench
 * --overhead}): the end-to-end runs (bare merged graph, the same through a thread hop, the factored
 * graph, the multi-adapter graph with the adapter active, the runtime's {@code predict}) are timed
 * interleaved in one JVM, then each step the runtime adds is timed alone, also interleaved. A
 * diagnosis, printed, not a goal: the bench's ratio table carries the goal.
 */
final class BatchOneOverhead {

  private final BaseModelFiles base;
  private final List<String> sentences;
  private final int rounds;
  private final int threads;
  private final PrintStream out;

  /**
   * @param rounds at least 1 and {@code threads} within {@code SessionSettings.MAX_THREADS}: {@link
   *     BenchCommand} checks both before anything is exported
   * @param threads ONNX Runtime intra-op threads for every session here, the runtime's too (0: its default)
   */
  BatchOneOverhead(BaseModelFiles base, List<String> sentences, int rounds, int threads, PrintStream out) {
    this.base = base;
    this.sentences = List.copyOf(sentences);
    this.rounds = rounds;
    this.threads = threads;
    this.out = out;
  }

  void run(Path work) throws Exception {
    EncoderDescription d = EncoderDescription.of(OnnxModel.read(base.onnx()));
    Adapter adapter = RuntimeBenchmark.syntheticAdapters(d, base, 1).get(0);
    String name = adapter.name();
    Path dir = work.resolve("overhead-export");
    out.println("bench: exporting one synthetic adapter (merged, factored, multi)");
    ExportBundle.export(ExportRequest.of(base, List.of(adapter),
        EnumSet.of(ExportFormat.MERGED, ExportFormat.FACTORED, ExportFormat.MULTI), dir), line -> { });
    OrtEnvironment env = ExecutionProviders.environment();
    ExecutorService pool = bigStackPool();
    ExecutorService own = Executors.newSingleThreadExecutor(AdapterRuntime.threadFactory("overhead-own"));
    String before = loadavg();
    Map<String, Interleaved.Median> macro;
    Map<String, Interleaved.Median> micro;
    // the runtime's session options (SessionSettings.toOptions): every session here gets the same
    try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
        Tokenizer tok = Tokenizer.open(dir.resolve(ExportLayout.TOKENIZER))) {
      opts.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
      opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      if (threads > 0) {
        opts.setIntraOpNumThreads(threads);
      }
      RuntimeOptions cpu = RuntimeOptions.defaults().withDevice(Device.CPU);
      try (OrtSession merged = env.createSession(dir.resolve(ExportLayout.merged(name)).toString(), opts);
          OrtSession factored = env.createSession(dir.resolve(ExportLayout.factored(name)).toString(), opts);
          OrtSession multi = env.createSession(dir.resolve(ExportLayout.MULTI_GRAPH).toString(), opts);
          OrtLoraAdapter lora = OrtLoraAdapter.create(dir.resolve(ExportLayout.onnxAdapter(name)).toString());
          AdapterRuntime rt = AdapterRuntime.open(dir, cpu.withSession(cpu.session().withThreads(threads)))) {
        rt.load(name);
        Map<String, Interleaved.Timed> runs = new LinkedHashMap<>();
        Texts m = new Texts();
        Texts h = new Texts();
        Texts f = new Texts();
        Texts u = new Texts();
        Texts r = new Texts();
        Texts p = new Texts();
        runs.put("bare merged: tokenize + tensors + run + read outputs",
            Interleaved.here(() -> RuntimeBenchmark.bare(env, tok, merged, null, m.next())));
        runs.put("  the same through a thread hop (8 MB-stack pool, as NativeThreads)",
            Interleaved.here(() -> pool.submit(() -> {
              RuntimeBenchmark.bare(env, tok, merged, null, h.next());
              return null;
            }).get()));
        runs.put("bare factored graph",
            Interleaved.here(() -> RuntimeBenchmark.bare(env, tok, factored, null, f.next())));
        runs.put("bare multi graph, adapter active (RunOptions per call)",
            Interleaved.here(() -> RuntimeBenchmark.bare(env, tok, multi, lora, u.next())));
        runs.put("runtime.predict(adapter, text)", Interleaved.here(() -> rt.predict(name, r.next())));
        runs.put("runtime.predict on an AdapterRuntime.threadFactory thread (in place)",
            Interleaved.on(own, () -> rt.predict(name, p.next())));
        out.printf(Locale.ROOT, "bench: batch 1, %d interleaved rounds of %d runs%n", rounds, runs.size());
        macro = Interleaved.medians(runs, 10, rounds, 1);

        Encoding enc = tok.encode(List.of(sentences.get(0)));
        float[][] logits = {{0.25f, -0.5f}};
        float[][] probs = {{0.6f, 0.4f}};
        List<String> labels = List.of("0", "1");
        Map<String, Interleaved.Timed> steps = new LinkedHashMap<>();
        Texts t = new Texts();
        steps.put("tokenize one text", Interleaved.here(() -> tok.encode(List.of(t.next()))));
        steps.put("input tensors: create 3 + close", Interleaved.here(() -> {
          try (RuntimeBenchmark.Feed in = new RuntimeBenchmark.Feed(env, enc)) {
            in.map();
          }
        }));
        steps.put("RunOptions: create + activate adapter + close", Interleaved.here(() -> {
          try (OrtSession.RunOptions ro = new OrtSession.RunOptions()) {
            ro.addActiveLoraAdapter(lora);
          }
        }));
        steps.put("thread hop of an empty call (submit + get)",
            Interleaved.here(() -> pool.submit(() -> 0).get()));
        steps.put("outputs: finite check + Prediction (2 labels)", Interleaved.here(() -> {
          for (float[][] o : new float[][][] {logits, probs}) {
            for (float v : o[0]) {
              if (!Float.isFinite(v)) {
                throw new IllegalStateException();
              }
            }
          }
          new Prediction(name, labels, logits[0], probs[0]).label();
        }));
        micro = Interleaved.medians(steps, 5, Math.max(11, rounds / 4), 200);
      }
    } finally {
      pool.shutdown();
      own.shutdown();
    }
    String after = loadavg();
    Interleaved.Median bare = macro.values().iterator().next();
    out.printf(Locale.ROOT,
        "%nbatch 1, %s, %d cores, ONNX Runtime intra-op threads %s; load average before %s, after %s%n", base.id(),
        Runtime.getRuntime().availableProcessors(), threads == 0 ? "default" : threads, before, after);
    out.printf(Locale.ROOT, "%-70s %9s %8s %9s %8s%n", "end to end (interleaved, median)", "wall ms", "/ bare",
        "CPU ms", "/ bare");
    macro.forEach((k, v) -> out.printf(Locale.ROOT, "%-70s %9.3f %7.3fx %9.3f %7.3fx%n", k, v.wallMs(),
        v.wallMs() / bare.wallMs(), v.cpuMs(), v.cpuMs() / bare.cpuMs()));
    out.printf(Locale.ROOT, "%n%-70s %9s %8s %9s %8s%n", "one step alone (interleaved, median of 200-call means)",
        "wall ms", "% bare", "CPU ms", "% bare");
    micro.forEach((k, v) -> out.printf(Locale.ROOT, "%-70s %9.4f %7.2f%% %9.4f %7.2f%%%n", k, v.wallMs(),
        100 * v.wallMs() / bare.wallMs(), v.cpuMs(), 100 * v.cpuMs() / bare.cpuMs()));
  }

  /** One pool thread per core with 8 MB stacks, the shape of the runtime's native threads. */
  private static ExecutorService bigStackPool() {
    int n = Math.max(2, Runtime.getRuntime().availableProcessors());
    return new ThreadPoolExecutor(n, n, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
      Thread t = new Thread(null, r, "overhead-hop", 8L << 20);
      t.setDaemon(true);
      return t;
    });
  }

  /** Cycles through the sentences; one per action, so every action sees the same text in a round. */
  private final class Texts {
    private int next;

    String next() {
      return sentences.get(next++ % sentences.size());
    }
  }

  private static String loadavg() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException | RuntimeException e) {
      return "unknown";
    }
  }
}
