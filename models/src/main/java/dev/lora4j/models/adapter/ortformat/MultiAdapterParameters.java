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
    // the file holds bare factor pairs for the multi-adapter and mixed-batch graphs
    adapter.requireNoDora("an .onnx_adapter file (for the multi-adapter and mixed-batch graphs and the runtime)");
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
   * sidecar records: what the runtime packs into mixed-batch stacks. Refuses, naming
   * {@code source} and the tensor or field: a tensor whose name is not one of
   * {@link AdapterTensorNames}' (a renamed tensor would otherwise be ignored and its module silently
   * dropped), a module the sidecar's ranks name that the file lacks or has at another rank, half a
   * factor pair or half a head, and a label count that differs from the sidecar's.
   */
  public static Adapter toAdapter(OrtAdapter file, AdapterSidecar sidecar, String source) {
    Map<String, OrtAdapterParameter> p = file.byName();
    List<LowRankModule> modules = new ArrayList<>();
    for (String name : p.keySet()) {
      if (name.endsWith(A_SUFFIX)) {
        String module = name.substring(0, name.length() - A_SUFFIX.length());
        OrtAdapterParameter b = p.get(AdapterTensorNames.loraB(module));
        if (b == null) {
          throw new Lora4jException(source + ": tensor " + name + " has no matching " + AdapterTensorNames.loraB(module));
        }
        Matrix a = matrix(p.get(name), source);
        Matrix bt = matrix(b, source);
        if (a.cols() != bt.rows()) {
          throw new Lora4jException(source + ": tensors " + name + " " + a.shape() + " and "
              + AdapterTensorNames.loraB(module) + " " + bt.shape() + " have different ranks");
        }
        modules.add(LowRankModule.lora(module, a.transpose(), bt.transpose(), 1.0));
      } else if (name.endsWith(B_SUFFIX)) {
        String module = name.substring(0, name.length() - B_SUFFIX.length());
        if (!p.containsKey(AdapterTensorNames.loraA(module))) {
          throw new Lora4jException(source + ": tensor " + name + " has no matching " + AdapterTensorNames.loraA(module));
        }
      } else if (!HEAD_TENSORS.contains(name)) {
        throw new Lora4jException(source + ": unknown tensor '" + name + "' (expected <module>" + A_SUFFIX
            + ", <module>" + B_SUFFIX + " or " + String.join(", ", HEAD_TENSORS) + ")");
      }
    }
    Map<String, Integer> ranks = sidecar.ranks();
    for (LowRankModule m : modules) {
      Integer want = ranks.get(m.module());
      if (want == null) {
        throw new Lora4jException(source + ": module " + m.module() + " is in the adapter file but not in its "
            + "sidecar's ranks");
      }
      if (want != m.rank()) {
        throw new Lora4jException(source + ": module " + m.module() + " has rank " + m.rank()
            + " in the adapter file, its sidecar says " + want);
      }
    }
    if (modules.size() != ranks.size()) {
      java.util.Set<String> missing = new java.util.LinkedHashSet<>(ranks.keySet());
      modules.forEach(m -> missing.remove(m.module()));
      throw new Lora4jException(source + ": the sidecar names " + missing.size() + " module(s) the adapter file lacks: "
          + String.join(", ", missing));
    }
    TaskHead.Pooling pooling = sidecar.poolingMode();
    OrtAdapterParameter w = p.get(AdapterTensorNames.HEAD_WEIGHT);
    OrtAdapterParameter bias = p.get(AdapterTensorNames.HEAD_BIAS);
    if (sidecar.isClassifier() && (w == null || bias == null)) {
      throw new Lora4jException(source + ": the sidecar says classifier but the adapter file has no "
          + (w == null ? AdapterTensorNames.HEAD_WEIGHT : AdapterTensorNames.HEAD_BIAS) + " tensor");
    }
    if (!sidecar.isClassifier() && (w != null || bias != null)) {
      throw new Lora4jException(source + ": the sidecar says embeddings but the adapter file has a classifier head");
    }
    TaskHead head;
    if (w == null) {
      head = TaskHead.embeddings(pooling);
    } else {
      Matrix weight = matrix(w, source).transpose();
      float[] b = floats(bias, source).data();
      if (weight.rows() != sidecar.labels().size() || b.length != weight.rows()) {
        throw new Lora4jException(source + ": the adapter file's head has " + weight.rows() + " weight rows and "
            + b.length + " biases, its sidecar names " + sidecar.labels().size() + " labels");
      }
      head = TaskHead.classifier(pooling, weight, b, sidecar.labels());
    }
    return new Adapter(sidecar.name(), new BaseModelRef(sidecar.baseId(), sidecar.baseOnnxSha256()),
        Adapter.byName(modules), head,
        // what the sidecar records, no more: Provenance.of would stamp the reading time and this build as the maker
        new Provenance(sidecar.method() == null ? "lora" : sidecar.method(), java.util.Map.of(), java.util.Map.of(), 0,
            java.util.Map.of(), null, sidecar.tool()));
  }

  private static FloatTensor floats(OrtAdapterParameter t, String source) {
    try {
      return t.asFloats();
    } catch (RuntimeException e) {
      throw new Lora4jException(source + ": tensor " + t.name() + " is not float32 data of its shape ("
          + e.getMessage() + ")", e);
    }
  }

  private static Matrix matrix(OrtAdapterParameter t, String source) {
    FloatTensor f = floats(t, source);
    if (f.shape().length != 2) {
      throw new Lora4jException(source + ": tensor " + t.name() + " has " + f.shape().length
          + " dimensions, expected 2");
    }
    return f.asMatrix();
  }

  private static final String A_SUFFIX = AdapterTensorNames.loraA("");
  private static final String B_SUFFIX = AdapterTensorNames.loraB("");
  private static final List<String> HEAD_TENSORS = List.of(AdapterTensorNames.HEAD_WEIGHT,
      AdapterTensorNames.HEAD_BIAS, AdapterTensorNames.HEAD_CLS_POOLING);

  static long clsFlag(TaskHead head) {
    return head.pooling() == TaskHead.Pooling.CLS ? 1 : 0;
  }
}
