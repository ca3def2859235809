package dev.lora4j.models.adapter.ortformat;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.export.AdapterSidecar;
import dev.lora4j.models.tensor.Matrix;
import java.util.Map;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.tensor.FloatTensor;
import java.util.ArrayList;
import java.util.List;

/**
 * What one adapter feeds into the multi-adapter base graph, named per {@link AdapterTensorNames}:
 * per adapted module {@code A'^T [in, r]} and {@code B'^T [r, out]}, and the head. Modules the
 * adapter does not touch are left out, so the graph's rank-0 defaults apply to them; an embedding
 * adapter leaves the classifier out the same way (its logits come back as {@code [batch, 0]}).
 */
public final class MultiAdapterParameters {
  private MultiAdapterParameters() {}

  /** The {@code .onnx_adapter} content of {@code adapter} (compacted here if it is not already). */
  public static OrtAdapter of(Adapter adapter) {
    Adapter c = adapter.compact();
    List<OrtAdapterParameter> params = new ArrayList<>();
    for (LowRankModule m : c.modules().values()) {
      params.add(OrtAdapterParameter.floats(AdapterTensorNames.loraA(m.module()), FloatTensor.of(m.a().transpose())));
      params.add(OrtAdapterParameter.floats(AdapterTensorNames.loraB(m.module()), FloatTensor.of(m.b().transpose())));
    }
    TaskHead head = c.head();
    if (head.isClassifier()) {
      params.add(OrtAdapterParameter.floats(AdapterTensorNames.HEAD_WEIGHT, FloatTensor.of(head.weight().transpose())));
      params.add(OrtAdapterParameter.floats(AdapterTensorNames.HEAD_BIAS, FloatTensor.vector(head.bias())));
    }
    params.add(OrtAdapterParameter.int64s(AdapterTensorNames.HEAD_CLS_POOLING, new long[] {1}, clsFlag(head)));
    return OrtAdapter.of(params);
  }

  /**
   * The compact adapter an {@code .onnx_adapter} file holds, with the labels and base model its
   * sidecar records: what the runtime packs into mixed-batch stacks. Refuses a file whose tensors
   * do not follow {@link AdapterTensorNames} or whose label count differs from the sidecar's.
   */
  public static Adapter toAdapter(OrtAdapter file, AdapterSidecar sidecar) {
    String who = "adapter '" + sidecar.name() + "'";
    try {
      return build(file, sidecar, who);
    } catch (IllegalArgumentException | IllegalStateException | ArithmeticException e) {
      // Shapes that do not fit together (A and B ranks, head weight and bias) fail in the records.
      throw new Lora4jException(who + ": the adapter file's tensors do not fit together: " + e.getMessage(), e);
    }
  }

  private static Adapter build(OrtAdapter file, AdapterSidecar sidecar, String who) {
    // What this method reads from the sidecar must be there; the sidecar reader may check more.
    if (sidecar.name() == null || sidecar.pooling() == null || sidecar.labels() == null
        || sidecar.labels().contains(null)) {
      throw new Lora4jException(who + ": its sidecar lacks " + (sidecar.name() == null ? "name"
          : sidecar.pooling() == null ? "pooling" : "labels (or holds a null label)"));
    }
    Map<String, OrtAdapterParameter> p = file.byName();
    List<LowRankModule> modules = new ArrayList<>();
    for (String name : p.keySet()) {
      if (!name.endsWith(A_SUFFIX)) {
        continue;
      }
      String module = name.substring(0, name.length() - A_SUFFIX.length());
      OrtAdapterParameter b = p.get(AdapterTensorNames.loraB(module));
      if (b == null) {
        throw new Lora4jException(who + ": " + name + " has no matching " + AdapterTensorNames.loraB(module));
      }
      modules.add(LowRankModule.lora(module, p.get(name).asFloats().asMatrix().transpose(),
          b.asFloats().asMatrix().transpose(), 1.0));
    }
    // A module whose tensors were renamed or lost would silently fall back to the base model.
    if (sidecar.ranks() != null && !sidecar.ranks().keySet().equals(modules.stream().map(LowRankModule::module)
        .collect(java.util.stream.Collectors.toSet()))) {
      throw new Lora4jException(who + ": the adapter file holds modules " + modules.stream()
          .map(LowRankModule::module).sorted().toList() + " but its sidecar names " + sidecar.ranks().keySet()
          .stream().sorted().toList());
    }
    TaskHead.Pooling pooling = sidecar.poolingMode();
    OrtAdapterParameter w = p.get(AdapterTensorNames.HEAD_WEIGHT);
    TaskHead head;
    if (w == null) {
      head = TaskHead.embeddings(pooling);
    } else {
      OrtAdapterParameter b = p.get(AdapterTensorNames.HEAD_BIAS);
      if (b == null) {
        throw new Lora4jException(who + ": the adapter file has " + AdapterTensorNames.HEAD_WEIGHT + " but no "
            + AdapterTensorNames.HEAD_BIAS);
      }
      Matrix weight = w.asFloats().asMatrix().transpose();
      float[] bias = b.asFloats().data();
      if (weight.rows() != sidecar.labels().size()) {
        throw new Lora4jException(who + ": the adapter file has " + weight.rows() + " labels, its sidecar names "
            + sidecar.labels().size());
      }
      head = TaskHead.classifier(pooling, weight, bias, sidecar.labels());
    }
    return new Adapter(sidecar.name(), new BaseModelRef(sidecar.baseId(), sidecar.baseOnnxSha256()),
        Adapter.byName(modules), head, Provenance.of(sidecar.method() == null ? "lora" : sidecar.method()));
  }

  private static final String A_SUFFIX = AdapterTensorNames.loraA("");

  static long clsFlag(TaskHead head) {
    return head.pooling() == TaskHead.Pooling.CLS ? 1 : 0;
  }
}
