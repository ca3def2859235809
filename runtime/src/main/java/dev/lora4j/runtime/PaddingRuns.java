package dev.lora4j.runtime;

import ai.onnxruntime.OrtException;
import dev.lora4j.models.text.Encoding;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Splits a batch of texts of mixed lengths into runs of similar length, because one run pads every
 * row to its longest: 32 SST-2 dev sentences in file order average 25 tokens but pad to about 55.
 * Runs of eight length-sorted rows beat runs of sixteen and of four (in-JVM passes over the dev
 * set in batches of 32: 280, 300 and 290–310 texts/s against 200–210 unsplit and 450 for the whole
 * set sorted), so a run keeps at least {@value #MIN_ROWS} rows: each run also pays ONNX Runtime's
 * fixed cost per call. {@code lora4j run --input ../shared/data/sst2/dev.tsv --max-tokens 64} (file
 * order, float32 base, 2 cores, 2026-11-30): 162–165 → 302–310 texts/s in batches of 64, 218 →
 * 263–282 in batches of 32.
 *
 * <p>A batch stays one run when splitting would save less than {@value #MIN_SAVING} of its padded
 * tokens (texts of about one length, input already sorted) or has fewer than twice
 * {@value #MIN_ROWS} rows. The runtime plans runs on the CPU only: a GPU pads almost for free and
 * pays more per call.
 */
final class PaddingRuns {
  static final int MIN_ROWS = 8;
  static final double MIN_SAVING = 0.25;

  private PaddingRuns() {}

  /** One run over some of the texts: {@code rows} index them; returns [output][row of this run]. */
  @FunctionalInterface
  interface Run {
    float[][][] run(Encoding enc, int[] rows) throws OrtException;
  }

  /**
   * Runs {@code all} in one run or (with {@code split}) in the runs {@link #plan} gives; returns
   * [output][row], rows in the order of {@code all}.
   */
  static float[][][] run(Encoding all, boolean split, Run run) throws OrtException {
    List<int[]> runs = split ? plan(all.tokenCounts()) : List.of();
    if (runs.size() < 2) {
      return run.run(all, IntStream.range(0, all.batchSize()).toArray());
    }
    float[][][] res = null;
    for (int[] rows : runs) {
      float[][][] out = run.run(all.rows(rows), rows);
      if (res == null) {
        res = new float[out.length][all.batchSize()][];
      }
      for (int o = 0; o < out.length; o++) {
        for (int i = 0; i < rows.length; i++) {
          res[o][rows[i]] = out[o][i];
        }
      }
    }
    return res;
  }

  /**
   * Row indices per run, every row in exactly one run; a single run keeps the input order.
   *
   * @param tokenCounts real tokens per row (padding excluded)
   */
  static List<int[]> plan(int[] tokenCounts) {
    int n = tokenCounts.length;
    int[] all = IntStream.range(0, n).toArray();
    if (n < 2 * MIN_ROWS) {
      return List.<int[]>of(all);
    }
    int[] sorted = IntStream.range(0, n).boxed().sorted(Comparator.comparingInt(i -> tokenCounts[i]))
        .mapToInt(Integer::intValue).toArray();
    List<int[]> runs = new ArrayList<>();
    long padded = 0;
    // runs of MIN_ROWS in length order; a remainder shorter than that joins the last run
    for (int start = 0; start < n; ) {
      int end = n - (start + MIN_ROWS) < MIN_ROWS ? n : start + MIN_ROWS;
      int[] run = Arrays.copyOfRange(sorted, start, end);
      padded += (long) run.length * tokenCounts[run[run.length - 1]];
      runs.add(run);
      start = end;
    }
    long single = (long) n * Arrays.stream(tokenCounts).max().orElse(0);
    return padded <= (1 - MIN_SAVING) * single ? runs : List.<int[]>of(all);
  }
}
