package dev.lora4j.exporter;

import static dev.lora4j.models.onnx.OnnxBuilders.attr;
import static dev.lora4j.models.onnx.OnnxBuilders.node;

import com.google.protobuf.ByteString;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.ModuleKind;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.TensorProtos;
import dev.lora4j.models.onnx.proto.Onnx.NodeProto;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto;
import dev.lora4j.models.tensor.FloatTensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The int8-base variant of a graph: every MatMul of the <em>base model</em> whose weight is a
 * constant initializer becomes dynamic int8 quantization, the rest (attention's activation-by-
 * activation products, adapter branches, head) stays float32; then {@link OrtFusedOps} gives
 * attention and the residual LayerNorms ONNX Runtime's fused kernels.
 *
 * <p>Per such MatMul {@code y = x · W + b} (W {@code [in, out]}) one
 * {@code com.microsoft.DynamicQuantizeMatMul(x, W_q, W_scale, W_zp, b)}: x quantized to uint8 per
 * tensor at run time, W symmetric per output channel, {@code W_scale[j] = max_i |W[i, j]| / 127},
 * {@code W_q = round_half_even(W / W_scale)} in {@code [-127, 127]}, {@code W_zp = 0}, the bias Add
 * folded in. That is the node ONNX Runtime's optimiser makes of what
 * {@code quantize_dynamic(per_channel=True)} writes; writing it directly lets MatMuls that read the
 * same activation (query, key, value) become <em>one</em> node over their concatenated columns and a
 * Split, so the activation is quantized once and the three small products run as one larger one.
 * Unsigned activations times signed weights is the shape of AVX-512 VNNI and AMX-INT8 kernels. The
 * CUDA provider has no kernel for it and runs those nodes on CPU (see docs/EXPORT.md).
 *
 * <p>Which MatMuls: those in {@code base} (the unedited base model) with a constant weight, found
 * by node name in {@code graph}, and only where the graph still reads a plain initializer there.
 * The graph writers keep base node names and give every node they add a {@code /lora4j/} name, so
 * low-rank branches stay float32 whether their factors are graph inputs (multi: swappable adapters),
 * gathered stacks (mixed) or constants (factored); a merged graph quantizes the merged weights.
 * A packed MatMul's Split writes each module's old output name, so branch joins stay wired.
 */
final class Int8BaseWriter {
  static final String SCOPE = "/lora4j/int8/";
  /** Largest magnitude of a symmetric int8 weight; -128 is left out so that W_q is symmetric. */
  static final int QMAX = 127;

  private Int8BaseWriter() {}

  /** A quantized, fused copy of {@code graph}; {@code graph} itself is not changed. */
  public static OnnxModel quantize(OnnxModel graph, EncoderDescription base) {
    return quantize(graph, base, ActivationRanges.none());
  }

  /**
   * As {@link #quantize(OnnxModel, EncoderDescription)}, each quantized MatMul whose input has a
   * measured range in {@code ranges} smoothed first (see {@link #smoothing}).
   */
  static OnnxModel quantize(OnnxModel graph, EncoderDescription base, ActivationRanges ranges) {
    OnnxModel model = graph.copy();
    Set<String> graphInputs = new HashSet<>();
    model.inputs().forEach(i -> graphInputs.add(i.getName()));
    Map<String, Target> targets = targets(model, constantWeightMatMuls(base.model()), graphInputs);
    // MatMuls reading the same activation, in graph order: each group becomes one node
    Map<String, List<Target>> byInput = new LinkedHashMap<>();
    targets.values().forEach(t -> byInput.computeIfAbsent(t.x(), k -> new ArrayList<>()).add(t));
    Set<String> dropped = new HashSet<>();
    Map<String, List<NodeProto>> replacing = new HashMap<>();
    boolean splitAsInput = GraphOps.defaultOpset(model) >= 13;
    // Not smoothed: the attention output projection's input (attention's own output) has no outlier
    // channels worth its Mul (MiniLM, demo SoRA: mean |logit margin change| 0.0705 without it, 0.0729 with)
    Set<String> attentionOutputs = new HashSet<>();
    for (int layer = 0; layer < base.spec().layers(); layer++) {
      base.module(ModuleKind.ATTENTION_OUTPUT.moduleName(layer)).ifPresent(m -> attentionOutputs.add(m.input()));
    }
    for (List<Target> group : byInput.values()) {
      List<Target> withBias = group.stream().filter(t -> t.biasAdd() != null).toList();
      List<List<Target>> units = new ArrayList<>();
      if (withBias.size() > 1) {
        units.add(withBias);
      } else {
        withBias.forEach(t -> units.add(List.of(t)));
      }
      group.stream().filter(t -> t.biasAdd() == null).forEach(t -> units.add(List.of(t)));
      for (List<Target> unit : units) {
        float[] maxAbs = attentionOutputs.contains(unit.get(0).x()) ? null : ranges.maxAbs(unit.get(0).x()).orElse(null);
        List<NodeProto> nodes = write(model, unit, splitAsInput, maxAbs);
        replacing.put(unit.get(0).matMul().getName(), nodes);
        for (Target t : unit) {
          dropped.add(t.matMul().getName());
          if (t.biasAdd() != null) {
            dropped.add(t.biasAdd().getName());
          }
        }
      }
    }
    List<NodeProto> out = new ArrayList<>();
    for (NodeProto n : model.nodes()) {
      out.addAll(replacing.getOrDefault(n.getName(), List.of()));
      if (!dropped.contains(n.getName())) {
        out.add(n);
      }
    }
    model.graph().clearNode().addAllNode(out);
    zeroPaddedPositions(model, base, graphInputs);
    // also imports the com.microsoft domain the int8 nodes need, and drops what nothing reads now:
    // the float weights (4x the int8 bytes) and the biases folded into the int8 nodes
    OrtFusedOps.apply(model, base);
    return model;
  }

