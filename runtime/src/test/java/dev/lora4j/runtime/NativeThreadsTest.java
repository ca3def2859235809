package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtException;
import dev.lora4j.models.Lora4jException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class NativeThreadsTest {
  @Test
  void callsRunOnThreadsWithTheNativeStackAndReturnTheirResult() throws Exception {
    try (NativeThreads n = new NativeThreads("t", 2)) {
      assertFalse(NativeThreads.onNativeThread());
      assertEquals(Boolean.TRUE, n.call(NativeThreads::onNativeThread));
      assertEquals("nested", n.call(() -> n.call(() -> "nested")), "a nested call runs in place, no deadlock");
    }
  }

  @Test
  void callsOnFactoryThreadsRunInPlaceAndOthersHop() throws Exception {
    try (NativeThreads n = new NativeThreads("t", 2)) {
      Thread plain = Thread.currentThread();
      assertNotSame(plain, n.call(Thread::currentThread), "a plain thread's call runs on the pool");
      Object[] seen = new Object[2];
      Thread own = NativeThreads.threadFactory("own").newThread(() -> {
        try {
          seen[0] = n.call(Thread::currentThread);
          seen[1] = Thread.currentThread();
        } catch (Throwable e) {
          seen[0] = e;
        }
      });
      own.start();
      own.join(10_000);
      assertSame(seen[1], seen[0], "a factory thread's call runs in place");
      assertEquals("own-1", own.getName());
    }
  }

  /**
   * The pool cannot see calls running in place on factory threads, so shutdown must count them:
   * otherwise close() would free the sessions under a run (a crash, not an error).
   */
  @Test
  void shutdownWaitsForCallsInPlaceAndThenRefusesThem() throws Exception {
    NativeThreads n = new NativeThreads("t", 1);
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    AtomicReference<Object> late = new AtomicReference<>();
    Thread own = NativeThreads.threadFactory("own").newThread(() -> {
      try {
        n.call(() -> {
          started.countDown();
          await(finish);
          return null;
        });
        n.call(() -> "late");
      } catch (Throwable e) {
        late.set(e.getMessage());
      }
    });
    own.start();
    assertTrue(started.await(10, TimeUnit.SECONDS));
    assertFalse(n.shutdown(100), "a call runs in place on a factory thread");
    finish.countDown();
    assertTrue(n.shutdown(10_000));
    own.join(10_000);
    assertEquals("the runtime is closed", late.get());
  }

  @Test
  void exceptionsComeBackUnchanged() {
    try (NativeThreads n = new NativeThreads("t", 1)) {
      Lora4jException mine = new Lora4jException("x.onnx: bad");
      assertSame(mine, assertThrows(Lora4jException.class, () -> n.call(() -> {
        throw mine;
      })));
      OrtException ort = new OrtException("ort says no");
      assertSame(ort, assertThrows(OrtException.class, () -> n.call(() -> {
        throw ort;
      })));
      StackOverflowError soe = new StackOverflowError();
      assertSame(soe, assertThrows(StackOverflowError.class, () -> n.call(() -> {
        throw soe;
      })));
    }
  }

  @Test
  void anInterruptDuringARunWaitsForItAndKeepsTheInterruptStatus() throws Exception {
    try (NativeThreads n = new NativeThreads("t", 1)) {
      CountDownLatch started = new CountDownLatch(1);
      CountDownLatch finish = new CountDownLatch(1);
      AtomicReference<Object> result = new AtomicReference<>();
      Thread caller = new Thread(() -> {
        try {
          String r = n.call(() -> {
            started.countDown();
            await(finish);
            return "done";
          });
          result.set(r + (Thread.currentThread().isInterrupted() ? ", interrupted" : ""));
        } catch (Throwable e) {
          result.set(e);
        }
      });
      caller.start();
      assertTrue(started.await(10, TimeUnit.SECONDS));
      caller.interrupt();
      Thread.sleep(100);
      assertTrue(caller.isAlive(), "the caller waits: its inputs are in use until the run ends");
      finish.countDown();
      caller.join(10_000);
      assertEquals("done, interrupted", result.get());
    }
  }

  @Test
  void anInterruptBeforeTheRunStartsCancelsIt() throws Exception {
    try (NativeThreads n = new NativeThreads("t", 1)) {
      CountDownLatch busy = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      Thread blocker = new Thread(() -> {
        try {
          n.call(() -> {
            busy.countDown();
            await(release);
            return null;
          });
        } catch (OrtException e) {
          throw new AssertionError(e);
        }
      });
      blocker.start();
      assertTrue(busy.await(10, TimeUnit.SECONDS));
      AtomicReference<Object> result = new AtomicReference<>();
      boolean[] ran = new boolean[1];
      Thread caller = new Thread(() -> {
        try {
          result.set(n.call(() -> ran[0] = true));
        } catch (Throwable e) {
          result.set(e.getMessage() + (Thread.currentThread().isInterrupted() ? ", interrupted" : ""));
        }
      });
      caller.start();
      Thread.sleep(100); // queued behind the blocker
      caller.interrupt();
      caller.join(10_000);
      release.countDown();
      blocker.join(10_000);
      assertEquals("interrupted before ONNX Runtime started, interrupted", result.get());
      assertFalse(ran[0]);
    }
  }

  @Test
  void shutdownWaitsForRunningCallsAndRefusesNewOnes() throws Exception {
    NativeThreads n = new NativeThreads("t", 1);
    CountDownLatch started = new CountDownLatch(1);
    Thread caller = new Thread(() -> {
      try {
        n.call(() -> {
          started.countDown();
          await(new CountDownLatch(1), 300);
          return null;
        });
      } catch (OrtException e) {
        throw new AssertionError(e);
      }
    });
    caller.start();
    assertTrue(started.await(10, TimeUnit.SECONDS));
    assertFalse(n.shutdown(10), "a call is still running");
    assertTrue(n.shutdown(10_000));
    assertEquals("the runtime is closed",
        assertThrows(Lora4jException.class, () -> n.call(() -> "late")).getMessage());
    caller.join();
  }

  private static void await(CountDownLatch l) {
    await(l, 30_000);
  }

  private static void await(CountDownLatch l, long millis) {
    try {
      l.await(millis, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }
}
