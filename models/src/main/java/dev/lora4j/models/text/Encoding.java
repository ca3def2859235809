package dev.lora4j.models.text;

import java.nio.LongBuffer;
import java.util.Arrays;

/**
 * A tokenized batch in the layout BERT-family ONNX graphs take: three {@code int64 [batch, seq]}
 * tensors, stored flat in row-major order (row {@code r}, position {@code t} is at index
 * {@code r * sequenceLength + t}). Rows are padded on the right up to the longest row of the batch;
 * padding has attention mask 0.
 *
 * <p>Immutable: the arrays are copied in, and the array accessors return copies. To feed ONNX
 * Runtime or DJL without a copy, use the read-only {@code *Buffer()} views with {@link #shape()},
 * e.g. {@code OnnxTensor.createTensor(env, e.inputIdsBuffer(), e.shape())}.
 *
 * @param batchSize number of texts
 * @param sequenceLength length of every row after padding
 * @param inputIds token ids, {@code batchSize * sequenceLength} values
 * @param attentionMask 1 for real tokens (special tokens included), 0 for padding
 * @param tokenTypeIds segment ids (all 0 for single texts)
 * @param tokenCounts per row, the number of real tokens (special tokens included, padding not)
 * @param truncated per row, whether the text was longer than the maximum length and was cut
 */
public record Encoding(int batchSize, int sequenceLength, long[] inputIds, long[] attentionMask,
    long[] tokenTypeIds, int[] tokenCounts, boolean[] truncated) {

  public Encoding {
    if (batchSize <= 0 || sequenceLength <= 0) {
      throw new IllegalArgumentException("empty batch: " + batchSize + " x " + sequenceLength);
    }
    long cells = (long) batchSize * sequenceLength;
    if (inputIds.length != cells || attentionMask.length != cells || tokenTypeIds.length != cells) {
      throw new IllegalArgumentException("arrays must hold " + batchSize + " x " + sequenceLength
          + " values, got " + inputIds.length + ", " + attentionMask.length + ", " + tokenTypeIds.length);
    }
    if (tokenCounts.length != batchSize || truncated.length != batchSize) {
      throw new IllegalArgumentException("per-row arrays must hold " + batchSize + " values");
    }
    for (int count : tokenCounts) {
      if (count <= 0 || count > sequenceLength) {
        throw new IllegalArgumentException("token count " + count + " outside 1.." + sequenceLength);
      }
    }
    inputIds = inputIds.clone();
    attentionMask = attentionMask.clone();
    tokenTypeIds = tokenTypeIds.clone();
    tokenCounts = tokenCounts.clone();
    truncated = truncated.clone();
  }

  /** {@code {batchSize, sequenceLength}}, the shape ONNX Runtime and DJL want for each tensor. */
  public long[] shape() {
    return new long[] {batchSize, sequenceLength};
  }

  /** A copy; see {@link #inputIdsBuffer()} for a view. */
  @Override
  public long[] inputIds() {
    return inputIds.clone();
  }

  /** A copy; see {@link #attentionMaskBuffer()} for a view. */
  @Override
  public long[] attentionMask() {
    return attentionMask.clone();
  }

  /** A copy; see {@link #tokenTypeIdsBuffer()} for a view. */
  @Override
  public long[] tokenTypeIds() {
    return tokenTypeIds.clone();
  }

  @Override
  public int[] tokenCounts() {
    return tokenCounts.clone();
  }

  @Override
  public boolean[] truncated() {
    return truncated.clone();
  }

  public LongBuffer inputIdsBuffer() {
    return LongBuffer.wrap(inputIds).asReadOnlyBuffer();
  }

  public LongBuffer attentionMaskBuffer() {
    return LongBuffer.wrap(attentionMask).asReadOnlyBuffer();
  }

  public LongBuffer tokenTypeIdsBuffer() {
    return LongBuffer.wrap(tokenTypeIds).asReadOnlyBuffer();
  }

  /** Real tokens in {@code row}, special tokens included: they sit at positions {@code 0..count-1}. */
  public int tokenCount(int row) {
    return tokenCounts[row];
  }

  public boolean isTruncated(int row) {
    return truncated[row];
  }

  /** The token ids of one row without its padding. */
  public long[] rowIds(int row) {
    int from = row * sequenceLength;
    return Arrays.copyOfRange(inputIds, from, from + tokenCounts[row]);
  }

  /**
   * The batch of just {@code rows} (indices into this one, in that order), padded to the longest of
   * them: what encoding their texts alone gives, without tokenizing them again.
   */
  public Encoding rows(int[] rows) {
    int seq = 0;
    for (int r : rows) {
      seq = Math.max(seq, tokenCounts[r]);
    }
    long[] ids = new long[rows.length * seq];
    long[] mask = new long[rows.length * seq];
    long[] types = new long[rows.length * seq];
    int[] counts = new int[rows.length];
    boolean[] cut = new boolean[rows.length];
    for (int i = 0; i < rows.length; i++) {
      int from = rows[i] * sequenceLength;
      // right padding: a row's first seq positions hold its tokens and, after them, its own padding
      System.arraycopy(inputIds, from, ids, i * seq, seq);
      System.arraycopy(attentionMask, from, mask, i * seq, seq);
      System.arraycopy(tokenTypeIds, from, types, i * seq, seq);
      counts[i] = tokenCounts[rows[i]];
      cut[i] = truncated[rows[i]];
    }
    return new Encoding(rows.length, seq, ids, mask, types, counts, cut);
  }

  // Records compare array components by identity; an encoding is a value, so compare contents.
  @Override
  public boolean equals(Object o) {
    return o instanceof Encoding e
        && batchSize == e.batchSize
        && sequenceLength == e.sequenceLength
        && Arrays.equals(inputIds, e.inputIds)
        && Arrays.equals(attentionMask, e.attentionMask)
        && Arrays.equals(tokenTypeIds, e.tokenTypeIds)
        && Arrays.equals(tokenCounts, e.tokenCounts)
        && Arrays.equals(truncated, e.truncated);
  }

  @Override
  public int hashCode() {
    int h = 31 * batchSize + sequenceLength;
    h = 31 * h + Arrays.hashCode(inputIds);
    h = 31 * h + Arrays.hashCode(attentionMask);
    h = 31 * h + Arrays.hashCode(tokenTypeIds);
    return 31 * h + Arrays.hashCode(tokenCounts);
  }

  @Override
  public String toString() {
    return "Encoding[" + batchSize + " x " + sequenceLength + ", tokenCounts=" + Arrays.toString(tokenCounts) + "]";
  }
}
