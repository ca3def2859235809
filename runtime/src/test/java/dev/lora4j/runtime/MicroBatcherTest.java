package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class MicroBatcherTest {
  @Test
  void concurrentRequestsShareBatchesAndGetTheirOwnAnswers() throws Exception {
    List<Integer> sizes = Collections.synchronizedList(new ArrayList<>());
    try (MicroBatcher<Integer, Integer> b = new MicroBatcher<>(batch -> {
      sizes.add(batch.size());
      return batch.stream().map(x -> MicroBatcher.Outcome.ok(x * x)).toList();
    }, 8, Duration.ofMillis(50), 64)) {
      List<CompletableFuture<Integer>> fs = new ArrayList<>();
      for (int i = 0; i < 32; i++) {
        fs.add(b.submit(i));
      }
      for (int i = 0; i < 32; i++) {
        assertEquals(i * i, fs.get(i).get(10, TimeUnit.SECONDS));
      }
    }
    assertEquals(32, sizes.stream().mapToInt(Integer::intValue).sum());
    assertTrue(sizes.stream().allMatch(s -> s <= 8), "no batch beyond maxRows: " + sizes);
    assertTrue(sizes.size() < 32, "requests were batched: " + sizes);
  }

  /**
   * Without a window a request that finds the worker idle runs alone, and the requests that queue
   * while it runs go together in the next batch. Fails if the worker took one request per batch
   * from the queue, or (the first await) if a zero window blocked waiting for more rows.
   */
  @Test
  void withoutAWindowRequestsQueuedDuringARunMakeTheNextBatch() throws Exception {
    List<List<Integer>> batches = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch firstRunning = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    try (MicroBatcher<Integer, Integer> b = new MicroBatcher<>(batch -> {
      batches.add(List.copyOf(batch));
      firstRunning.countDown();
      release.await();
      return batch.stream().map(MicroBatcher.Outcome::ok).toList();
    }, 8, Duration.ZERO, 64)) {
      CompletableFuture<Integer> first = b.submit(0);
      assertTrue(firstRunning.await(10, TimeUnit.SECONDS), "the first request ran without waiting for more");
      List<CompletableFuture<Integer>> rest = new ArrayList<>();
      for (int i = 1; i <= 5; i++) {
        rest.add(b.submit(i));
      }
      release.countDown();
      assertEquals(0, first.get(10, TimeUnit.SECONDS));
      for (int i = 1; i <= 5; i++) {
        assertEquals(i, rest.get(i - 1).get(10, TimeUnit.SECONDS));
      }
    }
    assertEquals(List.of(List.of(0), List.of(1, 2, 3, 4, 5)), batches);
  }

  @Test
  void aFailingBatchFailsItsRequestsOnly() throws Exception {
    try (MicroBatcher<Integer, Integer> b = new MicroBatcher<>(batch -> {
      if (batch.contains(-1)) {
        throw new Lora4jException("bad batch");
      }
      return batch.stream().map(MicroBatcher.Outcome::ok).toList();
    }, 1, Duration.ZERO, 8)) {
      ExecutionException e = assertThrows(ExecutionException.class, () -> b.submit(-1).get(10, TimeUnit.SECONDS));
      assertEquals("bad batch", e.getCause().getMessage());
      assertEquals(5, b.submit(5).get(10, TimeUnit.SECONDS));
    }
  }

  @Test
  void aFailingRequestDoesNotFailItsBatchMates() throws Exception {
    try (MicroBatcher<Integer, Integer> b = new MicroBatcher<>(batch -> batch.stream()
        .map(x -> x < 0 ? MicroBatcher.Outcome.<Integer>failed(new Lora4jException("negative " + x))
            : MicroBatcher.Outcome.ok(x))
        .toList(), 8, Duration.ofMillis(200), 16)) {
      CompletableFuture<Integer> bad = b.submit(-3);
      CompletableFuture<Integer> good = b.submit(4);
      assertEquals(4, good.get(10, TimeUnit.SECONDS));
      ExecutionException e = assertThrows(ExecutionException.class, () -> bad.get(10, TimeUnit.SECONDS));
      assertEquals("negative -3", e.getCause().getMessage());
    }
  }

  @Test
  void aFullQueueRefusesAtOnce() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (MicroBatcher<Integer, Integer> b = new MicroBatcher<>(batch -> {
      release.await();
      return batch.stream().map(MicroBatcher.Outcome::ok).toList();
    }, 1, Duration.ZERO, 2)) {
      List<CompletableFuture<Integer>> fs = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        fs.add(b.submit(i));
      }
      long refused = fs.stream().filter(CompletableFuture::isCompletedExceptionally).count();
      assertTrue(refused >= 3, "refused " + refused);
      ExecutionException e = assertThrows(ExecutionException.class, () -> fs.get(5).get(1, TimeUnit.SECONDS));
      assertInstanceOf(Lora4jException.class, e.getCause());
      release.countDown();
    }
  }
  /**
   * The worker is interrupted while it gathers a batch (a long window): the requests it already
   * took off the queue must fail rather than wait forever; later ones are refused at once.
   */
  @Test
  void anInterruptedBatcherCompletesEveryAcceptedRequest() throws Exception {
    Thread[] worker = new Thread[1];
    try (MicroBatcher<Integer, Integer> b = new MicroBatcher<>(batch -> batch.stream().map(MicroBatcher.Outcome::ok)
        .toList(), 8, Duration.ofSeconds(30), 16, r -> worker[0] = new Thread(r, "batcher"))) {
      List<CompletableFuture<Integer>> fs = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        fs.add(b.submit(i));
      }
      Thread.sleep(200); // the worker holds all six and waits for the window to close
      worker[0].interrupt();
      for (CompletableFuture<Integer> f : fs) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
        assertEquals("the runtime's batching thread was interrupted", e.getCause().getMessage());
      }
      CompletableFuture<Integer> late = b.submit(9);
      assertTrue(late.isCompletedExceptionally(), "refused at once, not queued for a dead worker");
    }
  }

  /** Submitters race close(): each future completes, with an answer or "the runtime is closed". */
  @Test
  void requestsRacingCloseAllComplete() throws Exception {
    for (int round = 0; round < 20; round++) {
      MicroBatcher<Integer, Integer> b = new MicroBatcher<>(batch -> batch.stream().map(MicroBatcher.Outcome::ok)
          .toList(), 4, Duration.ZERO, 1_000);
      List<CompletableFuture<Integer>> fs = Collections.synchronizedList(new ArrayList<>());
      CountDownLatch go = new CountDownLatch(1);
      List<Thread> ts = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        Thread th = new Thread(() -> {
          try {
            go.await();
          } catch (InterruptedException e) {
            return;
          }
          for (int i = 0; i < 100; i++) {
            fs.add(b.submit(i));
          }
        });
        th.start();
        ts.add(th);
      }
      go.countDown();
      b.close();
      for (Thread th : ts) {
        th.join();
      }
      for (CompletableFuture<Integer> f : fs) {
        try {
          f.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
          assertEquals("the runtime is closed", e.getCause().getMessage());
        }
      }
    }
  }

  /** A runner that hangs past the deadline: stop says so and fails the queued requests. */
  @Test
  void stopFailsQueuedRequestsWhenTheRunningBatchOverstays() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch running = new CountDownLatch(1);
    MicroBatcher<Integer, Integer> b = new MicroBatcher<>(batch -> {
      running.countDown();
      release.await();
      return batch.stream().map(MicroBatcher.Outcome::ok).toList();
    }, 1, Duration.ZERO, 8);
    CompletableFuture<Integer> first = b.submit(1);
    assertTrue(running.await(10, TimeUnit.SECONDS));
    CompletableFuture<Integer> queued = b.submit(2);
    assertFalse(b.stop(100), "the batch is still running");
    ExecutionException e = assertThrows(ExecutionException.class, () -> queued.get(1, TimeUnit.SECONDS));
    assertEquals("the runtime is closed", e.getCause().getMessage());
    release.countDown();
    assertEquals(1, first.get(10, TimeUnit.SECONDS), "the running batch still answers");
    assertTrue(b.stop(10_000));
  }
}
