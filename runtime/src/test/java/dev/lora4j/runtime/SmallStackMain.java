package dev.lora4j.runtime;

import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Run by {@link NativeStackTest} in a fresh JVM started with a small {@code -Xss} and a long command
 * line (the conditions of the SIGSEGV in issue 12): opens the runtime on the main thread, then
 * serves texts up to and beyond the model's maximum length from the main thread and from a thread
 * with a 256 KB stack. Prints each answer's logits (one line per text) and exits 0; a native stack
 * overflow instead kills the JVM (exit 134 or 139).
 *
 * <p>Arguments: the export directory, the adapter name, then the texts; further arguments after
 * {@code --} only lengthen the command line.
 */
public final class SmallStackMain {
  private SmallStackMain() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    String adapter = args[1];
    int end = List.of(args).indexOf("--");
    List<String> texts = List.of(args).subList(2, end < 0 ? args.length : end);
    RuntimeOptions o = RuntimeOptions.defaults().withDevice(Device.CPU);
    RuntimeOptions options = new RuntimeOptions(o.session(), o.adapterBudgetBytes(), TinyBert.MAX_POSITIONS,
        1_000_000, o.maxBatch(), o.batchWindow(), o.batchRows(), o.queueCapacity());
    try (AdapterRuntime rt = AdapterRuntime.open(dir, options)) {
      rt.load(adapter);
      for (String t : texts) {
        print(rt.predict(adapter, t).logits());
      }
      Throwable[] failed = new Throwable[1];
      Thread small = new Thread(null, () -> {
        try {
          for (String t : texts) {
            print(rt.submit(adapter, t).get(60, TimeUnit.SECONDS).logits());
            print(rt.predictMixed(List.of(new MixedRequest(adapter, t))).get(0).logits());
          }
        } catch (Throwable e) {
          failed[0] = e;
        }
      }, "small-stack", 256 * 1024);
      small.start();
      small.join();
      if (failed[0] != null) {
        throw new AssertionError(failed[0]);
      }
    }
  }

  /** One line of logits, space-separated, as {@link NativeStackTest#floats} reads them back. */
  static void print(float[] logits) {
    StringBuilder b = new StringBuilder();
    for (float f : logits) {
      b.append(b.length() == 0 ? "" : " ").append(f);
    }
    System.out.println(b);
  }
}
