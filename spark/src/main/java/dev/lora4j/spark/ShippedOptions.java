package dev.lora4j.spark;

import dev.lora4j.runtime.Device;
import dev.lora4j.runtime.RuntimeOptions;
import dev.lora4j.runtime.SessionSettings;
import java.io.Serializable;
import java.time.Duration;

/**
 * {@link RuntimeOptions}, field by field, in a form Spark can ship to executors (the runtime's records
 * are not {@link Serializable}). {@code ShippedOptionsTest} checks that every field comes back.
 */
record ShippedOptions(
    Device device, int intraOpThreads, int interOpThreads, int cudaDeviceId,
    long adapterBudgetBytes, int maxTokens, int maxTextChars, int maxBatch,
    Duration batchWindow, int batchRows, int queueCapacity, boolean int8Base) implements Serializable {
  private static final long serialVersionUID = 1L;

  static ShippedOptions of(RuntimeOptions o) {
    SessionSettings s = o.session();
    return new ShippedOptions(s.device(), s.intraOpThreads(), s.interOpThreads(), s.cudaDeviceId(),
        o.adapterBudgetBytes(), o.maxTokens(), o.maxTextChars(), o.maxBatch(),
        o.batchWindow(), o.batchRows(), o.queueCapacity(), o.int8Base());
  }

  RuntimeOptions toOptions() {
    return new RuntimeOptions(new SessionSettings(device, intraOpThreads, interOpThreads, cudaDeviceId),
        adapterBudgetBytes, maxTokens, maxTextChars, maxBatch, batchWindow, batchRows, queueCapacity, int8Base);
  }
}
