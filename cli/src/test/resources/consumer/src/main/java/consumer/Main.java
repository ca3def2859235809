package consumer;

import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Prediction;
import java.nio.file.Path;
import java.util.Arrays;

/** Usage: Main <export dir> <adapter name> <text>...; prints each text's label and logits on a line. */
public final class Main {
  public static void main(String[] args) {
    try (AdapterRuntime rt = AdapterRuntime.open(Path.of(args[0]))) {
      rt.loadFromClasspath(args[1]); // the adapter jar is a dependency: nothing names a file
      for (String text : Arrays.copyOfRange(args, 2, args.length)) {
        Prediction p = rt.predict(args[1], text);
        System.out.println(p.label() + " " + Arrays.toString(p.logits()));
      }
    }
  }
}