  /**
   * The first layer's input times the attention mask, so padded positions enter the encoder as
   * zeros. Why: dynamic quantization takes one activation range per tensor, over the whole batch,
   * and MiniLM's embedding of a padded position reaches -7.2 in a channel where a batch's real tokens
   * stay above -2.5 (SST-2 dev, 64 sentences), which made the first layer's int8 step 1.5x coarser for
   * every sentence in a padded batch (the demo's SoRA lost 0.99 point in batches of 64, 0.44 one at a
   * time). In float nothing else changes: attention never reads a padded key, and each position's
   * feed-forward is its own. A graph without an {@code attention_mask} input is left as it is.
   */
  private static void zeroPaddedPositions(OnnxModel model, EncoderDescription base, Set<String> graphInputs) {
    String x = base.requireModule(ModuleKind.QUERY.moduleName(0)).input();
    if (!graphInputs.contains(HeadNodes.ATTENTION_MASK) || model.consumers(x).isEmpty()) {
      return;
    }
    GraphOps ops = new GraphOps(model, SCOPE + "padding");
    String mask = ops.unsqueeze(ops.op("Cast", List.of(HeadNodes.ATTENTION_MASK),
        attr("to", (long) TensorProto.DataType.FLOAT_VALUE)), -1);
    String masked = ops.op("Mul", List.of(x, mask));
    // rewire first, so the new Mul is not among the readers; then the mask right after x is written
    model.rewireConsumers(x, masked, n -> true);
    model.insertNodesAfter(model.indexOfProducer(x), ops.drain());
  }

  /** One base MatMul to quantize, and the Add of its constant bias when that is its only reader. */
  private record Target(NodeProto matMul, FloatTensor weight, NodeProto biasAdd, float[] bias) {
    String x() {
      return matMul.getInput(0);
    }

    /** The value the rest of the graph reads: the bias Add's output, or the MatMul's. */
    String output() {
      return biasAdd != null ? biasAdd.getOutput(0) : matMul.getOutput(0);
    }
  }

  private static Map<String, Target> targets(OnnxModel model, Set<String> names, Set<String> graphInputs) {
    Set<String> graphOutputs = new HashSet<>();
    model.outputs().forEach(o -> graphOutputs.add(o.getName()));
    Map<String, Target> out = new LinkedHashMap<>();
    for (NodeProto n : model.nodes()) {
      if (!names.contains(n.getName()) || !n.getOpType().equals("MatMul") || n.getInputCount() != 2
          || graphInputs.contains(n.getInput(1))) {
        continue;
      }
      Optional<TensorProto> wt = model.initializer(n.getInput(1))
          .filter(t -> t.getDimsCount() == 2 && t.getDataType() == TensorProto.DataType.FLOAT_VALUE);
      if (wt.isEmpty()) {
        continue;
      }
      FloatTensor w = TensorProtos.toFloat(wt.get(), model.source());
      List<NodeProto> readers = model.consumers(n.getOutput(0));
      NodeProto add = null;
      float[] bias = null;
      if (readers.size() == 1 && readers.get(0).getOpType().equals("Add") && !graphOutputs.contains(n.getOutput(0))) {
        NodeProto a = readers.get(0);
        String other = a.getInput(0).equals(n.getOutput(0)) ? a.getInput(1) : a.getInput(0);
        Optional<TensorProto> b = graphInputs.contains(other) ? Optional.empty() : model.initializer(other)
            .filter(t -> t.getDimsCount() == 1 && t.getDims(0) == w.shape()[1]
                && t.getDataType() == TensorProto.DataType.FLOAT_VALUE);
        if (b.isPresent()) {
          add = a;
          bias = TensorProtos.toFloat(b.get(), model.source()).data();
        }
      }
      out.put(n.getName(), new Target(n, w, add, bias));
    }
    return out;
  }

