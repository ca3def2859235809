package dev.lora4j.runtime;

import dev.lora4j.models.Lora4jException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Gathers concurrent single requests into batches: the first request opens a window of at most
 * {@code maxWait}; the batch runs when the window closes or {@code maxRows} requests are in, on
 * one worker thread. Requests beyond the queue's capacity are refused at once (back-pressure)
 * instead of piling up.
 *
 * <p>With a zero window the batch is whatever is queued when the worker is free: requests that
 * arrive while a batch runs make up the next one, so batches grow with the load and an idle
 * runtime answers at once. A window only helps where one run costs about the same for one row as
 * for many and requests arrive sparsely (a GPU); it never closes early below {@code maxRows}, so on
 * a CPU every batch of fewer rows pays all of it (see {@link RuntimeOptions#defaults()}).
 */
final class MicroBatcher<Q, R> implements AutoCloseable {
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
  /**
   * Guards {@link #open}: a submit checks and enqueues under the read lock, closing flips it under
   * the write lock, so nothing enters the queue after the worker may have drained it for the last
   * time (such a request would never complete).
   */
  private final ReadWriteLock gate = new ReentrantReadWriteLock();
  private volatile boolean open = true;

  public MicroBatcher(BatchRunner<Q, R> runner, int maxRows, Duration maxWait, int capacity) {
    this(runner, maxRows, maxWait, capacity, r -> new Thread(r, "lora4j-micro-batcher"));
  }

  /** @param threads makes the one worker thread (the runtime gives it a stack sized for native code) */
  public MicroBatcher(BatchRunner<Q, R> runner, int maxRows, Duration maxWait, int capacity, ThreadFactory threads) {
    if (maxRows < 1 || capacity < maxRows || maxWait.isNegative()) {
      throw new IllegalArgumentException("need maxRows >= 1, capacity >= maxRows, maxWait >= 0");
    }
    this.runner = runner;
    this.maxRows = maxRows;
    this.maxWaitNanos = maxWait.toNanos();
    this.queue = new ArrayBlockingQueue<>(capacity);
    this.worker = threads.newThread(this::loop);
    this.worker.setDaemon(true);
    this.worker.start();
  }

  /** Queues {@code request}; the future always completes: with its answer, its error, or a refusal. */
  public CompletableFuture<R> submit(Q request) {
    CompletableFuture<R> f = new CompletableFuture<>();
    gate.readLock().lock();
    try {
      if (!open) {
        f.completeExceptionally(closed());
      } else if (!queue.offer(new Pending<>(request, f))) {
        f.completeExceptionally(new Lora4jException("too many requests waiting (" + queue.size() + "); try again"));
      }
    } finally {
      gate.readLock().unlock();
    }
    return f;
  }

  private void loop() {
    List<Pending<Q, R>> batch = new ArrayList<>(maxRows);
    try {
      while (open || !queue.isEmpty()) {
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
        batch.clear();
      }
    } catch (InterruptedException e) {
      // an interrupted worker stops for good: refuse new requests and fail what it holds, so no
      // accepted request waits forever
      stopAccepting();
      Lora4jException stopped = new Lora4jException("the runtime's batching thread was interrupted");
      batch.forEach(p -> p.result().completeExceptionally(stopped));
      failQueued(stopped);
      Thread.currentThread().interrupt();
      return;
    }
    failQueued(closed());
  }

  private void stopAccepting() {
    gate.writeLock().lock();
    try {
      open = false;
    } finally {
      gate.writeLock().unlock();
    }
  }

  private void failQueued(Lora4jException why) {
    for (Pending<Q, R> p; (p = queue.poll()) != null; ) {
      p.result().completeExceptionally(why);
    }
  }

  private static Lora4jException closed() {
    return new Lora4jException("the runtime is closed");
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

  /**
   * Stops accepting requests and lets the worker finish the queued ones, waiting up to
   * {@code timeoutMillis}; returns whether it stopped (only then is no batch running). Requests
   * still queued at the deadline are failed.
   */
  public boolean stop(long timeoutMillis) {
    stopAccepting();
    boolean interrupted = false;
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    while (worker.isAlive()) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        break;
      }
      try {
        worker.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
      } catch (InterruptedException e) {
        interrupted = true; // finish closing first; the caller's interrupt is restored below
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    failQueued(closed());
    return !worker.isAlive();
  }

  /** Stops accepting requests, finishes the queued ones (up to 30 s), and stops the worker. */
  @Override
  public void close() {
    stop(TimeUnit.SECONDS.toMillis(30));
  }
}
