package dev.lora4j.runtime;

import java.time.Duration;

/**
 * How an {@link AdapterRuntime} behaves. Immutable; start from {@link #defaults()} and change what
 * you need.
 *
 * @param session device and threads for ONNX Runtime
 * @param adapterBudgetBytes adapter weights kept resident; beyond it the least recently used ones
 *     are evicted and reloaded on demand
 * @param maxTokens texts are truncated to this many tokens (special tokens included), or at the
 *     base model's positions where it has fewer (export.json {@code base.max_positions})
 * @param maxTextChars longer texts are refused, before tokenizing
 * @param maxBatch most texts in one call
 * @param batchWindow how long the micro-batcher waits to fill a batch of single requests (zero:
 *     it batches what queued while the previous batch ran)
 * @param batchRows most rows the micro-batcher puts in one run
 * @param queueCapacity single requests waiting beyond this are refused (back-pressure)
 * @param int8Base serve the export's int8-base graphs ({@code export --quantize int8}): the base
 *     model's MatMuls in dynamic int8, adapters float32; refused when the export has none
 */
public record RuntimeOptions(
    SessionSettings session,
    long adapterBudgetBytes,
    int maxTokens,
    int maxTextChars,
    int maxBatch,
    Duration batchWindow,
    int batchRows,
    int queueCapacity,
    boolean int8Base) {

  /** Fewest tokens a text may be cut to: [CLS], one token and [SEP]. */
  public static final int MIN_TOKENS = 3;
  /**
   * Most: above any BERT-family encoder's position table (512 for BERT and MiniLM, 8192 for the
   * longest-context ones), so a larger value can only be a typo.
   */
  public static final int MAX_TOKENS = 8192;

  /** Each field is checked on its own so the message names the one that is wrong and its range. */
  public RuntimeOptions {
    if (session == null) {
      throw new IllegalArgumentException("runtime option session must not be null");
    }
    if (batchWindow == null || batchWindow.isNegative()) {
      throw new IllegalArgumentException("runtime option batchWindow must be zero or positive, not " + batchWindow);
    }
    require("adapterBudgetBytes", adapterBudgetBytes, 1, Long.MAX_VALUE);
    require("maxTokens", maxTokens, MIN_TOKENS, MAX_TOKENS);
    require("maxTextChars", maxTextChars, 1, Integer.MAX_VALUE);
    require("maxBatch", maxBatch, 1, Integer.MAX_VALUE);
    require("batchRows", batchRows, 1, Integer.MAX_VALUE);
    require("queueCapacity", queueCapacity, batchRows, Integer.MAX_VALUE);
  }

  /** Options on the float32 base. */
  public RuntimeOptions(SessionSettings session, long adapterBudgetBytes, int maxTokens, int maxTextChars,
      int maxBatch, Duration batchWindow, int batchRows, int queueCapacity) {
    this(session, adapterBudgetBytes, maxTokens, maxTextChars, maxBatch, batchWindow, batchRows, queueCapacity, false);
  }

  private static void require(String field, long value, long min, long max) {
    if (value < min || value > max) {
      throw new IllegalArgumentException("runtime option " + field + " must be "
          + (max == Long.MAX_VALUE || max == Integer.MAX_VALUE ? "at least " + min : "between " + min + " and " + max)
          + ", not " + value);
    }
  }

  /**
   * 256 MB of adapters, 128 tokens, batches of up to 256 texts, and a micro-batcher without a
   * window ({@link Duration#ZERO}): it runs what is queued as soon as it is free. The 2 ms window
   * it had cost throughput at every load measured, since fewer callers than {@code batchRows}
   * never fill a batch and so every batch waited the window out. Batch-1 {@code submit} from 1, 2
   * and 8 callers, requests a second, float32 / int8 base, 2 ms → no window (2026-11-30, 2 cores,
   * MiniLM, {@code scripts/bench-batch-window.java}): 187 / 245 → 293 / 507, 250 / 377 → 331 / 639,
   * 361 / 711 → 395 / 856.
   */
  public static RuntimeOptions defaults() {
    return new RuntimeOptions(SessionSettings.defaults(), 256L << 20, 128, 10_000, 256, Duration.ZERO, 32,
        4_096);
  }

  public RuntimeOptions withSession(SessionSettings s) {
    return new RuntimeOptions(s, adapterBudgetBytes, maxTokens, maxTextChars, maxBatch, batchWindow, batchRows,
        queueCapacity, int8Base);
  }

  public RuntimeOptions withDevice(Device d) {
    return withSession(session.withDevice(d));
  }

  public RuntimeOptions withAdapterBudget(long bytes) {
    return new RuntimeOptions(session, bytes, maxTokens, maxTextChars, maxBatch, batchWindow, batchRows,
        queueCapacity, int8Base);
  }

  public RuntimeOptions withBatching(Duration window, int rows) {
    return new RuntimeOptions(session, adapterBudgetBytes, maxTokens, maxTextChars, maxBatch, window, rows,
        Math.max(queueCapacity, rows), int8Base);
  }

  public RuntimeOptions withInt8Base(boolean value) {
    return new RuntimeOptions(session, adapterBudgetBytes, maxTokens, maxTextChars, maxBatch, batchWindow, batchRows,
        queueCapacity, value);
  }

  public RuntimeOptions withMaxBatch(int n) {
    return new RuntimeOptions(session, adapterBudgetBytes, maxTokens, maxTextChars, n, batchWindow, batchRows,
        queueCapacity, int8Base);
  }
}
