package dev.lora4j.models.adapter.safetensors;

import dev.lora4j.models.tensor.Float16;
import dev.lora4j.models.tensor.Matrix;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor of a safetensors file: element type, shape and the raw little-endian bytes. Immutable:
 * the bytes are copied in once and only handed out read-only, so reading a file costs one copy per
 * tensor rather than two.
 */
public record SafeTensor(DType dtype, long[] shape, ByteBuffer data) {

  public SafeTensor {
    Objects.requireNonNull(dtype, "dtype");
    shape = shape.clone();
    long bytes = Math.multiplyExact(elementCount(shape), (long) dtype.size());
    if (data.remaining() != bytes) {
      throw new IllegalArgumentException(
          dtype + " " + Arrays.toString(shape) + " needs " + bytes + " bytes, got " + data.remaining());
    }
    ByteBuffer copy = ByteBuffer.allocate(data.remaining());
    copy.put(data.duplicate()).flip();
    data = copy.asReadOnlyBuffer();
  }

  public static SafeTensor f32(long[] shape, float... values) {
    ByteBuffer buf = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    buf.asFloatBuffer().put(values);
    return new SafeTensor(DType.F32, shape, buf);
  }

  /** Values rounded to IEEE float16 (nearest, ties to even); refuses one float16 cannot hold. */
  public static SafeTensor f16(long[] shape, float... values) {
    ByteBuffer buf = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      if (!(Math.abs(v) < 65520f)) {
        throw new IllegalArgumentException(v + " is beyond float16's range");
      }
      buf.putShort(Float16.floatToHalf(v));
    }
    return new SafeTensor(DType.F16, shape, buf.flip());
  }

  public static SafeTensor i64(long[] shape, long... values) {
    ByteBuffer buf = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    buf.asLongBuffer().put(values);
    return new SafeTensor(DType.I64, shape, buf);
  }

  /** A matrix as a 2-D F32 tensor (PyTorch layout is row-major too, so no reordering). */
  public static SafeTensor of(Matrix m) {
    return f32(new long[] {m.rows(), m.cols()}, m.data());
  }

  /** A vector as a 1-D F32 tensor. */
  public static SafeTensor vector(float[] v) {
    return f32(new long[] {v.length}, v);
  }

  /**
   * Number of elements a shape holds; refuses negative dimensions and products beyond a long.
   *
   * @throws IllegalArgumentException for a negative dimension
   * @throws ArithmeticException when the product overflows
   */
  public static long elementCount(long[] shape) {
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
      }
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  public long elementCount() {
    return elementCount(shape);
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** The raw bytes, read-only and little-endian; each call gets its own position. */
  @Override
  public ByteBuffer data() {
    return data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
  }

  /** The values as floats, widened or narrowed from whichever float type the file used. */
  public float[] toFloats() {
    if (!dtype.isFloat()) {
      throw new IllegalStateException(dtype + " tensor read as floats");
    }
    float[] out = new float[Math.toIntExact(elementCount())];
    ByteBuffer in = data();
    switch (dtype) {
      case F32 -> in.asFloatBuffer().get(out);
      case F64 -> {
        for (int i = 0; i < out.length; i++) {
          out[i] = (float) in.getDouble(i * 8);
        }
      }
      case F16 -> {
        for (int i = 0; i < out.length; i++) {
          out[i] = Float16.halfToFloat(in.getShort(i * 2));
        }
      }
      case BF16 -> {
        for (int i = 0; i < out.length; i++) {
          out[i] = Float16.bfloat16ToFloat(in.getShort(i * 2));
        }
      }
      default -> throw new AssertionError(dtype);
    }
    return out;
  }

  public long[] toLongs() {
    if (dtype != DType.I64) {
      throw new IllegalStateException(dtype + " tensor read as longs");
    }
    long[] out = new long[Math.toIntExact(elementCount())];
    data().asLongBuffer().get(out);
    return out;
  }

  /** A 2-D float tensor as a matrix. */
  public Matrix toMatrix() {
    if (shape.length != 2) {
      throw new IllegalStateException("shape " + Arrays.toString(shape) + " is not a matrix");
    }
    return new Matrix(Math.toIntExact(shape[0]), Math.toIntExact(shape[1]), toFloats());
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SafeTensor t
        && dtype == t.dtype
        && Arrays.equals(shape, t.shape)
        && data.equals(t.data);
  }

  @Override
  public int hashCode() {
    return Objects.hash(dtype, Arrays.hashCode(shape), data);
  }

  @Override
  public String toString() {
    return dtype + Arrays.toString(shape);
  }
}
