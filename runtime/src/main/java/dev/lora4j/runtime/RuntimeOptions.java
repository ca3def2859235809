package dev.lora4j.runtime;

import java.time.Duration;

/**
 * How an {@link AdapterRuntime} behaves. Immutable; start from {@link #defaults()} and change what
 * you need.
 *
 * @param session device and threads for ONNX Runtime
 * @param adapterBudgetBytes adapter weights kept resident; beyond it the least recently used ones
 *     are evicted and reloaded on demand
 * @param maxTokens texts are truncated to this many tokens (special tokens included)
 * @param maxTextChars longer texts are refused, before tokenizing
 * @param maxBatch most texts in one call
 * @param batchWindow how long the micro-batcher waits to fill a batch of single requests
 * @param batchRows most rows the micro-batcher puts in one run
 * @param queueCapacity single requests waiting beyond this are refused (back-pressure)
 */
public record RuntimeOptions(
    SessionSettings session,
    long adapterBudgetBytes,
    int maxTokens,
    int maxTextChars,
    int maxBatch,
    Duration batchWindow,
    int batchRows,
    int queueCapacity) {

  public RuntimeOptions {
    if (adapterBudgetBytes <= 0 || maxTokens < 3 || maxTextChars < 1 || maxBatch < 1 || batchRows < 1
        || queueCapacity < batchRows || batchWindow.isNegative()) {
      throw new IllegalArgumentException("invalid runtime options: " + this);
    }
  }

  public static RuntimeOptions defaults() {
    return new RuntimeOptions(SessionSettings.defaults(), 256L << 20, 128, 10_000, 256, Duration.ofMillis(2), 32,
        4_096);
  }

  public RuntimeOptions withSession(SessionSettings s) {
    return new RuntimeOptions(s, adapterBudgetBytes, maxTokens, maxTextChars, maxBatch, batchWindow, batchRows,
        queueCapacity);
  }

  public RuntimeOptions withDevice(Device d) {
    return withSession(session.withDevice(d));
  }

  public RuntimeOptions withAdapterBudget(long bytes) {
    return new RuntimeOptions(session, bytes, maxTokens, maxTextChars, maxBatch, batchWindow, batchRows,
        queueCapacity);
  }

  public RuntimeOptions withBatching(Duration window, int rows) {
    return new RuntimeOptions(session, adapterBudgetBytes, maxTokens, maxTextChars, maxBatch, window, rows,
        Math.max(queueCapacity, rows));
  }

  public RuntimeOptions withMaxBatch(int n) {
    return new RuntimeOptions(session, adapterBudgetBytes, maxTokens, maxTextChars, n, batchWindow, batchRows,
        queueCapacity);
  }
}
