package dev.lora4j.exporter;

import static dev.lora4j.models.onnx.OnnxBuilders.attr;
import static dev.lora4j.models.onnx.OnnxBuilders.node;

import com.google.protobuf.ByteString;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.TensorProtos;
import dev.lora4j.models.onnx.proto.Onnx.NodeProto;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto;
import dev.lora4j.models.tensor.FloatTensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The int8-base variant of a graph: every MatMul of the <em>base model</em> whose weight is a
 * constant initializer becomes dynamic int8 quantization, the rest (attention's activation-by-
 * activation MatMuls, adapter branches, head) stays float32.
 *
 * <p>Per such MatMul {@code y = x · W} (W {@code [in, out]}):
 * <pre>
 *   x_q, x_scale, x_zp = DynamicQuantizeLinear(x)           uint8, one per activation, shared by q/k/v
 *   acc   = MatMulInteger(x_q, W_q, x_zp, W_zp)             int32, W_q int8 [in, out], W_zp = 0 [out]
 *   y     = Cast(acc, float) · Mul(x_scale, W_scale)        W_scale float [out], per output channel
 * </pre>
 * Weights are symmetric per output channel: {@code W_scale[j] = max_i |W[i, j]| / 127},
 * {@code W_q = round_half_even(W / W_scale)} in {@code [-127, 127]}. This is node for node what
 * {@code onnxruntime.quantization.quantize_dynamic(per_channel=True)} writes, which ONNX Runtime's
 * CPU graph optimiser fuses into {@code com.microsoft.DynamicQuantizeMatMul} (bias Add included):
 * unsigned activations times signed weights is the shape of AVX-512 VNNI and AMX-INT8 kernels.
 * Only standard opset-10 ops are written, so the file loads wherever the float graph does; the CUDA
 * provider has no DynamicQuantizeLinear kernel and runs those nodes on CPU (see docs/EXPORT.md).
 *
 * <p>Which MatMuls: those in {@code base} (the unedited base model) with a constant weight, found
 * by node name in {@code graph}, and only where the graph still reads a plain initializer there.
 * The graph writers keep base node names and give every node they add a {@code /lora4j/} name, so
 * low-rank branches stay float32 whether their factors are graph inputs (multi: swappable adapters),
 * gathered stacks (mixed) or constants (factored); a merged graph quantizes the merged weights.
 */
final class Int8BaseWriter {
  static final String SCOPE = "/lora4j/int8/";
  /** Largest magnitude of a symmetric int8 weight; -128 is left out so that W_q is symmetric. */
  static final int QMAX = 127;

  private Int8BaseWriter() {}

  /** A quantized copy of {@code graph}; {@code graph} itself is not changed. */
  public static OnnxModel quantize(OnnxModel graph, OnnxModel base) {
    OnnxModel model = graph.copy();
    Set<String> targets = constantWeightMatMuls(base);
    Set<String> graphInputs = new java.util.HashSet<>();
    model.inputs().forEach(i -> graphInputs.add(i.getName()));
    Map<String, TensorProto> inits = new HashMap<>();
    model.initializers().forEach(t -> inits.put(t.getName(), t));

    List<NodeProto> out = new ArrayList<>();
    Map<String, String[]> quantizedActivations = new HashMap<>();
    Set<String> replacedWeights = new LinkedHashSet<>();
    for (NodeProto n : model.nodes()) {
      String w = n.getInputCount() == 2 ? n.getInput(1) : null;
      TensorProto wt = w == null ? null : inits.get(w);
      if (!targets.contains(n.getName()) || !n.getOpType().equals("MatMul") || wt == null
          || graphInputs.contains(w) || wt.getDimsCount() != 2
          || wt.getDataType() != TensorProto.DataType.FLOAT_VALUE) {
        out.add(n);
        continue;
      }
      String x = n.getInput(0);
      String[] xq = quantizedActivations.get(x);
      if (xq == null) {
        String p = SCOPE + x;
        xq = new String[] {p + "/quantized", p + "/scale", p + "/zero_point"};
        out.add(node("DynamicQuantizeLinear", p + "/DynamicQuantizeLinear", List.of(x), List.of(xq)));
        quantizedActivations.put(x, xq);
      }
      Weights q = Weights.of(TensorProtos.toFloat(wt, model.source()));
      String p = SCOPE + n.getName();
      model.putInitializer(q.values(p + "/weight_quantized"));
      model.putInitializer(q.zeroPoints(p + "/weight_zero_point"));
      model.putInitializer(TensorProtos.floats(p + "/weight_scale", new long[] {q.out}, q.scales));
      String acc = p + "/MatMulInteger_output_0";
      out.add(node("MatMulInteger", p + "/MatMulInteger",
          List.of(xq[0], p + "/weight_quantized", xq[2], p + "/weight_zero_point"), List.of(acc)));
      String scales = p + "/scales_output_0";
      out.add(node("Mul", p + "/ScalesMul", List.of(xq[1], p + "/weight_scale"), List.of(scales)));
      String accF = p + "/Cast_output_0";
      out.add(node("Cast", p + "/Cast", List.of(acc), List.of(accF), attr("to", (long) TensorProto.DataType.FLOAT_VALUE)));
      // keeps the MatMul's output name: every reader (bias Add, branch joins) stays wired as it was
      out.add(node("Mul", p + "/Dequantize", List.of(accF, scales), List.of(n.getOutput(0))));
      replacedWeights.add(w);
    }
    model.graph().clearNode().addAllNode(out);
    for (String w : replacedWeights) {
      if (model.consumers(w).isEmpty() && !graphInputs.contains(w)) {
        model.removeInitializer(w); // the float copy would only make the file 4x larger
      }
    }
    return model;
  }

  /** Names of the MatMul nodes of {@code base} whose second input is a constant 2-D float initializer. */
  public static Set<String> constantWeightMatMuls(OnnxModel base) {
    Set<String> inputs = new java.util.HashSet<>();
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
