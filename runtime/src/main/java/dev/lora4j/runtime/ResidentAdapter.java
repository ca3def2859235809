package dev.lora4j.runtime;

import ai.onnxruntime.OrtLoraAdapter;
import dev.lora4j.models.adapter.Adapter;

/**
 * An adapter held in memory: its compact factors (packed into mixed-batch stacks) and ONNX
 * Runtime's native copy (activated per run on the multi-adapter graph).
 */
record ResidentAdapter(Adapter adapter, OrtLoraAdapter ort, long bytes, String source) {
  boolean isClassifier() {
    return adapter.head().isClassifier();
  }
}
