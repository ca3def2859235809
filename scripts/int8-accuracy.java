// Issue 16 item 3: SST-2 accuracy of the float32 and the int8 base on one export, for each adapter
// file given, with the runtime's predict in batches of <batch> sentences (1: one at a time, no padding).
//   java -cp "cli/target/classes:$(cat cli/target/lora4j.classpath)" scripts/int8-accuracy.java \
//       <export dir with --quantize int8> <a.onnx_adapter>[,<b.onnx_adapter>...] ../shared/data/sst2/dev.tsv 64
// A measurement, not part of lora4j (single-file source launch, Java 17).
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Device;
import dev.lora4j.runtime.Prediction;
import dev.lora4j.runtime.RuntimeOptions;
import java.nio.file.*;
import java.util.*;
/** Accuracy of float32 vs int8 per adapter, and how often their answers agree. */
public class Int8Accuracy {
  public static void main(String[] a) throws Exception {
    Path export = Path.of(a[0]); int B = Integer.parseInt(a[3]);
    List<String[]> rows = Files.readAllLines(Path.of(a[2])).stream().skip(1).map(l -> l.split("\t")).toList();
    for (String adapter : a[1].split(",")) {
      String name = Path.of(adapter).getFileName().toString().replace(".onnx_adapter", "");
      int[] correct = new int[2]; int agree = 0;
      try (AdapterRuntime f = AdapterRuntime.open(export, RuntimeOptions.defaults().withDevice(Device.CPU).withMaxBatch(64));
           AdapterRuntime q = AdapterRuntime.open(export, RuntimeOptions.defaults().withDevice(Device.CPU).withMaxBatch(64).withInt8Base(true))) {
        f.load(name, Path.of(adapter)); q.load(name, Path.of(adapter));
        for (int s = 0; s < rows.size(); s += B) {
          List<String[]> chunk = rows.subList(s, Math.min(rows.size(), s + B));
          List<String> texts = chunk.stream().map(r -> r[0]).toList();
          List<Prediction> pf = f.predict(name, texts), pq = q.predict(name, texts);
          for (int i = 0; i < chunk.size(); i++) {
            String gold = chunk.get(i)[1];
            if (pf.get(i).label().equals(gold)) correct[0]++;
            if (pq.get(i).label().equals(gold)) correct[1]++;
            if (pf.get(i).label().equals(pq.get(i).label())) agree++;
          }
        }
      }
      System.out.printf(Locale.ROOT, "%s %s: f32 %.2f%% int8 %.2f%% diff %.3f pt agree %.2f%%%n", export, name,
          100.0 * correct[0] / rows.size(), 100.0 * correct[1] / rows.size(), 100.0 * (correct[1] - correct[0]) / rows.size(), 100.0 * agree / rows.size());
    }
  }
}
