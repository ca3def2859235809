package dev.lora4j.runtime.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
}
