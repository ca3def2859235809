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

  /**
   * Reads a float-valued tensor (FLOAT, FLOAT16, DOUBLE are converted); {@code where} names the
   * file for error messages.
   */
  public static FloatTensor toFloat(TensorProto t, String where) {
    long[] shape = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
    long n = elementCount(t);
    if (n > Integer.MAX_VALUE) {
      throw new Lora4jException(where + ": tensor " + t.getName() + " has " + n + " elements, too many for one array");
    }
    if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
      throw new Lora4jException(where + ": tensor " + t.getName() + " still points to external data");
    }
    int count = (int) n;
    float[] out = new float[count];
    ByteBuffer raw = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    boolean hasRaw = !t.getRawData().isEmpty();
    switch (t.getDataType()) {
      case DataType.FLOAT_VALUE -> {
        if (hasRaw) {
          checkBytes(t, raw.remaining(), (long) count * 4, where);
          raw.asFloatBuffer().get(out);
        } else {
          checkCount(t, t.getFloatDataCount(), count, where);
          for (int i = 0; i < count; i++) {
            out[i] = t.getFloatData(i);
          }
        }
      }
      case DataType.DOUBLE_VALUE -> {
        if (hasRaw) {
          checkBytes(t, raw.remaining(), (long) count * 8, where);
          for (int i = 0; i < count; i++) {
            out[i] = (float) raw.getDouble(i * 8);
          }
        } else {
          checkCount(t, t.getDoubleDataCount(), count, where);
          for (int i = 0; i < count; i++) {
            out[i] = (float) t.getDoubleData(i);
          }
        }
      }
      case DataType.FLOAT16_VALUE -> {
        if (hasRaw) {
          checkBytes(t, raw.remaining(), (long) count * 2, where);
          for (int i = 0; i < count; i++) {
            out[i] = halfToFloat(raw.getShort(i * 2));
          }
        } else {
          checkCount(t, t.getInt32DataCount(), count, where);
          for (int i = 0; i < count; i++) {
            out[i] = halfToFloat((short) t.getInt32Data(i));
          }
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
    int count = Math.toIntExact(elementCount(t));
    long[] out = new long[count];
    ByteBuffer raw = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    boolean hasRaw = !t.getRawData().isEmpty();
    switch (t.getDataType()) {
      case DataType.INT64_VALUE -> {
        if (hasRaw) {
          checkBytes(t, raw.remaining(), (long) count * 8, where);
          raw.asLongBuffer().get(out);
        } else {
          checkCount(t, t.getInt64DataCount(), count, where);
          for (int i = 0; i < count; i++) {
            out[i] = t.getInt64Data(i);
          }
        }
      }
      case DataType.INT32_VALUE -> {
        if (hasRaw) {
          checkBytes(t, raw.remaining(), (long) count * 4, where);
          for (int i = 0; i < count; i++) {
            out[i] = raw.getInt(i * 4);
          }
        } else {
          checkCount(t, t.getInt32DataCount(), count, where);
          for (int i = 0; i < count; i++) {
            out[i] = t.getInt32Data(i);
          }
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

  private static void checkBytes(TensorProto t, long have, long want, String where) {
    if (have != want) {
      throw new Lora4jException(where + ": tensor " + t.getName() + " of shape " + t.getDimsList()
          + " holds " + have + " bytes of data, expected " + want + " (file truncated or corrupt?)");
    }
  }

  private static void checkCount(TensorProto t, int have, int want, String where) {
    if (have != want) {
      throw new Lora4jException(where + ": tensor " + t.getName() + " of shape " + t.getDimsList()
          + " holds " + have + " values, expected " + want);
    }
  }

  static String dims(TensorProto t) {
    return Arrays.toString(t.getDimsList().toArray());
  }
}