  /**
   * The DynamicQuantizeMatMul for {@code unit} (several: over their concatenated columns, then a
   * Split); with {@code maxAbs} (the input's measured per-channel range) a Mul by {@code 1/s} before
   * it and the weight rows times {@code s}.
   */
  private static List<NodeProto> write(OnnxModel model, List<Target> unit, boolean splitAsInput, float[] maxAbs) {
    String p = SCOPE + unit.get(0).matMul().getName();
    List<FloatTensor> weights = unit.stream().map(Target::weight).toList();
    List<NodeProto> before = new ArrayList<>();
    String x = unit.get(0).x();
    if (maxAbs != null && maxAbs.length == weights.get(0).shape()[0]) {
      float[] s = smoothing(maxAbs, weights);
      weights = weights.stream().map(w -> scaleRows(w, s)).toList();
      float[] inverse = new float[s.length];
      for (int i = 0; i < s.length; i++) {
        inverse[i] = 1f / s[i];
      }
      model.putInitializer(TensorProtos.floats(p + "/smooth_inverse", new long[] {s.length}, inverse));
      before.add(node("Mul", p + "/Smooth", List.of(x, p + "/smooth_inverse"), List.of(p + "/smoothed")));
      x = p + "/smoothed";
    }
    List<Weights> ws = weights.stream().map(Weights::of).toList();
    Weights w = Weights.concat(ws);
    model.putInitializer(w.values(p + "/weight_quantized"));
    model.putInitializer(w.zeroPoints(p + "/weight_zero_point"));
    model.putInitializer(TensorProtos.floats(p + "/weight_scale", new long[] {w.out}, w.scales));
    List<String> inputs = new ArrayList<>(List.of(x, p + "/weight_quantized", p + "/weight_scale",
        p + "/weight_zero_point"));
    if (unit.get(0).bias() != null) {
      float[] bias = new float[w.out];
      int at = 0;
      for (Target t : unit) {
        System.arraycopy(t.bias(), 0, bias, at, t.bias().length);
        at += t.bias().length;
      }
      model.putInitializer(TensorProtos.floats(p + "/bias", new long[] {w.out}, bias));
      inputs.add(p + "/bias");
    }
    List<NodeProto> out = new ArrayList<>(before);
    if (unit.size() == 1) {
      out.add(OrtFusedOps.contrib(node("DynamicQuantizeMatMul", p + "/DynamicQuantizeMatMul", inputs,
          List.of(unit.get(0).output()))));
      return out;
    }
    String packed = p + "/DynamicQuantizeMatMul_output_0";
    long[] sizes = ws.stream().mapToLong(part -> part.out).toArray();
    List<String> outputs = unit.stream().map(Target::output).toList();
    NodeProto split;
    if (splitAsInput) {
      model.putInitializer(TensorProtos.int64s(p + "/split", new long[] {sizes.length}, sizes));
      split = node("Split", p + "/Split", List.of(packed, p + "/split"), outputs, attr("axis", -1L));
    } else {
      split = node("Split", p + "/Split", List.of(packed), outputs, attr("axis", -1L), attr("split", sizes));
    }
    out.add(OrtFusedOps.contrib(node("DynamicQuantizeMatMul", p + "/DynamicQuantizeMatMul", inputs,
        List.of(packed))));
    out.add(split);
    return out;
  }

  /** How far smoothing moves the range from the activation to the weights (SmoothQuant's alpha). */
  static final double SMOOTHING_ALPHA = 0.85;

