package dev.lora4j.models.onnx;

import com.google.protobuf.ByteString;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto.DataType;
import dev.lora4j.models.tensor.Float16;
import dev.lora4j.models.tensor.FloatTensor;
import dev.lora4j.models.tensor.Matrix;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/** Conversions between ONNX {@code TensorProto} and Java arrays (ONNX raw data is little-endian). */
public final class TensorProtos {
  private TensorProtos() {}

  public static TensorProto floats(String name, FloatTensor t) {
    ByteBuffer buf = ByteBuffer.allocate(t.data().length * 4).order(ByteOrder.LITTLE_ENDIAN);
    buf.asFloatBuffer().put(t.data());
    TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(DataType.FLOAT_VALUE);
    for (long d : t.shape()) {
      b.addDims(d);
    }
    return b.setRawData(ByteString.copyFrom(buf.array())).build();
  }

  public static TensorProto floats(String name, Matrix m) {
    return floats(name, FloatTensor.of(m));
  }

  public static TensorProto floats(String name, long[] shape, float... values) {
    return floats(name, new FloatTensor(shape, values));
  }

  public static TensorProto int64s(String name, long[] shape, long... values) {
    ByteBuffer buf = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    buf.asLongBuffer().put(values);
    TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(DataType.INT64_VALUE);
    for (long d : shape) {
      b.addDims(d);
    }
    return b.setRawData(ByteString.copyFrom(buf.array())).build();
  }

  public static long elementCount(TensorProto t) {
    long n = 1;
    for (long d : t.getDimsList()) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  /** The element count of a tensor read from {@code where}, refusing negative or overflowing dims. */
  public static long elementCount(TensorProto t, String where) {
    long n = 1;
    for (long d : t.getDimsList()) {
      if (d < 0) {
        throw new Lora4jException(where + ": tensor " + t.getName() + " has a negative dimension in shape " + dims(t));
      }
      try {
        n = Math.multiplyExact(n, d);
      } catch (ArithmeticException e) {
        throw new Lora4jException(where + ": tensor " + t.getName() + " has shape " + dims(t) + ", too large to exist");
      }
    }
    return n;
  }

  /**
   * The element count, once the data present is known to hold exactly that many values of
   * {@code bytes} bytes each; checked before any array is allocated, so dims cannot make us
   * allocate more than the file holds.
   */
  private static int checkedCount(TensorProto t, boolean hasRaw, int bytes, int typedCount, String where) {
    long n = elementCount(t, where);
    if (hasRaw) {
      long have = t.getRawData().size();
      if (n > have / bytes || n * bytes != have) {
        throw new Lora4jException(where + ": tensor " + t.getName() + " of shape " + t.getDimsList()
            + " holds " + have + " bytes of data, expected "
            + (n > Long.MAX_VALUE / bytes ? n + " values of " + bytes + " bytes" : Long.toString(n * bytes))
            + " (file truncated or corrupt?)");
      }
    } else if (n != typedCount) {
      throw new Lora4jException(where + ": tensor " + t.getName() + " of shape " + t.getDimsList()
          + " holds " + typedCount + " values, expected " + n);
    }
    return (int) n;
  }

  /**
   * Reads a float-valued tensor (FLOAT, FLOAT16, DOUBLE are converted); {@code where} names the
   * file for error messages.
   */
  public static FloatTensor toFloat(TensorProto t, String where) {
    long[] shape = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
    if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
      throw new Lora4jException(where + ": tensor " + t.getName() + " still points to external data");
    }
    ByteBuffer raw = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    boolean hasRaw = !t.getRawData().isEmpty();
    float[] out;
    switch (t.getDataType()) {
      case DataType.FLOAT_VALUE -> {
        out = new float[checkedCount(t, hasRaw, 4, t.getFloatDataCount(), where)];
        if (hasRaw) {
          raw.asFloatBuffer().get(out);
        } else {
          for (int i = 0; i < out.length; i++) {
            out[i] = t.getFloatData(i);
          }
        }
      }
      case DataType.DOUBLE_VALUE -> {
        out = new float[checkedCount(t, hasRaw, 8, t.getDoubleDataCount(), where)];
        for (int i = 0; i < out.length; i++) {
          out[i] = (float) (hasRaw ? raw.getDouble(i * 8) : t.getDoubleData(i));
        }
      }
      case DataType.FLOAT16_VALUE -> {
        out = new float[checkedCount(t, hasRaw, 2, t.getInt32DataCount(), where)];
        for (int i = 0; i < out.length; i++) {
          out[i] = halfToFloat(hasRaw ? raw.getShort(i * 2) : (short) t.getInt32Data(i));
        }
      }
      default -> throw new Lora4jException(
          where + ": tensor " + t.getName() + " has element type " + typeName(t.getDataType())
              + "; only FLOAT, FLOAT16 and DOUBLE can be read as floats");
    }
    return new FloatTensor(shape, out);
  }

  /** Reads an integer tensor (INT64 or INT32). */
  public static long[] toLongs(TensorProto t, String where) {
    ByteBuffer raw = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    boolean hasRaw = !t.getRawData().isEmpty();
    long[] out;
    switch (t.getDataType()) {
      case DataType.INT64_VALUE -> {
        out = new long[checkedCount(t, hasRaw, 8, t.getInt64DataCount(), where)];
        if (hasRaw) {
          raw.asLongBuffer().get(out);
        } else {
          for (int i = 0; i < out.length; i++) {
            out[i] = t.getInt64Data(i);
          }
        }
      }
      case DataType.INT32_VALUE -> {
        out = new long[checkedCount(t, hasRaw, 4, t.getInt32DataCount(), where)];
        for (int i = 0; i < out.length; i++) {
          out[i] = hasRaw ? raw.getInt(i * 4) : t.getInt32Data(i);
        }
      }
      default -> throw new Lora4jException(
          where + ": tensor " + t.getName() + " has element type " + typeName(t.getDataType())
              + "; expected INT64 or INT32");
    }
    return out;
  }

  /** Kept so this package's callers need not know where the conversion lives. */
  static float halfToFloat(short h) {
    return Float16.halfToFloat(h);
  }

  public static String typeName(int dataType) {
    DataType dt = DataType.forNumber(dataType);
    return dt == null ? "unknown (" + dataType + ")" : dt.name();
  }

  static String dims(TensorProto t) {
    return Arrays.toString(t.getDimsList().toArray());
  }
}
