package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 16 request threads over four adapters while another thread keeps unloading and reloading two of
 * them (and a small memory budget keeps evicting): every answer must come from the adapter the
 * request named, and the only failure allowed is "not loaded" for a request made after an unload.
 */
class ConcurrencyTest {
  @Test
  void everyAnswerComesFromTheNamedAdapter(@TempDir Path tmp) throws Exception {
    ExportFixture fx = new ExportFixture(tmp, 33);
    long oneAdapter;
    RuntimeOptions options = RuntimeOptions.defaults().withDevice(Device.CPU);
    try (AdapterRuntime probe = AdapterRuntime.open(fx.dir, options)) {
      oneAdapter = probe.load("alpha", fx.adapterFile("alpha")).bytes();
    }
    // room for about three of the four adapters: eviction and reload run under the load too
    options = options.withAdapterBudget(oneAdapter * 3);
    try (AdapterRuntime rt = AdapterRuntime.open(fx.dir, options)) {
      for (String n : ExportFixture.NAMES) {
        rt.load(n, fx.adapterFile(n));
      }
      AtomicBoolean running = new AtomicBoolean(true);
      AtomicInteger served = new AtomicInteger();
      AtomicInteger notLoaded = new AtomicInteger();
      ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
      ExecutorService pool = Executors.newFixedThreadPool(17);
      Future<?> churn = pool.submit(() -> {
        int i = 0;
        while (running.get()) {
          String n = i++ % 2 == 0 ? "gamma" : "delta";
          rt.unload(n);
          Thread.onSpinWait();
          rt.load(n, fx.adapterFile(n));
        }
        return null;
      });
      List<Future<?>> workers = new ArrayList<>();
      for (int t = 0; t < 16; t++) {
        int seed = t;
        workers.add(pool.submit(() -> {
          for (int i = 0; i < 250; i++) {
            String n = ExportFixture.NAMES.get((seed + i) % 4);
            String text = ExportFixture.TEXTS.get((seed * 7 + i) % ExportFixture.TEXTS.size());
            try {
              Prediction p = i % 3 == 0 ? rt.submit(n, text).get(60, TimeUnit.SECONDS) : rt.predict(n, text);
              double d = ExportFixture.maxAbsDiff(fx.expected.get(n).get(text), p.logits());
              if (!p.adapter().equals(n) || d > 1e-4) {
                wrong.add(n + " / " + text + " diff " + d);
              }
              served.incrementAndGet();
            } catch (Lora4jException | ExecutionException e) {
              Throwable c = e instanceof ExecutionException ? e.getCause() : e;
              if (!("adapter '" + n + "' is not loaded").equals(c.getMessage())) {
                wrong.add(n + ": unexpected " + c);
              }
              notLoaded.incrementAndGet();
            }
          }
          return null;
        }));
      }
      for (Future<?> w : workers) {
        w.get(5, TimeUnit.MINUTES);
      }
      running.set(false);
      churn.get(1, TimeUnit.MINUTES);
      pool.shutdown();
      assertTrue(wrong.isEmpty(), wrong.size() + " wrong answers, e.g. " + wrong.peek());
      assertEquals(4_000, served.get() + notLoaded.get());
      assertTrue(served.get() > 3_000, "served " + served.get() + ", not loaded " + notLoaded.get());
    }
  }
}
