package dev.lora4j.trainer.data;

import java.util.List;

/**
 * A padded batch ready for the encoder: row-major {@code [rows, seq]} ids and mask, padded with id 0
 * to the longest row of this batch only.
 *
 * @param tokens real tokens (what tokens/s counts), padding excluded
 */
public record Batch(int rows, int seq, long[] ids, long[] mask, int[] labels, long tokens) {

  public static Batch of(List<Example> examples, int[] indices) {
    int seq = 0;
    for (int i : indices) {
      seq = Math.max(seq, examples.get(i).length());
    }
    long[] ids = new long[indices.length * seq];
    long[] mask = new long[ids.length];
    int[] labels = new int[indices.length];
    long tokens = 0;
    for (int r = 0; r < indices.length; r++) {
      Example e = examples.get(indices[r]);
      System.arraycopy(e.ids(), 0, ids, r * seq, e.length());
      java.util.Arrays.fill(mask, r * seq, r * seq + e.length(), 1L);
      labels[r] = e.label();
      tokens += e.length();
    }
    return new Batch(indices.length, seq, ids, mask, labels, tokens);
  }
}
