// Issue 16 item 3: the runtime's predict time, float32 vs int8 base, on two exports of one adapter
// (two ways of writing the graphs), interleaved in one JVM. Used for branches on all 36 modules vs the
// 12 a query,value adapter uses, and for the fused kernels vs the graphs before them:
//   ./lora4j export --adapter <q,v adapter> --name sst2-lora --format multi --quantize int8 --adapter-modules all --out e-all
//   ./lora4j export --adapter <q,v adapter> --name sst2-lora --format multi --quantize int8 --out e-used
//   java -cp "cli/target/classes:$(cat cli/target/lora4j.classpath)" scripts/bench-exports.java 36=e-all 12=e-used \
//       ../shared/data/sst2/dev.tsv 8 100
// A measurement, not part of lora4j (single-file source launch, Java 17).
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Device;
import dev.lora4j.runtime.RuntimeOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** Interleaved batch-1 (and batch-32) predict timings of four runtimes: float32 / int8 base x two exports. */
public class BenchExports {
  public static void main(String[] args) throws Exception {
    if (args.length != 5) {
      System.err.println("usage: bench-exports.java <label>=<export> <label>=<export> <sentences.tsv> <rounds> <runs per round>");
      System.exit(2);
    }
    String[] la = args[0].split("=", 2);
    String[] lb = args[1].split("=", 2);
    Path all = Path.of(la[1]);
    Path used = Path.of(lb[1]);
    List<String> texts = Files.readAllLines(Path.of(args[2])).stream().skip(1).map(l -> l.split("\t")[0]).limit(64).toList();
    int rounds = Integer.parseInt(args[3]);
    int per = Integer.parseInt(args[4]);
    String[] names = {"f32-" + la[0], "i8-" + la[0], "f32-" + lb[0], "i8-" + lb[0]};
    AdapterRuntime[] rts = {
      AdapterRuntime.open(all, RuntimeOptions.defaults().withDevice(Device.CPU)),
      AdapterRuntime.open(all, RuntimeOptions.defaults().withDevice(Device.CPU).withInt8Base(true)),
      AdapterRuntime.open(used, RuntimeOptions.defaults().withDevice(Device.CPU)),
      AdapterRuntime.open(used, RuntimeOptions.defaults().withDevice(Device.CPU).withInt8Base(true))};
    for (AdapterRuntime rt : rts) {
      rt.load("sst2-lora");
      for (int i = 0; i < 40; i++) {
        rt.predict("sst2-lora", texts.get(i % texts.size()));
      }
    }
    // exactness: the two exports, same base precision, same answers
    for (int v = 0; v < 2; v++) {
      double m = 0;
      for (String t : texts.subList(0, 16)) {
        float[] x = rts[v].predict("sst2-lora", t).logits();
        float[] y = rts[v + 2].predict("sst2-lora", t).logits();
        for (int i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
      }
      System.out.printf(Locale.ROOT, "%s vs %s: max |logit diff| %.2e%n", names[v], names[v + 2], m);
    }
    System.out.println("load before " + Files.readString(Path.of("/proc/loadavg")).trim());
    for (int b : new int[] {1, 32}) {
      double[][] ms = new double[4][rounds];
      int n = b == 1 ? per : Math.max(3, per / 12);
      for (int r = 0; r < rounds; r++) {
        for (int v = 0; v < 4; v++) {
          long t0 = System.nanoTime();
          for (int i = 0; i < n; i++) {
            if (b == 1) rts[v].predict("sst2-lora", texts.get((i + r) % texts.size()));
            else rts[v].predict("sst2-lora", texts.subList(0, 32));
          }
          ms[v][r] = (System.nanoTime() - t0) / 1e6 / n;
        }
      }
      for (int v = 0; v < 4; v++) {
        System.out.printf(Locale.ROOT, "batch %d %-7s median %.2f ms%n", b, names[v], median(ms[v]));
      }
      int[][] pairs = {{0, 1}, {2, 3}, {0, 3}, {1, 3}, {0, 2}};
      for (int[] p : pairs) {
        double[] q = new double[rounds];
        for (int r = 0; r < rounds; r++) q[r] = ms[p[0]][r] / ms[p[1]][r];
        double[] s = q.clone();
        Arrays.sort(s);
        System.out.printf(Locale.ROOT, "  batch %d  %s / %s time: %.2fx (rounds %.2f-%.2f)%n", b, names[p[0]], names[p[1]],
            median(q), s[0], s[rounds - 1]);
      }
    }
    System.out.println("load after " + Files.readString(Path.of("/proc/loadavg")).trim());
    for (AdapterRuntime rt : rts) rt.close();
  }

  static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
