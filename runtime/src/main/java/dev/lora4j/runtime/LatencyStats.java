package dev.lora4j.runtime;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Request counts and latency percentiles over the most recent requests (a fixed ring, so memory
 * stays constant however long the server runs).
 */
final class LatencyStats {
  private final long[] ring;
  private final AtomicLong count = new AtomicLong();
  private final AtomicLong errors = new AtomicLong();

  public LatencyStats(int window) {
    ring = new long[window];
  }

  public void record(long nanos) {
    long i = count.getAndIncrement();
    ring[(int) (i % ring.length)] = nanos;
  }

  public void recordError() {
    errors.incrementAndGet();
  }

  public long count() {
    return count.get();
  }

  public long errors() {
    return errors.get();
  }

  /** Latency percentiles in milliseconds over the window. */
  public record Snapshot(long requests, long errors, double p50Ms, double p90Ms, double p99Ms, double maxMs) {}

  public Snapshot snapshot() {
    long n = Math.min(count.get(), ring.length);
    long[] copy = Arrays.copyOf(ring, (int) n);
    Arrays.sort(copy);
    return new Snapshot(count.get(), errors.get(), pct(copy, 0.50), pct(copy, 0.90), pct(copy, 0.99),
        copy.length == 0 ? 0 : copy[copy.length - 1] / 1e6);
  }

  private static double pct(long[] sorted, double p) {
    if (sorted.length == 0) {
      return 0;
    }
    int i = (int) Math.ceil(p * sorted.length) - 1;
    return sorted[Math.max(0, i)] / 1e6;
  }
}