  /**
   * SmoothQuant's per-input-channel scales (Xiao et al., 2023): {@code x · W = (x / s) · (s W)},
   * with {@code s_i = max|x_i|^α / max_j |W[i, j]|^(1-α)}. Why: the activation is quantized with one
   * range per tensor, and in BERT-family encoders a few channels reach ten times the others (MiniLM:
   * 28 against a median of 2 in the attention-output LayerNorm, 22 in one GELU channel), so that one
   * channel sets the int8 step for all; dividing each channel by its scale evens the channels out and
   * puts the difference into the weights, which are quantized per output column. α = 0.85 measured
   * best of 0.5 / 0.7 / 0.85 / 1.0 on MiniLM with the demo's two adapters (docs/EXPORT.md). Floors
   * keep dead channels and all-zero weight rows finite.
   */
  static float[] smoothing(float[] maxAbs, List<FloatTensor> weights) {
    int in = maxAbs.length;
    float[] s = new float[in];
    for (int i = 0; i < in; i++) {
      double w = 0;
      for (FloatTensor t : weights) {
        int out = (int) t.shape()[1];
        for (int j = 0; j < out; j++) {
          w = Math.max(w, Math.abs(t.data()[i * out + j]));
        }
      }
      double a = Math.max(maxAbs[i], 1e-5);
      s[i] = (float) (Math.pow(a, SMOOTHING_ALPHA) / Math.pow(Math.max(w, 1e-5), 1 - SMOOTHING_ALPHA));
    }
    return s;
  }

  /** {@code diag(s) · W} for W {@code [in, out]}. */
  private static FloatTensor scaleRows(FloatTensor w, float[] s) {
    int out = (int) w.shape()[1];
    float[] d = w.data().clone();
    for (int i = 0; i < d.length; i++) {
      d[i] *= s[i / out];
    }
    return new FloatTensor(w.shape(), d);
  }

  /** Names of the MatMul nodes of {@code base} whose second input is a constant 2-D float initializer. */
  public static Set<String> constantWeightMatMuls(OnnxModel base) {
    Set<String> inputs = new HashSet<>();
    base.inputs().forEach(i -> inputs.add(i.getName()));
    Set<String> out = new LinkedHashSet<>();
    for (NodeProto n : base.nodes()) {
      if (n.getOpType().equals("MatMul") && n.getInputCount() == 2 && !inputs.contains(n.getInput(1))
          && base.initializer(n.getInput(1)).filter(t -> t.getDimsCount() == 2
              && t.getDataType() == TensorProto.DataType.FLOAT_VALUE).isPresent()) {
        out.add(n.getName());
      }
    }
    return out;
  }

  /** Symmetric per-output-channel int8 weights of a {@code [in, out]} matrix. */
  record Weights(int in, int out, byte[] q, float[] scales) {
    static Weights of(FloatTensor w) {
      int in = (int) w.shape()[0];
      int out = (int) w.shape()[1];
      float[] d = w.data();
      float[] scales = new float[out];
      for (int j = 0; j < out; j++) {
        float max = 0;
        for (int i = 0; i < in; i++) {
          max = Math.max(max, Math.abs(d[i * out + j]));
        }
        // an all-zero column quantizes to zeros at any scale; 1 keeps the division finite
        scales[j] = max == 0 ? 1f : max / QMAX;
      }
      byte[] q = new byte[d.length];
      for (int i = 0; i < in; i++) {
        for (int j = 0; j < out; j++) {
          double v = Math.rint(d[i * out + j] / scales[j]);
          q[i * out + j] = (byte) Math.max(-QMAX, Math.min(QMAX, v));
        }
      }
      return new Weights(in, out, q, scales);
    }

    /** Side by side, columns in order: per-column scales make this the quantization of the concatenation. */
    static Weights concat(List<Weights> parts) {
      if (parts.size() == 1) {
        return parts.get(0);
      }
      int in = parts.get(0).in;
      int out = parts.stream().mapToInt(Weights::out).sum();
      byte[] q = new byte[in * out];
      float[] scales = new float[out];
      int col = 0;
      for (Weights p : parts) {
        for (int i = 0; i < in; i++) {
          System.arraycopy(p.q, i * p.out, q, i * out + col, p.out);
        }
        System.arraycopy(p.scales, 0, scales, col, p.out);
        col += p.out;
      }
      return new Weights(in, out, q, scales);
    }

    TensorProto values(String name) {
      return int8(name, new long[] {in, out}, q);
    }

    TensorProto zeroPoints(String name) {
      return int8(name, new long[] {out}, new byte[out]);
    }

    private static TensorProto int8(String name, long[] shape, byte[] data) {
      TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.INT8_VALUE);
      for (long s : shape) {
        b.addDims(s);
      }
      return b.setRawData(ByteString.copyFrom(data)).build();
    }
  }
}
