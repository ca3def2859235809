package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Closing under load, read-only listings, and what the memory budget counts (issue 12, items 6 and 7). */
class RuntimeLifecycleTest {
  private static final double TOLERANCE = 1e-4; // as in AdapterRuntimeTest

  /**
   * Eight threads keep calling every entry point while another closes the runtime: each call
   * answers correctly or says the runtime is closed. Freeing a session under a running request
   * would fail with ONNX Runtime's "closed OrtSession" or crash the JVM.
   */
  @Test
  void closeWaitsForRunningRequestsBeforeFreeingNativeMemory(@TempDir Path tmp) throws Exception {
    ExportFixture fx = new ExportFixture(tmp, 41);
    AdapterRuntime rt = AdapterRuntime.open(fx.dir, RuntimeOptions.defaults().withDevice(Device.CPU));
    ExportFixture.NAMES.forEach(n -> rt.load(n, fx.adapterFile(n)));
    ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
    AtomicInteger served = new AtomicInteger();
    AtomicInteger refused = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(8);
    List<Future<?>> fs = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      int seed = t;
      fs.add(pool.submit(() -> {
        for (int i = 0; ; i++) {
          String n = ExportFixture.NAMES.get((seed + i) % 4);
          String text = ExportFixture.TEXTS.get((seed * 5 + i) % ExportFixture.TEXTS.size());
          try {
            Prediction p = switch (i % 3) {
              case 0 -> rt.predict(n, text);
              case 1 -> rt.submit(n, text).get(60, TimeUnit.SECONDS);
              default -> rt.predictMixed(List.of(new MixedRequest(n, text))).get(0);
            };
            if (ExportFixture.maxAbsDiff(fx.expected.get(n).get(text), p.logits()) > TOLERANCE) {
              wrong.add(n + " / " + text);
            }
            served.incrementAndGet();
          } catch (Lora4jException | ExecutionException e) {
            Throwable c = e instanceof ExecutionException ? e.getCause() : e;
            if (!"the runtime is closed".equals(c.getMessage())) {
              wrong.add("unexpected " + c);
            }
            refused.incrementAndGet();
            return null;
          } catch (RuntimeException e) {
            wrong.add("unexpected " + e);
            return null;
          }
        }
      }));
    }
    while (served.get() < 200) {
      Thread.sleep(10);
    }
    rt.close();
    for (Future<?> f : fs) {
      f.get(60, TimeUnit.SECONDS);
    }
    pool.shutdown();
    assertTrue(wrong.isEmpty(), wrong.size() + " wrong, e.g. " + wrong.peek());
    assertEquals(8, refused.get(), "every thread ended on 'the runtime is closed'");
    rt.close(); // twice is fine
    assertEquals("the runtime is closed",
        assertThrows(Lora4jException.class, () -> rt.load("alpha", fx.adapterFile("alpha"))).getMessage());
  }

  /** Listing (the server's /adapters, /health, /metrics) must not reload an evicted adapter or move it in the LRU. */
  @Test
  void listingNeitherReloadsNorReordersEvictedAdapters(@TempDir Path tmp) throws Exception {
    ExportFixture fx = new ExportFixture(tmp, 42);
    long one;
    try (AdapterRuntime probe = AdapterRuntime.open(fx.dir, RuntimeOptions.defaults().withDevice(Device.CPU))) {
      one = ExportFixture.NAMES.stream().mapToLong(n -> probe.load(n, fx.adapterFile(n)).bytes()).max().orElseThrow();
    }
    try (AdapterRuntime rt = AdapterRuntime.open(fx.dir,
        RuntimeOptions.defaults().withDevice(Device.CPU).withAdapterBudget(2 * one))) {
      rt.load("alpha", fx.adapterFile("alpha"));
      rt.load("beta", fx.adapterFile("beta"));
      rt.load("gamma", fx.adapterFile("gamma")); // evicts alpha
      List<AdapterRegistry.Status> before = rt.residency();
      assertEquals(List.of(false, true, true), before.stream().map(AdapterRegistry.Status::resident).toList());
      for (int i = 0; i < 3; i++) {
        List<AdapterInfo> infos = rt.adapters();
        assertEquals(List.of("alpha", "beta", "gamma"), infos.stream().map(AdapterInfo::name).toList());
        assertFalse(infos.get(0).resident(), "listed, not reloaded");
        assertEquals(8, infos.get(0).ranks().get("encoder.layer.0.attention.self.query"));
      }
      assertEquals(before, rt.residency(), "no reload, no change of last use");
      rt.load("delta", fx.adapterFile("delta")); // evicts beta, still the least recently used
      assertEquals(List.of(false, false, true, true),
          rt.residency().stream().map(AdapterRegistry.Status::resident).toList());
    }
  }

  /**
   * One resident adapter is held as ONNX Runtime's copy of its parameters, the Java copy of its
   * factors and head, and (mixed-batch graph) up to four cached stack copies: six times its
   * float32 parameters. Counting only ONNX Runtime's copy would show a sixth of it.
   */
  @Test
  void theBudgetCountsEveryCopyOfAnAdapter(@TempDir Path tmp) throws Exception {
    ExportFixture fx = new ExportFixture(tmp, 43);
    try (AdapterRuntime rt = AdapterRuntime.open(fx.dir, RuntimeOptions.defaults().withDevice(Device.CPU))) {
      for (String n : ExportFixture.NAMES) {
        long floats = fx.adapters.get(n).compact().parameterCount();
        AdapterInfo i = rt.load(n, fx.adapterFile(n));
        assertTrue(i.bytes() >= 6 * Float.BYTES * floats, n + ": " + i.bytes() + " < 6 x 4 x " + floats);
        assertEquals(i.bytes(), rt.residency().stream().filter(s -> s.name().equals(n)).findFirst().orElseThrow()
            .bytes(), "the budget charges what the listing shows");
      }
    }
  }
}
