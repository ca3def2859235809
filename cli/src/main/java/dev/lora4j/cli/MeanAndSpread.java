package dev.lora4j.cli;

import java.util.Arrays;
import java.util.Locale;

/**
 * Mean and spread of one measurement over repeated runs (seeds). The spread is the sample standard
 * deviation (n - 1), the honest one for three seeds; a single run has none and says so.
 */
record MeanAndSpread(double mean, double sd, double min, double max, int n) {

  static MeanAndSpread of(double... values) {
    if (values.length == 0) {
      throw new IllegalArgumentException("no values");
    }
    double mean = Arrays.stream(values).average().orElseThrow();
    double ss = Arrays.stream(values).map(v -> (v - mean) * (v - mean)).sum();
    double sd = values.length > 1 ? Math.sqrt(ss / (values.length - 1)) : Double.NaN;
    return new MeanAndSpread(mean, sd, Arrays.stream(values).min().orElseThrow(), Arrays.stream(values).max().orElseThrow(),
        values.length);
  }

  /** {@code mean ± sd} with the given decimals (just the mean for one run). */
  String meanSd(int decimals) {
    String f = "%." + decimals + "f";
    return n > 1 ? String.format(Locale.ROOT, f + " ± " + f, mean, sd) : String.format(Locale.ROOT, f, mean);
  }

  /** {@code mean (min–max)} with the given decimals (just the mean when every run agrees). */
  String meanRange(int decimals) {
    String f = "%." + decimals + "f";
    return min == max ? String.format(Locale.ROOT, f, mean)
        : String.format(Locale.ROOT, f + " (" + f + "–" + f + ")", mean, min, max);
  }
}
