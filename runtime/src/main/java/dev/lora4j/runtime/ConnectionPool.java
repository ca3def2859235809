package dev.lora4j.runtime;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The executor the JDK HTTP server reads requests and writes answers on, with a deadline on both.
 *
 * <p>The JDK server reads a request's line, headers and body with blocking reads on the executor's
 * thread, and offers no per-server read timeout (its {@code sun.net.httpserver.maxReqTime} is a
 * JVM-wide property read once, useless inside a host application that made its own server first).
 * So each task here runs under a {@link Guard}: a watchdog interrupts a thread that stays in a timed
 * phase past its deadline. The connection is a blocking {@code SocketChannel}, an interruptible
 * channel, so the interrupt closes it and the blocked read or write fails at once: a stalled or slow
 * client holds a thread for at most the deadline. While a request waits for the runtime the guard is
 * paused; that wait has its own deadline.
 *
 * <p>When every thread is busy and the backlog is full, {@code execute} throws and the JDK server
 * closes that connection.
 */
final class ConnectionPool implements Executor, AutoCloseable {
  private static final long TICK_MS = 20;
  private static final ThreadLocal<Guard> CURRENT = new ThreadLocal<>();

  private final ThreadPoolExecutor pool;
  private final ScheduledExecutorService watchdog;
  private final long timeoutNanos;
  private final Set<Guard> running = ConcurrentHashMap.newKeySet();

  ConnectionPool(int threads, int backlog, Duration timeout) {
    this.timeoutNanos = timeout.toNanos();
    AtomicInteger n = new AtomicInteger();
    this.pool = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(backlog), r -> {
      Thread t = new Thread(r, "lora4j-http-io-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    this.watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "lora4j-http-watchdog");
      t.setDaemon(true);
      return t;
    });
    watchdog.scheduleWithFixedDelay(this::expire, TICK_MS, TICK_MS, TimeUnit.MILLISECONDS);
  }

  @Override
  public void execute(Runnable exchange) {
    pool.execute(() -> {
      Guard g = new Guard(Thread.currentThread());
      g.arm(timeoutNanos);
      running.add(g);
      CURRENT.set(g);
      try {
        exchange.run();
      } finally {
        CURRENT.remove();
        running.remove(g);
        g.finish();
        Thread.interrupted(); // a late interrupt belongs to this exchange, not the thread's next one
      }
    });
  }

  /** The guard of the exchange running on this thread; a no-op one off the pool (direct tests). */
  static Guard current() {
    Guard g = CURRENT.get();
    return g != null ? g : Guard.NONE;
  }

  private void expire() {
    long now = System.nanoTime();
    for (Guard g : running) {
      g.expireIfLate(now);
    }
  }

  @Override
  public void close() {
    watchdog.shutdownNow();
    pool.shutdownNow();
    try {
      pool.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** One exchange's deadline; all transitions under its lock, so an interrupt never outlives it. */
  static final class Guard {
    static final Guard NONE = new Guard(null);
    private final Thread thread;
    private long deadline;
    private boolean armed;
    private boolean finished;

    private Guard(Thread thread) {
      this.thread = thread;
    }

    synchronized void arm(long nanos) {
      deadline = System.nanoTime() + nanos;
      armed = thread != null;
    }

    /** Stops the clock while the exchange waits on the runtime (that wait has its own deadline). */
    synchronized void pause() {
      armed = false;
    }

    /** Restarts the clock for writing the answer. */
    synchronized void resume(Duration timeout) {
      arm(timeout.toNanos());
    }

    synchronized void finish() {
      finished = true;
      armed = false;
    }

    synchronized void expireIfLate(long now) {
      if (armed && !finished && now - deadline > 0) {
        armed = false;
        thread.interrupt();
      }
    }
  }
}
