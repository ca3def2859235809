package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.testing.TinyBert;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12: ONNX Runtime's start-up recursed once per byte of the process's command line on the
 * caller's thread and overflowed it (SIGSEGV, exit 139). The runtime must answer texts up to and
 * beyond the model's maximum length from threads with small stacks.
 */
class NativeStackTest {
  /** Same graph, same inputs, same CPU kernels: only the thread differs, so answers are identical. */
  private static final double SAME = 0;
  /** Between the merged model's answer and the runtime's adapter graphs (as in AdapterRuntimeTest). */
  private static final double TOLERANCE = 1e-4;

  static String words(int n) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < n; i++) {
      b.append(i % 3 == 0 ? "good " : i % 3 == 1 ? "movie " : "dull ");
    }
    return b.toString().strip();
  }

  static RuntimeOptions maxLength() {
    RuntimeOptions o = RuntimeOptions.defaults().withDevice(Device.CPU);
    return new RuntimeOptions(o.session(), o.adapterBudgetBytes(), TinyBert.MAX_POSITIONS, 1_000_000, o.maxBatch(),
        o.batchWindow(), o.batchRows(), o.queueCapacity());
  }

  /** Up to the maximum (62 words + 2 special tokens fill 64 positions if each is a token) and far beyond. */
  static final List<String> TEXTS = List.of(ExportFixture.TEXTS.get(0), words(62), words(5_000));

  @Test
  void aFreshJvmWithSmallStacksAndALongCommandLineAnswersInsteadOfCrashing(@TempDir Path tmp) throws Exception {
    ExportFixture fx = new ExportFixture(tmp, 5);
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xss256k", "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"),
        SmallStackMain.class.getName(), fx.dir.toString(), "alpha"));
    cmd.addAll(TEXTS);
    cmd.add("--");
    cmd.add("x".repeat(40_000)); // ~10 MB of stack for ONNX Runtime's start-up at ~256 B per byte
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = read(p);
    assertTrue(p.waitFor(180, TimeUnit.SECONDS), "the JVM did not finish");
    assertEquals(0, p.exitValue(), "exit " + p.exitValue() + " (134/139: native crash); output:\n" + tail(out));

    List<float[]> answers = out.lines().filter(l -> l.matches("[-0-9.E ]+")).map(NativeStackTest::floats).toList();
    assertEquals(TEXTS.size() * 3, answers.size(), out);
    assertTrue(ExportFixture.maxAbsDiff(fx.expected.get("alpha").get(TEXTS.get(0)), answers.get(0)) <= TOLERANCE);
    try (AdapterRuntime rt = AdapterRuntime.open(fx.dir, maxLength())) {
      rt.load("alpha");
      for (int i = 0; i < TEXTS.size(); i++) {
        float[] here = rt.predict("alpha", TEXTS.get(i)).logits();
        assertArrayEquals(here, answers.get(i), (float) SAME, "main thread, text " + i);
        assertTrue(ExportFixture.maxAbsDiff(here, answers.get(TEXTS.size() + 2 * i)) <= TOLERANCE, "submit " + i);
        assertTrue(ExportFixture.maxAbsDiff(here, answers.get(TEXTS.size() + 2 * i + 1)) <= TOLERANCE, "mixed " + i);
      }
    }
  }

  @Test
  void everyEntryPointAnswersOnA256KbThreadAsOnTheTestThread(@TempDir Path tmp) throws Exception {
    ExportFixture fx = new ExportFixture(tmp, 6);
    try (AdapterRuntime rt = AdapterRuntime.open(fx.dir, maxLength())) {
      rt.load("beta");
      List<float[]> expected = answers(rt);
      List<List<float[]>> got = new ArrayList<>();
      Throwable[] failed = new Throwable[1];
      Thread small = new Thread(null, () -> {
        try {
          rt.unload("beta");
          rt.load("beta");
          got.add(answers(rt));
        } catch (Throwable e) {
          failed[0] = e;
        }
      }, "small", 256 * 1024);
      small.start();
      small.join();
      if (failed[0] != null) {
        throw new AssertionError(failed[0]);
      }
      assertEquals(expected.size(), got.get(0).size());
      for (int i = 0; i < expected.size(); i++) {
        assertTrue(ExportFixture.maxAbsDiff(expected.get(i), got.get(0).get(i)) <= TOLERANCE, "answer " + i);
      }
    }
  }

  private static List<float[]> answers(AdapterRuntime rt) throws Exception {
    List<float[]> out = new ArrayList<>();
    for (String t : TEXTS) {
      out.add(rt.predict("beta", t).logits());
      out.add(rt.submit("beta", t).get(60, TimeUnit.SECONDS).logits());
      out.add(rt.predictMixed(List.of(new MixedRequest("beta", t))).get(0).logits());
      out.add(rt.embed("beta", List.of(t)).get(0));
      out.add(rt.embed(null, List.of(t)).get(0));
    }
    return out;
  }

  private static String read(Process p) throws IOException {
    return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
  }

  private static String tail(String s) {
    return s.length() <= 4_000 ? s : s.substring(s.length() - 4_000);
  }

  static float[] floats(String line) {
    String[] parts = line.trim().split(" ");
    float[] f = new float[parts.length];
    for (int i = 0; i < parts.length; i++) {
      f[i] = Float.parseFloat(parts[i]);
    }
    return f;
  }
}
