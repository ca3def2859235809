package dev.lora4j.models.onnx;

import com.google.protobuf.ByteString;
import dev.lora4j.models.onnx.proto.Onnx.AttributeProto;
import dev.lora4j.models.onnx.proto.Onnx.NodeProto;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto;
import dev.lora4j.models.onnx.proto.Onnx.TensorShapeProto;
import dev.lora4j.models.onnx.proto.Onnx.TypeProto;
import dev.lora4j.models.onnx.proto.Onnx.ValueInfoProto;
import java.util.List;

/** Terse constructors for ONNX nodes, attributes and typed values, for code that writes graphs. */
public final class OnnxBuilders {
  private OnnxBuilders() {}

  public static NodeProto node(String op, String name, List<String> inputs, List<String> outputs,
      AttributeProto... attrs) {
    NodeProto.Builder b = NodeProto.newBuilder().setOpType(op).setName(name)
        .addAllInput(inputs).addAllOutput(outputs);
    for (AttributeProto a : attrs) {
      b.addAttribute(a);
    }
    return b.build();
  }

  public static AttributeProto attr(String name, long value) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
  }

  public static AttributeProto attr(String name, float value) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(value).build();
  }

  public static AttributeProto attr(String name, String value) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING)
        .setS(ByteString.copyFromUtf8(value)).build();
  }

  public static AttributeProto attr(String name, long[] values) {
    AttributeProto.Builder b = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
    for (long v : values) {
      b.addInts(v);
    }
    return b.build();
  }

  public static AttributeProto attr(String name, TensorProto value) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.TENSOR).setT(value).build();
  }

  /**
   * A tensor-typed graph input or output; each dimension is a {@code Long}/{@code Integer} (fixed)
   * or a {@code String} (symbolic).
   */
  public static ValueInfoProto tensorValue(String name, int elemType, Object... dims) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    for (Object d : dims) {
      TensorShapeProto.Dimension.Builder db = TensorShapeProto.Dimension.newBuilder();
      if (d instanceof String s) {
        db.setDimParam(s);
      } else {
        db.setDimValue(((Number) d).longValue());
      }
      shape.addDim(db);
    }
    return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder()
        .setTensorType(TypeProto.Tensor.newBuilder().setElemType(elemType).setShape(shape))).build();
  }

  public static ValueInfoProto floatValue(String name, Object... dims) {
    return tensorValue(name, TensorProto.DataType.FLOAT_VALUE, dims);
  }

  public static ValueInfoProto int64Value(String name, Object... dims) {
    return tensorValue(name, TensorProto.DataType.INT64_VALUE, dims);
  }
}
