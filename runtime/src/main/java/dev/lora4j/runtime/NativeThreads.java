package dev.lora4j.runtime;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.NativeStack;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * lora4j's own threads for native code (ONNX Runtime and the tokenizer), so that a host's small
 * thread stacks never meet native stack use that lora4j cannot bound.
 *
 * <p>Why (issue 12, measured with onnxruntime 1.29.0 on Linux x86-64): creating the ONNX Runtime
 * environment starts its telemetry, which matches a {@code std::regex} against the whole
 * {@code /proc/self/cmdline}; libstdc++'s regex recurses once per character and takes about 256
 * bytes of stack per byte of the command line (bisected: 785 KB at 3,026 bytes, 4,802 KB at 19,026,
 * 15,800 KB at 63,026). A command line with a long class path or a long argument (the text given to
 * {@code lora4j run}) therefore overflowed the caller's stack: SIGSEGV, no Java error, no hs_err.
 * No graph or session option of lora4j drives it; {@code ORT_DISABLE_TELEMETRY=1} avoids it but a
 * library cannot set its host's environment. So the environment is created once, on a thread whose
 * stack is sized from the command line ({@link #environment()}); everything else native runs on
 * the pool here, or in place on threads from {@link #threadFactory}, which have the same stack.
 * Once the environment exists, session creation plus runs of 512-token texts (the model's maximum;
 * batches of three, mixed-batch graph included) passed with 160 KB of stack and failed with a Java
 * StackOverflowError (not a crash) at 144 KB; the pool's threads get
 * {@value #STACK_BYTES} bytes, a wide margin for other CPUs' kernels and execution providers.
 */
final class NativeThreads implements AutoCloseable {
  static final long STACK_BYTES = 8L << 20;

  private static OrtEnvironment environment;
  /** Threads of the process-wide ONNX Runtime pool every session uses; -1 when sessions have their own. */
  private static int sharedThreads = -1;

  /** A native step; may throw ONNX Runtime's checked exception, which {@link #call} passes on as is. */
  @FunctionalInterface
  interface NativeCall<T> {
    T call() throws OrtException;
  }

  private final ThreadPoolExecutor pool;
  /**
   * Calls running in place on threads from {@link #threadFactory} (not this pool's): the pool cannot
   * see them, so {@link #shutdown} waits for this count to reach zero before sessions may close.
   */
  private final AtomicInteger inPlace = new AtomicInteger();
  private volatile boolean stopping;

  /** @param threads most native calls running at once; ONNX Runtime spreads each run over the cores */
  NativeThreads(String name, int threads) {
    AtomicInteger n = new AtomicInteger();
    ThreadFactory f = r -> {
      Thread t = new Worker(r, name + "-" + n.incrementAndGet(), this);
      t.setDaemon(true);
      return t;
    };
    pool = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), f);
    pool.allowCoreThreadTimeOut(true); // an idle runtime holds no threads
  }

  private static final class Worker extends Thread {
    /** The pool it serves; null for a thread from {@link #threadFactory}, which may call any runtime. */
    private final NativeThreads owner;

    Worker(Runnable r, String name, NativeThreads owner) {
      super(null, r, name, STACK_BYTES);
      this.owner = owner;
    }
  }

  /** Whether the current thread already has a stack sized for native code. */
  static boolean onNativeThread() {
    return Thread.currentThread() instanceof Worker;
  }

  /**
   * Makes threads with the pool's stack ({@link #STACK_BYTES}), named {@code prefix-1, -2, ...}:
   * {@link #call} runs in place on them. A caller's own thread cannot be trusted the same way (Java
   * does not tell a thread's stack size, and a host may make small ones), so there each call hops to
   * the pool and back: two wake-ups, a few microseconds on an idle machine, up to milliseconds when
   * other processes hold every core (issue 16). Threads made here skip that.
   */
  static ThreadFactory threadFactory(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> new Worker(r, prefix + "-" + n.incrementAndGet(), null);
  }

  /**
   * Runs {@code c} on a native thread and returns its result; the caller waits. Exceptions come
   * back unchanged. An interrupt while the call waits in the queue cancels it; once it runs it
   * cannot be stopped (the caller's tensors and adapter leases are in use until it ends), so the
   * caller waits for it and keeps its interrupt status set.
   */
  <T> T call(NativeCall<T> c) throws OrtException {
    if (Thread.currentThread() instanceof Worker w) {
      // on this pool: a call nested in one of its tasks, which the pool already tracks
      return w.owner == this ? c.call() : callInPlace(c);
    }
    // whoever claims first decides: the worker runs the call, or the interrupted caller cancels it
    // (Future.cancel alone also "succeeds" on a call that is already running)
    AtomicBoolean claimed = new AtomicBoolean();
    Future<T> f;
    try {
      f = pool.submit(() -> {
        if (!claimed.compareAndSet(false, true)) {
          return null; // cancelled by its caller before it started
        }
        return c.call();
      });
    } catch (RejectedExecutionException e) {
      throw new Lora4jException("the runtime is closed");
    }
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return f.get();
        } catch (InterruptedException e) {
          interrupted = true;
          if (claimed.compareAndSet(false, true)) {
            f.cancel(false);
            throw new Lora4jException("interrupted before ONNX Runtime started", e);
          }
          // running: wait for it (the finally below restores the interrupt status)
        } catch (CancellationException e) {
          throw new Lora4jException("the runtime is closed", e);
        } catch (ExecutionException e) {
          Throwable cause = e.getCause();
          if (cause instanceof OrtException o) {
            throw o;
          } else if (cause instanceof RuntimeException r) {
            throw r;
          } else if (cause instanceof Error err) {
            throw err;
          }
          throw new Lora4jException("native call failed: " + cause, cause);
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** A call on a big-stack thread that is not this pool's: runs here, counted for {@link #shutdown}. */
  private <T> T callInPlace(NativeCall<T> c) throws OrtException {
    inPlace.incrementAndGet();
    try {
      // read after counting ourselves: shutdown sets the flag before it reads the count
      if (stopping) {
        throw new Lora4jException("the runtime is closed");
      }
      return c.call();
    } finally {
      if (inPlace.decrementAndGet() == 0 && stopping) {
        synchronized (inPlace) {
          inPlace.notifyAll();
        }
      }
    }
  }

  /** {@link #call} for steps that throw no checked exception. */
  <T> T run(java.util.function.Supplier<T> s) {
    try {
      return call(s::get);
    } catch (OrtException e) {
      throw new IllegalStateException("unreachable", e);
    }
  }

  /**
   * Stops taking calls and waits up to {@code timeoutMillis} for the running and queued ones;
   * returns whether they all finished (only then may the sessions they use be closed).
   */
  boolean shutdown(long timeoutMillis) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    stopping = true;
    pool.shutdown();
    try {
      boolean poolDone = pool.awaitTermination(timeoutMillis, TimeUnit.MILLISECONDS);
      synchronized (inPlace) {
        while (inPlace.get() > 0) {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            return false;
          }
          inPlace.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
      }
      return poolDone;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return pool.isTerminated() && inPlace.get() == 0;
    }
  }

  @Override
  public void close() {
    shutdown(0);
  }

  /**
   * The process-wide ONNX Runtime environment, created on the first call on a thread whose stack
   * fits the telemetry's regex over this process's command line (see the class comment).
   */
  static synchronized OrtEnvironment environment() {
    if (environment == null) {
      environment = create(null);
    }
    return environment;
  }

  /**
   * Creates the environment with one intra-op pool of {@code threads} threads (0: ONNX Runtime's
   * choice, one per core) that every session lora4j opens afterwards runs on. Only before anything
   * in the process has started ONNX Runtime: its environment exists once per process and its pools
   * are fixed when it is made.
   */
  static synchronized void shareThreads(int threads) {
    if (threads < 0 || threads > SessionSettings.MAX_THREADS) {
      throw new IllegalArgumentException("a shared thread pool takes 0 (one per core) to " + SessionSettings.MAX_THREADS
          + " threads, not " + threads);
    }
    if (sharedThreads >= 0) {
      throw new Lora4jException("lora4j: this process already shares one ONNX Runtime thread pool (" + sharedThreads
          + " threads, 0: one per core); it is set once, before any runtime opens");
    }
    if (environment != null) {
      throw new Lora4jException("lora4j: ONNX Runtime is already running in this process, so its thread pool can "
          + "no longer be shared; call AdapterRuntime.shareThreadPool before opening any runtime");
    }
    OrtEnvironment.ThreadingOptions pool = new OrtEnvironment.ThreadingOptions();
    try {
      pool.setGlobalIntraOpNumThreads(threads);
      pool.setGlobalInterOpNumThreads(1);
      pool.setGlobalSpinControl(true);
      environment = create(pool);
    } catch (OrtException e) {
      throw new Lora4jException("lora4j: ONNX Runtime refused a shared pool of " + threads + " threads: "
          + e.getMessage(), e);
    } catch (IllegalStateException e) {
      // ONNX Runtime for Java made its environment before (for the host application, not lora4j)
      throw new Lora4jException("lora4j: ONNX Runtime is already running in this process (" + e.getMessage()
          + "), so its thread pool can no longer be shared; call AdapterRuntime.shareThreadPool before anything "
          + "else uses ONNX Runtime", e);
    } finally {
      pool.close();
    }
    sharedThreads = threads;
  }

  /** Whether sessions run on the process-wide pool of {@link #shareThreads} rather than their own. */
  static synchronized boolean sharesThreads() {
    return sharedThreads >= 0;
  }

  private static OrtEnvironment create(OrtEnvironment.ThreadingOptions pool) {
    OrtEnvironment[] made = new OrtEnvironment[1];
    Throwable[] failed = new Throwable[1];
    Thread t = new Thread(null, () -> {
      try {
        made[0] = pool == null ? OrtEnvironment.getEnvironment()
            : OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, "lora4j", pool);
      } catch (Throwable e) {
        failed[0] = e;
      }
    }, "lora4j-ort-environment", NativeStack.forOnnxRuntimeStart());
    t.setDaemon(true);
    t.start();
    boolean interrupted = false;
    while (t.isAlive()) {
      try {
        t.join();
      } catch (InterruptedException e) {
        interrupted = true; // creation cannot be abandoned halfway; finish, then pass the interrupt on
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (failed[0] instanceof RuntimeException r) {
      throw r;
    } else if (failed[0] instanceof Error e) {
      throw e;
    } else if (failed[0] != null) {
      throw new Lora4jException("ONNX Runtime failed to start: " + failed[0], failed[0]);
    }
    return made[0];
  }
}
