package dev.lora4j.runtime.batch;

import dev.lora4j.models.Lora4jException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Gathers concurrent single requests into batches: the first request opens a window of at most
 * {@code maxWait}; the batch runs when the window closes or {@code maxRows} requests are in, on
 * one worker thread. Requests beyond the queue's capacity are refused at once (back-pressure)
 * instead of piling up.
 */
public final class MicroBatcher<Q, R> implements AutoCloseable {
  /** Runs one batch; returns one outcome per request, in order. */
  @FunctionalInterface
  public interface BatchRunner<Q, R> {
    List<Outcome<R>> run(List<Q> batch) throws Exception;
  }

  /**
   * A request's own result or failure: one bad request (an adapter unloaded meanwhile, say) must
   * not fail the others that shared its batch.
   */
  public record Outcome<R>(R value, RuntimeException error) {
    public static <R> Outcome<R> ok(R value) {
      return new Outcome<>(value, null);
    }

    public static <R> Outcome<R> failed(RuntimeException error) {
      return new Outcome<>(null, error);
    }
  }

  private record Pending<Q, R>(Q request, CompletableFuture<R> result) {}

  private final BatchRunner<Q, R> runner;
  private final int maxRows;
  private final long maxWaitNanos;
  private final BlockingQueue<Pending<Q, R>> queue;
  private final Thread worker;
  private volatile boolean open = true;

  public MicroBatcher(BatchRunner<Q, R> runner, int maxRows, Duration maxWait, int capacity) {
    if (maxRows < 1 || capacity < maxRows || maxWait.isNegative()) {
      throw new IllegalArgumentException("need maxRows >= 1, capacity >= maxRows, maxWait >= 0");
    }
    this.runner = runner;
    this.maxRows = maxRows;
    this.maxWaitNanos = maxWait.toNanos();
    this.queue = new ArrayBlockingQueue<>(capacity);
    this.worker = new Thread(this::loop, "lora4j-micro-batcher");
    this.worker.setDaemon(true);
    this.worker.start();
  }

  public CompletableFuture<R> submit(Q request) {
    CompletableFuture<R> f = new CompletableFuture<>();
    if (!open) {
      f.completeExceptionally(new Lora4jException("the runtime is closed"));
    } else if (!queue.offer(new Pending<>(request, f))) {
      f.completeExceptionally(new Lora4jException("too many requests waiting (" + queue.size() + "); try again"));
    }
    return f;
  }

  private void loop() {
    List<Pending<Q, R>> batch = new ArrayList<>(maxRows);
    while (open || !queue.isEmpty()) {
      try {
        Pending<Q, R> first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        batch.add(first);
        long deadline = System.nanoTime() + maxWaitNanos;
        while (batch.size() < maxRows) {
          long left = deadline - System.nanoTime();
          Pending<Q, R> next = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : queue.poll();
          if (next == null) {
            break;
          }
          batch.add(next);
        }
        runBatch(batch);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      } finally {
        batch.clear();
      }
    }
    Lora4jException closed = new Lora4jException("the runtime is closed");
    for (Pending<Q, R> p; (p = queue.poll()) != null; ) {
      p.result().completeExceptionally(closed);
    }
  }

  private void runBatch(List<Pending<Q, R>> batch) {
    try {
      List<Outcome<R>> results = runner.run(batch.stream().map(Pending::request).toList());
      if (results.size() != batch.size()) {
        throw new IllegalStateException(results.size() + " results for " + batch.size() + " requests");
      }
      for (int i = 0; i < batch.size(); i++) {
        Outcome<R> o = results.get(i);
        if (o.error() != null) {
          batch.get(i).result().completeExceptionally(o.error());
        } else {
          batch.get(i).result().complete(o.value());
        }
      }
    } catch (Exception | Error e) {
      batch.forEach(p -> p.result().completeExceptionally(e));
    }
  }

  /** Stops accepting requests, finishes the queued ones, and stops the worker. */
  @Override
  public void close() {
    open = false;
    try {
      worker.join(TimeUnit.SECONDS.toMillis(30));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
