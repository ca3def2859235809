package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link AdapterRuntime#shareThreadPool}: one ONNX Runtime pool for every session of the process. It
 * can only be set before ONNX Runtime starts, so the working case runs in a fresh JVM
 * ({@link SharedPoolMain}); this JVM has started it, which is the refused case.
 */
class SharedThreadPoolTest {
  /**
   * Between two runs of the same graph on the same inputs: the shared pool has as many threads as a
   * session's own (0: one per core), so kernels split their work alike; the margin covers a split
   * that differs anyway, far below what a wrong graph, adapter or pool would change.
   */
  private static final double SAME_GRAPH = 1e-6;
  /** Between the merged model's answer and the runtime's adapter graphs (as in AdapterRuntimeTest). */
  private static final double TOLERANCE = 1e-4;

  @Test
  void aFreshProcessServesOnTheSharedPoolWithTheAnswersOfPerSessionPools(@TempDir Path tmp) throws Exception {
    ExportFixture fx = new ExportFixture(tmp, 7);
    List<String> texts = ExportFixture.TEXTS.subList(0, 3);
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"), SharedPoolMain.class.getName(),
        fx.dir.toString(), "gamma"));
    cmd.addAll(texts);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(180, TimeUnit.SECONDS), "the JVM did not finish");
    assertEquals(0, p.exitValue(), "exit " + p.exitValue() + "; output:\n" + out);

    List<float[]> got = out.lines().filter(l -> l.matches("[-0-9.E ]+")).map(NativeStackTest::floats).toList();
    assertEquals(3 * texts.size(), got.size(), out);
    try (AdapterRuntime rt = AdapterRuntime.open(fx.dir, RuntimeOptions.defaults().withDevice(Device.CPU))) {
      rt.load("gamma");
      for (int i = 0; i < texts.size(); i++) {
        float[] here = rt.predict("gamma", texts.get(i)).logits();
        assertTrue(ExportFixture.maxAbsDiff(fx.expected.get("gamma").get(texts.get(i)), here) <= TOLERANCE);
        for (int k = 0; k < 3; k++) {
          assertTrue(ExportFixture.maxAbsDiff(here, got.get(3 * i + k)) <= SAME_GRAPH,
              "text " + i + ", answer " + k + " on the shared pool:\n" + out);
        }
      }
    }
    // the sessions really run on the shared pool: pools of their own would have started workers from
    // the runtime threads that made them (ONNX Runtime's default: one thread per physical core, so one
    // worker each from two cores up, as on CI); -1: no /proc to count them
    long started = out.lines().filter(l -> l.startsWith("native threads started from runtime threads: "))
        .mapToLong(l -> Long.parseLong(l.substring(l.lastIndexOf(' ') + 1))).findFirst().orElseThrow();
    assertTrue(started == 0 || started == -1, "native threads started by the sessions: " + started + "\n" + out);
    assertTrue(out.contains("second shareThreadPool refused: lora4j: this process already shares one ONNX Runtime "
        + "thread pool (0 threads, 0: one per core)"), out);
    assertTrue(out.contains("session threads refused: this process's sessions share one thread pool"), out);
  }

  /** Thousands of threads hung ONNX Runtime (it makes them all up front) instead of failing: refused here. */
  @Test
  void absurdThreadCountsAreRefusedBeforeOnnxRuntimeMakesAThread() {
    assertEquals(1024, new SessionSettings(Device.CPU, SessionSettings.MAX_THREADS, 0, 0).intraOpThreads());
    IllegalArgumentException intra = assertThrows(IllegalArgumentException.class,
        () -> new SessionSettings(Device.CPU, 100_000, 0, 0));
    assertEquals("ONNX Runtime thread counts must be at most 1024 (0: one per core), not 100000", intra.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new SessionSettings(Device.CPU, 0, 1025, 0));
    IllegalArgumentException pool = assertThrows(IllegalArgumentException.class,
        () -> AdapterRuntime.shareThreadPool(100_000));
    assertEquals("a shared thread pool takes 0 (one per core) to 1024 threads, not 100000", pool.getMessage());
  }

  @Test
  void onceOnnxRuntimeRunsTheSharedPoolIsRefusedWithWhatToDo() {
    ExecutionProviders.environment(); // started here, as any runtime opened before would have
    Lora4jException e = assertThrows(Lora4jException.class, () -> AdapterRuntime.shareThreadPool(2));
    assertTrue(e.getMessage().contains("already running in this process"), e.getMessage());
    assertTrue(e.getMessage().contains("call AdapterRuntime.shareThreadPool before"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> AdapterRuntime.shareThreadPool(-1));
    // sessions opened after the refusal keep their own pools and their thread counts
    assertTrue(!NativeThreads.sharesThreads());
  }
}
