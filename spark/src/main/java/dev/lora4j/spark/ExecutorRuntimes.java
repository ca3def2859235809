package dev.lora4j.spark;

import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.RuntimeOptions;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The runtimes of this JVM (a Spark executor, or the driver in local mode): one per export directory
 * and options, opened by the first task that needs it, shared by every later task, parallel ones
 * included ({@link AdapterRuntime} is thread-safe), and closed when the JVM exits.
 */
final class ExecutorRuntimes {
  private record Key(String exportDir, RuntimeOptions options) {}

  /** A runtime and the adapters already loaded in it. */
  private record Held(AdapterRuntime runtime, Map<String, Boolean> loaded) {}

  private static final Map<Key, Held> HELD = new ConcurrentHashMap<>();
  private static final AtomicInteger OPENED = new AtomicInteger();
  private static final AtomicBoolean HOOKED = new AtomicBoolean();

  private ExecutorRuntimes() {}

  /**
   * The runtime for this export and options, with {@code adapter} loaded. Tasks that ask for the same
   * one while it opens wait for it (computeIfAbsent holds them) rather than each opening a copy of the
   * base model; a failed open or load is not remembered, so every task reports it.
   */
  static AdapterRuntime withAdapter(String exportDir, RuntimeOptions options, String adapter) {
    // a relative directory is the executor's own working directory's (where spark-submit --files lands)
    Key key = new Key(Path.of(exportDir).toAbsolutePath().normalize().toString(), options);
    Held held = HELD.computeIfAbsent(key, ExecutorRuntimes::open);
    held.loaded().computeIfAbsent(adapter, name -> {
      held.runtime().load(name);
      return Boolean.TRUE;
    });
    return held.runtime();
  }

  private static Held open(Key key) {
    if (HOOKED.compareAndSet(false, true)) {
      Runtime.getRuntime().addShutdownHook(new Thread(ExecutorRuntimes::closeAll, "lora4j-spark-close"));
    }
    Held held = new Held(AdapterRuntime.open(Path.of(key.exportDir()), key.options()), new ConcurrentHashMap<>());
    OPENED.incrementAndGet();
    return held;
  }

  /** How many runtimes this JVM has opened, ever. */
  static int opened() {
    return OPENED.get();
  }

  /** Closes every runtime; a later task opens its runtime anew. */
  static void closeAll() {
    for (Key key : HELD.keySet()) {
      Held held = HELD.remove(key);
      if (held != null) {
        held.runtime().close();
      }
    }
  }
}
