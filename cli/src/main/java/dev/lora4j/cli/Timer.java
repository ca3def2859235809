package dev.lora4j.cli;

import java.util.Arrays;

/** Median wall time of a repeated action, after warm-up: robust to the odd slow run on a busy machine. */
final class Timer {
  @FunctionalInterface
  public interface Action {
    void run() throws Exception;
  }

  private Timer() {}

  /** Median milliseconds of {@code runs} timed calls after {@code warmup} untimed ones. */
  public static double medianMs(int warmup, int runs, Action a) throws Exception {
    for (int i = 0; i < warmup; i++) {
      a.run();
    }
    double[] t = new double[runs];
    for (int i = 0; i < runs; i++) {
      long s = System.nanoTime();
      a.run();
      t[i] = (System.nanoTime() - s) / 1e6;
    }
    Arrays.sort(t);
    return runs % 2 == 1 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
  }
}
