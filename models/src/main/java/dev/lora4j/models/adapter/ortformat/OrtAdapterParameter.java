package dev.lora4j.models.adapter.ortformat;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.onnx.TensorProtos;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto.DataType;
import dev.lora4j.models.tensor.Float16;
import dev.lora4j.models.tensor.FloatTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * One named tensor of an ONNX Runtime adapter: ONNX Runtime feeds it as the graph input of the same
 * name when the adapter is active. {@code dataType} uses ONNX {@code TensorProto.DataType} numbers
 * (the adapter schema's {@code TensorDataType} enum is numbered the same); {@code rawData} is
 * little-endian, as in ONNX.
 */
public record OrtAdapterParameter(String name, long[] dims, int dataType, byte[] rawData) {

  public OrtAdapterParameter {
    Objects.requireNonNull(name, "name");
    dims = dims.clone();
    long n = 1;
    for (long d : dims) {
      if (d < 0) {
        throw new IllegalArgumentException(name + ": negative dimension in " + Arrays.toString(dims));
      }
      // Readers index with ints; beside a 0 (no data to check it against) a larger one would wrap.
      if (d > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(name + ": dimension " + d + " in " + Arrays.toString(dims)
            + " is beyond 2^31-1");
      }
      n = Math.multiplyExact(n, d);
    }
    int size = elementSize(dataType);
    if (size > 0 && Math.multiplyExact(n, (long) size) != rawData.length) {
      throw new IllegalArgumentException(name + ": shape " + Arrays.toString(dims) + " of "
          + TensorProtos.typeName(dataType) + " needs " + n * size + " bytes, got " + rawData.length);
    }
    rawData = rawData.clone();
  }

  public static OrtAdapterParameter floats(String name, FloatTensor t) {
    ByteBuffer buf = ByteBuffer.allocate(t.data().length * 4).order(ByteOrder.LITTLE_ENDIAN);
    buf.asFloatBuffer().put(t.data());
    return new OrtAdapterParameter(name, t.shape(), DataType.FLOAT_VALUE, buf.array());
  }

  /**
   * A float tensor stored as IEEE float16, each value rounded to nearest (ties to even). Refuses a
   * value float16 cannot hold: it would be stored as infinity.
   */
  public static OrtAdapterParameter halves(String name, FloatTensor t) {
    float[] v = t.data();
    ByteBuffer buf = ByteBuffer.allocate(v.length * 2).order(ByteOrder.LITTLE_ENDIAN);
    for (float f : v) {
      if (!(Math.abs(f) < 65520f)) {
        throw new IllegalArgumentException(name + ": " + f + " is beyond float16's range");
      }
      buf.putShort(Float16.floatToHalf(f));
    }
    return new OrtAdapterParameter(name, t.shape(), DataType.FLOAT16_VALUE, buf.array());
  }

  public static OrtAdapterParameter int8s(String name, long[] dims, byte[] values) {
    return new OrtAdapterParameter(name, dims, DataType.INT8_VALUE, values);
  }

  public static OrtAdapterParameter int64s(String name, long[] dims, long... values) {
    ByteBuffer buf = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    buf.asLongBuffer().put(values);
    return new OrtAdapterParameter(name, dims, DataType.INT64_VALUE, buf.array());
  }

  /** FLOAT data as is, FLOAT16 data widened (exactly: every half is a float). */
  public FloatTensor asFloats() {
    ByteBuffer in = ByteBuffer.wrap(rawData).order(ByteOrder.LITTLE_ENDIAN);
    if (dataType == DataType.FLOAT16_VALUE) {
      float[] v = new float[rawData.length / 2];
      for (int i = 0; i < v.length; i++) {
        v[i] = Float16.halfToFloat(in.getShort(i * 2));
      }
      return new FloatTensor(dims, v);
    }
    if (dataType != DataType.FLOAT_VALUE) {
      throw new Lora4jException("adapter parameter " + name + " is " + TensorProtos.typeName(dataType)
          + ", not FLOAT or FLOAT16");
    }
    float[] v = new float[rawData.length / 4];
    in.asFloatBuffer().get(v);
    return new FloatTensor(dims, v);
  }

  public long[] asLongs() {
    if (dataType != DataType.INT64_VALUE) {
      throw new Lora4jException("adapter parameter " + name + " is " + TensorProtos.typeName(dataType) + ", not INT64");
    }
    long[] v = new long[rawData.length / 8];
    ByteBuffer.wrap(rawData).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(v);
    return v;
  }

  @Override
  public long[] dims() {
    return dims.clone();
  }

  /** The data without a copy; callers must not modify it. */
  @Override
  public byte[] rawData() {
    return rawData;
  }

  /** Bytes per element for fixed-size types, 0 for types whose size we do not check. */
  static int elementSize(int dataType) {
    return switch (dataType) {
      case DataType.FLOAT_VALUE, DataType.INT32_VALUE, DataType.UINT32_VALUE -> 4;
      case DataType.DOUBLE_VALUE, DataType.INT64_VALUE, DataType.UINT64_VALUE -> 8;
      case DataType.FLOAT16_VALUE, DataType.BFLOAT16_VALUE, DataType.INT16_VALUE, DataType.UINT16_VALUE -> 2;
      case DataType.INT8_VALUE, DataType.UINT8_VALUE, DataType.BOOL_VALUE -> 1;
      default -> 0;
    };
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof OrtAdapterParameter p && name.equals(p.name) && Arrays.equals(dims, p.dims)
        && dataType == p.dataType && Arrays.equals(rawData, p.rawData);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, Arrays.hashCode(dims), dataType, Arrays.hashCode(rawData));
  }

  @Override
  public String toString() {
    return name + Arrays.toString(dims) + " " + TensorProtos.typeName(dataType);
  }
}
