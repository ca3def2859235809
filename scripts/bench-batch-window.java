// The micro-batcher's window (RuntimeOptions.batchWindow): requests a second that batch-1 submit()
// calls get (the server's path for a single text) from 1, 2 and 8 callers that each wait for their
// answer, float32 and int8 base, each window in turn, interleaved rounds in one JVM:
//   ./lora4j export --adapter <adapter> --name a --format multi,mixed --quantize int8 --out e
//   java -cp "cli/target/classes:$(cat cli/target/lora4j.classpath)" scripts/bench-batch-window.java e a \
//       ../shared/data/sst2/dev.tsv 0,2 1,2,8 300
// A measurement, not part of lora4j (single-file source launch, Java 17).
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.RuntimeOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

public class BenchBatchWindow {
  private static final int ROUNDS = 4;

  public static void main(String[] args) throws Exception {
    if (args.length != 6) {
      System.err.println("usage: bench-batch-window.java <export> <adapter> <sentences.tsv> <windows ms, e.g. 0,2>"
          + " <callers, e.g. 1,2,8> <requests per caller>");
      System.exit(2);
    }
    Path export = Path.of(args[0]);
    String adapter = args[1];
    List<String> all = new ArrayList<>(Files.readAllLines(Path.of(args[2])).stream().skip(1)
        .map(l -> l.split("\t")[0]).toList());
    // the bench's texts: the 32 of median length
    all.sort(Comparator.comparingInt((String x) -> x.split(" ").length).thenComparing(x -> x));
    List<String> texts = all.subList(all.size() / 2 - 16, all.size() / 2 + 16);
    long[] windows = Arrays.stream(args[3].split(",")).mapToLong(Long::parseLong).toArray();
    int[] callers = Arrays.stream(args[4].split(",")).mapToInt(Integer::parseInt).toArray();
    int per = Integer.parseInt(args[5]);
    System.out.printf("load average before: %s", Files.readString(Path.of("/proc/loadavg")));
    for (int c : callers) {
      List<AdapterRuntime> rts = new ArrayList<>();
      List<String> labels = new ArrayList<>();
      try {
        for (long w : windows) {
          for (boolean int8 : new boolean[] {false, true}) {
            RuntimeOptions o = RuntimeOptions.defaults().withBatching(Duration.ofMillis(w), 32).withInt8Base(int8);
            AdapterRuntime rt = AdapterRuntime.open(export, o);
            rt.load(adapter);
            rts.add(rt);
            labels.add((int8 ? "int8   " : "float32") + ", window " + w + " ms");
          }
        }
        double[] sum = new double[rts.size()];
        ExecutorService pool = Executors.newFixedThreadPool(c);
        try {
          for (int round = -1; round < ROUNDS; round++) { // round -1 warms up
            for (int k = 0; k < rts.size(); k++) {
              double rps = requestsPerSecond(pool, rts.get(k), adapter, texts, c, round < 0 ? per / 4 : per);
              if (round >= 0) {
                sum[k] += rps;
              }
            }
          }
        } finally {
          pool.shutdown();
        }
        for (int k = 0; k < rts.size(); k++) {
          System.out.printf(Locale.ROOT, "%d caller(s), %s: %.0f requests/s%n", c, labels.get(k), sum[k] / ROUNDS);
        }
      } finally {
        for (AdapterRuntime rt : rts) {
          rt.close();
        }
      }
    }
    System.out.printf("load average after: %s", Files.readString(Path.of("/proc/loadavg")));
  }

  private static double requestsPerSecond(ExecutorService pool, AdapterRuntime rt, String adapter, List<String> texts,
      int callers, int per) throws Exception {
    long t0 = System.nanoTime();
    List<Future<?>> done = new ArrayList<>();
    for (int c = 0; c < callers; c++) {
      int offset = c * 7;
      done.add(pool.submit(() -> {
        for (int i = 0; i < per; i++) {
          rt.submit(adapter, texts.get((offset + i) % texts.size())).get();
        }
        return null;
      }));
    }
    for (Future<?> d : done) {
      d.get();
    }
    return callers * per / ((System.nanoTime() - t0) / 1e9);
  }
}
