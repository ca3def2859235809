package dev.lora4j.cli;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Median times of several actions taken interleaved (A, B, C, A, B, C, ...; the starting action
 * rotates each round), so that a change of load on a shared machine hits every action alike and
 * their ratios stay meaningful where their absolute times do not.
 */
final class Interleaved {
  /**
   * Median wall and CPU milliseconds per call. CPU time is summed over this JVM's Java threads (the
   * caller, a hop's worker; for {@link #on}, the hand-off too), not ONNX Runtime's own pool
   * threads: with one ONNX Runtime intra-op thread the whole run is on Java threads and, on a
   * loaded machine where the wall clock also counts waiting for a core, CPU time shows the work. (The process CPU clock the JVM offers
   * ticks in 10 ms steps on Linux, too coarse for one run.)
   */
  record Median(double wallMs, double cpuMs) {}

  private static final com.sun.management.ThreadMXBean THREADS =
      (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

  /** One timed call: returns its own duration, so a call may be timed on another thread. */
  @FunctionalInterface
  interface Timed {
    long nanos() throws Exception;
  }

  private Interleaved() {}

  /** {@code a} timed on the calling thread. */
  static Timed here(Timer.Action a) {
    return here(a, 1);
  }

  /** {@code a} called {@code calls} times back to back on the calling thread; the mean per call. */
  static Timed here(Timer.Action a, int calls) {
    return () -> {
      long s = System.nanoTime();
      for (int i = 0; i < calls; i++) {
        a.run();
      }
      return (System.nanoTime() - s) / calls;
    };
  }

  /**
   * {@code a} run and timed on a thread of {@code on}; the hand-off to that thread and back is not
   * counted (it is how a caller already on such a thread would call).
   */
  static Timed on(java.util.concurrent.ExecutorService on, Timer.Action a) {
    return on(on, a, 1);
  }

  /** As {@link #on(java.util.concurrent.ExecutorService, Timer.Action)}, {@code calls} calls per hand-off. */
  static Timed on(java.util.concurrent.ExecutorService on, Timer.Action a, int calls) {
    Timed t = here(a, calls);
    return () -> on.submit(t::nanos).get();
  }

  /**
   * Medians per call of each action. One sample is {@code repeat} back-to-back calls divided by
   * {@code repeat} (for actions too short to time one by one); each action gets {@code warmup}
   * untimed samples first, also interleaved.
   */
  static Map<String, Median> medians(Map<String, Timed> actions, int warmup, int rounds, int repeat)
      throws Exception {
    List<String> names = List.copyOf(actions.keySet());
    int n = names.size();
    double[][] wall = new double[n][rounds];
    double[][] cpu = new double[n][rounds];
    for (int round = -warmup; round < rounds; round++) {
      for (int k = 0; k < n; k++) {
        int i = Math.floorMod(round + k, n);
        Timed a = actions.get(names.get(i));
        long[] ids = THREADS.getAllThreadIds();
        long[] c = THREADS.getThreadCpuTime(ids);
        long took = 0;
        for (int r = 0; r < repeat; r++) {
          took += a.nanos();
        }
        long[] d = THREADS.getThreadCpuTime(ids);
        if (round >= 0) {
          wall[i][round] = took / 1e6 / repeat;
          long sum = 0;
          for (int t = 0; t < ids.length; t++) {
            sum += c[t] < 0 || d[t] < 0 ? 0 : d[t] - c[t]; // -1: the thread ended, or was not there
          }
          cpu[i][round] = sum / 1e6 / repeat;
        }
      }
    }
    Map<String, Median> out = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      out.put(names.get(i), new Median(median(wall[i]), median(cpu[i])));
    }
    return out;
  }

  /**
   * Median milliseconds per call of actions that are only themselves run after run (the same
   * adapter every run): {@code blocks} rounds of a block of {@code block} calls per action, the
   * actions alternating block by block so that load drifting during the measurement hits each alike;
   * a block's first call follows another action and is not timed.
   */
  static Map<String, Double> blockMedians(Map<String, Timer.Action> actions, int blocks, int block) throws Exception {
    Map<String, double[][]> samples = blockSamples(actions, blocks, block);
    Map<String, Double> out = new LinkedHashMap<>();
    samples.forEach((k, v) -> out.put(k, medianOfAll(v)));
    return out;
  }

  /**
   * Each action's median per call, and per round b's block median minus a's ({@code differencesMs},
   * in round order); {@link #bMinusAMs} is their median.
   */
  record Paired(double aMs, double bMs, double[] differencesMs) {
    double bMinusAMs() {
      return median(differencesMs);
    }
  }

  /**
   * Two actions in alternating blocks as {@link #blockMedians}, for a small difference between two
   * long calls: each round's pair of blocks runs back to back, so its difference is taken under one
   * load, and the median over rounds sheds the rounds a burst of load hit. (The difference of the two
   * overall medians keeps whatever drift separates the samples each median happens to pick.)
   */
  static Paired pairedBlocks(Timer.Action a, Timer.Action b, int rounds, int block) throws Exception {
    Map<String, Timer.Action> both = new LinkedHashMap<>();
    both.put("a", a);
    both.put("b", b);
    Map<String, double[][]> s = blockSamples(both, rounds, block);
    double[] diff = new double[rounds];
    for (int r = 0; r < rounds; r++) {
      diff[r] = median(s.get("b")[r]) - median(s.get("a")[r]);
    }
    return new Paired(medianOfAll(s.get("a")), medianOfAll(s.get("b")), diff);
  }

  /** Milliseconds per timed call: [round][call] for each action, blocks alternating as {@link #blockMedians}. */
  private static Map<String, double[][]> blockSamples(Map<String, Timer.Action> actions, int blocks, int block)
      throws Exception {
    Map<String, double[][]> samples = new LinkedHashMap<>();
    actions.keySet().forEach(k -> samples.put(k, new double[blocks][block - 1]));
    for (int b = 0; b < blocks; b++) {
      for (Map.Entry<String, Timer.Action> e : actions.entrySet()) {
        e.getValue().run();
        for (int i = 0; i < block - 1; i++) {
          long s = System.nanoTime();
          e.getValue().run();
          samples.get(e.getKey())[b][i] = (System.nanoTime() - s) / 1e6;
        }
      }
    }
    return samples;
  }

  /** The median of every sample of every round. */
  private static double medianOfAll(double[][] rounds) {
    return median(Arrays.stream(rounds).flatMapToDouble(Arrays::stream).toArray());
  }

  static double median(double[] t) {
    double[] s = t.clone();
    Arrays.sort(s);
    int n = s.length;
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }
}
