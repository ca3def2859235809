package dev.lora4j.exporter;

import static dev.lora4j.models.onnx.OnnxBuilders.attr;

import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.TensorProtos;
import dev.lora4j.models.onnx.proto.Onnx.AttributeProto;
import dev.lora4j.models.onnx.proto.Onnx.NodeProto;
import dev.lora4j.models.onnx.proto.Onnx.OperatorSetIdProto;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes nodes into a base graph under a scope of unique names, in the operator versions the base
 * model imports. Base models come at different opsets (the MiniLM export is opset 11, where
 * Unsqueeze, Squeeze and ReduceSum take their axes as attributes; from opset 13 they are inputs),
 * and we add ops without bumping the model's opset, so the graph stays loadable wherever the base
 * model was. Nodes are collected, not inserted: the caller decides where they go.
 */
final class GraphOps {
  private final OnnxModel model;
  private final String scope;
  private final long opset;
  private final List<NodeProto> nodes = new ArrayList<>();
  private int counter;

  GraphOps(OnnxModel model, String scope) {
    this.model = model;
    this.scope = scope;
    this.opset = defaultOpset(model);
  }

  static long defaultOpset(OnnxModel model) {
    for (OperatorSetIdProto o : model.proto().getOpsetImportList()) {
      if (o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx")) {
        return o.getVersion();
      }
    }
    throw new IllegalStateException(model.source() + ": imports no default ONNX opset");
  }

  OnnxModel model() {
    return model;
  }

  /** A node with a generated output name; returns that name. */
  String op(String type, List<String> inputs, AttributeProto... attrs) {
    return opNamed(type, inputs, scope + "/" + type + "_" + (counter++) + "_output_0", attrs);
  }

  /** A node whose output gets {@code output} as its name (graph outputs). */
  String opNamed(String type, List<String> inputs, String output, AttributeProto... attrs) {
    String name = scope + "/" + type + "_" + (counter++);
    nodes.add(dev.lora4j.models.onnx.OnnxBuilders.node(type, name, inputs, List.of(output), attrs));
    return output;
  }

  /** The nodes written so far, in order; clears the list. */
  List<NodeProto> drain() {
    List<NodeProto> out = List.copyOf(nodes);
    nodes.clear();
    return out;
  }

  String int64Constant(long... values) {
    String name = scope + "/const_i64_" + (counter++);
    model.putInitializer(TensorProtos.int64s(name, values.length == 1 ? new long[0] : new long[] {values.length}, values));
    return name;
  }

  String floatScalar(float value) {
    String name = scope + "/const_f32_" + (counter++);
    model.putInitializer(TensorProtos.floats(name, new long[0], value));
    return name;
  }

  String unsqueeze(String x, long axis) {
    return opset >= 13
        ? op("Unsqueeze", List.of(x, axesConstant(axis)))
        : op("Unsqueeze", List.of(x), attr("axes", new long[] {axis}));
  }

  String squeeze(String x, long axis) {
    return opset >= 13
        ? op("Squeeze", List.of(x, axesConstant(axis)))
        : op("Squeeze", List.of(x), attr("axes", new long[] {axis}));
  }

  String reduceSum(String x, long axis, boolean keepDims) {
    AttributeProto keep = attr("keepdims", keepDims ? 1L : 0L);
    return opset >= 13
        ? op("ReduceSum", List.of(x, axesConstant(axis)), keep)
        : op("ReduceSum", List.of(x), attr("axes", new long[] {axis}), keep);
  }

  private String axesConstant(long axis) {
    String name = scope + "/axes_" + (counter++);
    model.putInitializer(TensorProtos.int64s(name, new long[] {1}, axis));
    return name;
  }
}
