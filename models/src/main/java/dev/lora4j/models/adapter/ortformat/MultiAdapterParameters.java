package dev.lora4j.models.adapter.ortformat;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterDtype;
import dev.lora4j.models.onnx.TensorProtos;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto.DataType;
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

  /** The {@code .onnx_adapter} content of {@code adapter} (compacted here if it is not already), float32. */
  public static OrtAdapter of(Adapter adapter) {
    return of(adapter, AdapterDtype.FP32);
  }

  /**
   * The {@code .onnx_adapter} content of {@code adapter} with its factors stored as {@code dtype}
   * (the head stays float32). FLOAT16 factors are the float32 ones rounded to nearest; INT8 ones are
   * {@link AdapterDtype.Int8Rows} of A {@code [r, in]} and of B^T {@code [r, out]}, stored in the
   * float tensors' layout ({@code A^T [in, r]}, {@code B^T [r, out]}) with their scales
   * {@code <factor>.scale [r]}: along the last axis of {@code lora_A}, the first of {@code lora_B}. Only lora4j reads FLOAT16 / INT8 files: {@code base.multi.onnx} takes
   * float32 inputs, and the runtime widens these at load (see {@code docs/EXPORT.md}).
   */
  public static OrtAdapter of(Adapter adapter, AdapterDtype dtype) {
    // the file holds bare factor pairs for the multi-adapter and mixed-batch graphs
    adapter.requireNoDora("an .onnx_adapter file (for the multi-adapter and mixed-batch graphs and the runtime)");
    Adapter c = adapter.compact();
    List<OrtAdapterParameter> params = new ArrayList<>();
    for (LowRankModule m : c.modules().values()) {
      factor(params, AdapterTensorNames.loraA(m.module()), m.a(), true, dtype);
      factor(params, AdapterTensorNames.loraB(m.module()), m.b().transpose(), false, dtype);
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
   * One factor, given rank-major ({@code A [r, in]} or {@code B^T [r, out]}), stored as the graph takes
   * it ({@code A^T}, or {@code B^T} as given) in {@code dtype}.
   */
  private static void factor(List<OrtAdapterParameter> params, String name, Matrix rankMajor, boolean transpose,
      AdapterDtype dtype) {
    FloatTensor t = FloatTensor.of(transpose ? rankMajor.transpose() : rankMajor);
    switch (dtype) {
      case FP32 -> params.add(OrtAdapterParameter.floats(name, t));
      case FP16 -> {
        for (float v : t.data()) {
          AdapterDtype.requireHalfRange(v, "adapter", name); // a Lora4jException, not the factory's own
        }
        params.add(OrtAdapterParameter.halves(name, t));
      }
      case INT8 -> {
        AdapterDtype.Int8Rows q = AdapterDtype.Int8Rows.quantize(rankMajor);
        byte[] stored = q.q();
        if (transpose) {
          stored = new byte[q.q().length];
          for (int r = 0; r < q.rows(); r++) {
            for (int c = 0; c < q.cols(); c++) {
              stored[c * q.rows() + r] = q.q()[r * q.cols() + c];
            }
          }
        }
        params.add(OrtAdapterParameter.int8s(name, t.shape(), stored));
        params.add(OrtAdapterParameter.floats(scaleName(name), FloatTensor.vector(q.scale())));
      }
      default -> throw new AssertionError(dtype);
    }
  }

  /** The per-row scales of an INT8 factor tensor. */
  static String scaleName(String factor) {
    return factor + SCALE_SUFFIX;
  }

  /**
   * The compact adapter an {@code .onnx_adapter} file holds, with the labels and base model its
   * sidecar records: what the runtime packs into mixed-batch stacks. Refuses, naming
   * {@code source} and the tensor or field: a tensor whose name is not one of
   * {@link AdapterTensorNames}' (a renamed tensor would otherwise be ignored and its module silently
   * dropped), a module the sidecar's ranks name that the file lacks or has at another rank, half a
   * factor pair or half a head, a label count that differs from the sidecar's, a factor that is not
   * finite once widened, and an int8 scale that is not a finite, non-negative FLOAT.
   */
  public static Adapter toAdapter(OrtAdapter file, AdapterSidecar sidecar, String source) {
    Map<String, OrtAdapterParameter> p = file.byName();
    AdapterDtype dtype = AdapterDtype.ofRecorded(sidecar.adapterDtype(), source + ": its sidecar's field 'adapter_dtype'");
    List<LowRankModule> modules = new ArrayList<>();
    for (String name : p.keySet()) {
      if (name.endsWith(A_SUFFIX)) {
        String module = name.substring(0, name.length() - A_SUFFIX.length());
        OrtAdapterParameter b = p.get(AdapterTensorNames.loraB(module));
        if (b == null) {
          throw new Lora4jException(source + ": tensor " + name + " has no matching " + AdapterTensorNames.loraB(module));
        }
        Matrix a = factor(p, p.get(name), dtype, source);
        Matrix bt = factor(p, b, dtype, source);
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
      } else if (name.endsWith(SCALE_SUFFIX) && dtype == AdapterDtype.INT8
          && p.containsKey(name.substring(0, name.length() - SCALE_SUFFIX.length()))) {
        continue; // read with its factor
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

  /**
   * A factor tensor widened to float32, refused unless it is stored as the sidecar's dtype says (a
   * FLOAT16 tensor in a file whose sidecar says fp32 is not what was exported).
   */
  private static Matrix factor(Map<String, OrtAdapterParameter> p, OrtAdapterParameter t, AdapterDtype dtype,
      String source) {
    int want = switch (dtype) {
      case FP32 -> DataType.FLOAT_VALUE;
      case FP16 -> DataType.FLOAT16_VALUE;
      case INT8 -> DataType.INT8_VALUE;
    };
    if (t.dataType() != want) {
      throw new Lora4jException(source + ": tensor " + t.name() + " is " + TensorProtos.typeName(t.dataType())
          + " but its sidecar's adapter_dtype " + dtype.id() + " means " + TensorProtos.typeName(want));
    }
    if (dtype != AdapterDtype.INT8) {
      return requireFinite(matrix(t, source), t, source);
    }
    long[] dims = t.dims();
    if (dims.length != 2) {
      throw new Lora4jException(source + ": tensor " + t.name() + " has " + dims.length + " dimensions, expected 2");
    }
    OrtAdapterParameter scale = p.get(scaleName(t.name()));
    if (scale == null) {
      throw new Lora4jException(source + ": INT8 tensor " + t.name() + " has no " + scaleName(t.name()) + " tensor");
    }
    if (scale.dataType() != DataType.FLOAT_VALUE) {
      throw new Lora4jException(source + ": tensor " + scale.name() + " is " + TensorProtos.typeName(scale.dataType())
          + ", but int8 scales are stored as FLOAT");
    }
    float[] s = floats(scale, source).data();
    for (int i = 0; i < s.length; i++) {
      // max|row| / 127 is never negative: a negative scale is damage, not a sign flip to apply
      if (!(Float.isFinite(s[i]) && s[i] >= 0)) {
        throw new Lora4jException(source + ": tensor " + scale.name() + " holds " + s[i] + " at rank " + i
            + "; an int8 scale is finite and not negative");
      }
    }
    int rows = Math.toIntExact(dims[0]);
    int cols = Math.toIntExact(dims[1]);
    boolean rankIsColumn = t.name().endsWith(A_SUFFIX); // A^T [in, r]; B^T is [r, out]
    int ranks = rankIsColumn ? cols : rows;
    if (scale.dims().length != 1 || s.length != ranks) {
      throw new Lora4jException(source + ": tensor " + scale.name() + " has shape "
          + java.util.Arrays.toString(scale.dims()) + ", expected [" + ranks + "] (one scale per rank of "
          + t.name() + ")");
    }
    byte[] q = t.rawData();
    float[] v = new float[q.length];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        // the same float product AdapterDtype.Int8Rows.value forms
        v[r * cols + c] = q[r * cols + c] * s[rankIsColumn ? c : r];
      }
    }
    return requireFinite(new Matrix(rows, cols, v), t, source);
  }

  /** Names the tensor and the value: a float16 0x7C00 or a huge scale would otherwise surface as its module's. */
  private static Matrix requireFinite(Matrix m, OrtAdapterParameter t, String source) {
    int i = m.firstNonFinite();
    if (i >= 0) {
      throw new Lora4jException(source + ": tensor " + t.name() + " (" + TensorProtos.typeName(t.dataType())
          + ") holds " + m.data()[i] + " at index " + i + "; adapter values must be finite");
    }
    return m;
  }

  private static FloatTensor floats(OrtAdapterParameter t, String source) {
    try {
      return t.asFloats();
    } catch (RuntimeException e) {
      throw new Lora4jException(source + ": tensor " + t.name() + " is not float32 (or float16) data of its shape ("
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

  private static final String SCALE_SUFFIX = ".scale";
  private static final String A_SUFFIX = AdapterTensorNames.loraA("");
  private static final String B_SUFFIX = AdapterTensorNames.loraB("");
  private static final List<String> HEAD_TENSORS = List.of(AdapterTensorNames.HEAD_WEIGHT,
      AdapterTensorNames.HEAD_BIAS, AdapterTensorNames.HEAD_CLS_POOLING);

  static long clsFlag(TaskHead head) {
    return head.pooling() == TaskHead.Pooling.CLS ? 1 : 0;
  }
}
