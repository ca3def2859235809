package consumer;

import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Prediction;
import java.util.Arrays;

/** Usage: Main <base name> <adapter name> <text>...; prints each text's label and logits on a line. */
public final class Main {
  public static void main(String[] args) {
    // the base and the adapter jars are dependencies: nothing names a file
    try (AdapterRuntime rt = AdapterRuntime.openFromClasspath(args[0])) {
      rt.loadFromClasspath(args[1]);
      for (String text : Arrays.copyOfRange(args, 2, args.length)) {
        Prediction p = rt.predict(args[1], text);
        System.out.println(p.label() + " " + Arrays.toString(p.logits()));
      }
    }
  }
}
