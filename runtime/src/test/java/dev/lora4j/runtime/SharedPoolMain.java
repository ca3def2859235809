package dev.lora4j.runtime;

import dev.lora4j.models.Lora4jException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Run by {@link SharedThreadPoolTest} in a fresh JVM, where nothing has started ONNX Runtime yet:
 * shares one pool, opens the export twice (two runtimes, each with its multi-adapter and mixed-batch
 * session), prints how many native threads the sessions started (none on a shared pool; a pool of
 * their own starts its workers) and, for each text, the logits of a
 * single request on the first runtime, on the second, and of a mixed batch on the first, alternating
 * the sessions call by call. Then prints how a second {@code shareThreadPool} and a session thread
 * count were refused.
 *
 * <p>Arguments: the export directory, the adapter name, then the texts.
 */
public final class SharedPoolMain {
  private static final String PREFIX = "lora4j-native";

  private SharedPoolMain() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    String adapter = args[1];
    List<String> texts = List.of(args).subList(2, args.length);
    AdapterRuntime.shareThreadPool(0);
    RuntimeOptions cpu = RuntimeOptions.defaults().withDevice(Device.CPU);
    try (AdapterRuntime a = AdapterRuntime.open(dir, cpu)) {
      a.load(adapter);
      a.predict(adapter, texts.get(0));
      a.predictMixed(List.of(new MixedRequest(adapter, texts.get(0))));
      try (AdapterRuntime b = AdapterRuntime.open(dir, cpu)) {
        b.load(adapter);
        b.predict(adapter, texts.get(0));
        b.predictMixed(List.of(new MixedRequest(adapter, texts.get(0))));
        System.out.println("native threads started from runtime threads: " + nativeThreadsFromRuntimeThreads());
        answer(a, b, adapter, texts);
      }
    }
    try {
      AdapterRuntime.shareThreadPool(0);
      System.out.println("second shareThreadPool accepted");
    } catch (Lora4jException e) {
      System.out.println("second shareThreadPool refused: " + e.getMessage());
    }
    try (AdapterRuntime c = AdapterRuntime.open(dir, cpu.withSession(cpu.session().withThreads(1)))) {
      System.out.println("session threads accepted");
    } catch (IllegalArgumentException e) {
      System.out.println("session threads refused: " + e.getMessage());
    }
  }

  /** For each text: a single request on {@code a}, on {@code b}, and a mixed batch on {@code a}. */
  private static void answer(AdapterRuntime a, AdapterRuntime b, String adapter, List<String> texts) {
    for (String t : texts) {
      SmallStackMain.print(a.predict(adapter, t).logits());
      SmallStackMain.print(b.predict(adapter, t).logits());
      SmallStackMain.print(a.predictMixed(List.of(new MixedRequest(adapter, t))).get(0).logits());
    }
  }

  /**
   * Native threads started from the runtimes' own threads ({@code lora4j-native-*}, where sessions
   * are made): a session's own ONNX Runtime pool starts its workers there and they inherit that
   * name, while the shared pool's were started with the environment. Counted as threads of that
   * name in /proc minus the Java threads of that name; -1 without /proc (not Linux).
   */
  private static long nativeThreadsFromRuntimeThreads() throws IOException {
    Path tasks = Path.of("/proc/self/task");
    if (!Files.isDirectory(tasks)) {
      return -1;
    }
    long named = 0;
    try (Stream<Path> all = Files.list(tasks)) {
      for (Path t : all.toList()) {
        try {
          named += Files.readString(t.resolve("comm")).startsWith(PREFIX) ? 1 : 0;
        } catch (IOException gone) {
          // the thread ended while listed
        }
      }
    }
    return named - Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith(PREFIX)).count();
  }
}
