package dev.lora4j.exporter;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.TensorProtos;
import dev.lora4j.models.tensor.Matrix;

/**
 * The merged graph: {@code W + B'A'} written into the base weights, the head appended. One task,
 * no extra nodes in the encoder, runs in any ONNX consumer.
 *
 * <p>The base MatMul computes {@code x · W^T} and its initializer holds {@code W^T (in x out)}, so
 * the update folded in is {@code (B'A')^T = A'^T · B'^T}, accumulated in double. A DoRA module's
 * magnitudes are folded in too: the merged weight is exactly what PEFT's merge_and_unload gives.
 */
final class MergedGraphWriter {
  private MergedGraphWriter() {}

  /** {@code adapter} must fit {@code base} (see AdapterFit); it is compacted here. */
  public static OnnxModel write(EncoderDescription base, Adapter adapter, boolean embeddings) {
    OnnxModel model = base.model().copy();
    Adapter compact = adapter.compact();
    for (LowRankModule m : compact.modules().values()) {
      LinearModule lm = base.requireModule(m.module());
      Matrix wT = model.floatInitializer(lm.weightInitializer()).asMatrix();
      // DoRA renormalises each output row of W + B'A' to its magnitude (LowRankModule.mergedWeight)
      Matrix merged = m.isDora()
          ? m.mergedWeight(wT.transpose()).transpose()
          : wT.add(m.a().transpose().multiply(m.b().transpose()));
      String target = lm.weightInitializer();
      if (model.consumers(target).size() > 1) {
        // a weight shared with another node must keep its value there: merge into a private copy
        target = lm.name() + ".weight.merged_transposed";
        model.rewireConsumers(lm.weightInitializer(), target, n -> n.getName().equals(lm.matMulNode()));
      }
      model.putInitializer(TensorProtos.floats(target, merged));
    }
    HeadNodes.appendFixed(model, compact.head(), embeddings);
    return model;
  }
}
