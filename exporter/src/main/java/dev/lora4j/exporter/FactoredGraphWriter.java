package dev.lora4j.exporter;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.TensorProtos;
import java.util.List;

/**
 * The factored graph: the base weights untouched, a low-rank branch at each adapted module with
 * {@code A'^T} and {@code B'^T} as initializers (named like the multi-adapter inputs), the head
 * appended. The adapter stays visible and replaceable in the file, at {@code r·(in+out)} extra
 * multiply-adds per token and module. A DoRA module also gets its magnitude as an initializer and
 * the row renormalisation after its branch (see {@link LowRankBranches}), so the graph computes what
 * the merged one does.
 */
final class FactoredGraphWriter {
  private FactoredGraphWriter() {}

  /** {@code adapter} must fit {@code base} (see AdapterFit); it is compacted here. */
  public static OnnxModel write(EncoderDescription base, Adapter adapter, boolean embeddings) {
    OnnxModel model = base.model().copy();
    Adapter compact = adapter.compact();
    for (LowRankModule m : compact.modules().values()) {
      model.putInitializer(TensorProtos.floats(AdapterTensorNames.loraA(m.module()), m.a().transpose()));
      model.putInitializer(TensorProtos.floats(AdapterTensorNames.loraB(m.module()), m.b().transpose()));
      if (m.isDora()) {
        float[] magnitude = m.magnitude();
        model.putInitializer(TensorProtos.floats(magnitudeName(m.module()), new long[] {magnitude.length}, magnitude));
      }
    }
    List<LinearModule> adapted = compact.modules().keySet().stream().map(base::requireModule).toList();
    LowRankBranches.addAll(model, adapted, (ops, m) ->
        new LowRankBranches.Factors(AdapterTensorNames.loraA(m.name()), AdapterTensorNames.loraB(m.name()),
            compact.modules().get(m.name()).isDora() ? magnitudeName(m.name()) : null));
    HeadNodes.appendFixed(model, compact.head(), embeddings);
    return model;
  }

  /** A DoRA module's magnitude {@code [out]}; only factored graphs hold one. */
  static String magnitudeName(String module) {
    return module + ".lora_magnitude";
  }
}
