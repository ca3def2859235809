package dev.lora4j.models.tensor;

import java.util.Arrays;

/** An n-dimensional float tensor, row-major: what an ONNX initializer holds, in Java. */
public record FloatTensor(long[] shape, float[] data) {
  public FloatTensor {
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
      }
      n = Math.multiplyExact(n, d);
    }
    if (n != data.length) {
      throw new IllegalArgumentException(
          "shape " + Arrays.toString(shape) + " needs " + n + " values, got " + data.length);
    }
    shape = shape.clone();
  }

  public static FloatTensor of(Matrix m) {
    return new FloatTensor(new long[] {m.rows(), m.cols()}, m.data());
  }

  public static FloatTensor vector(float[] v) {
    return new FloatTensor(new long[] {v.length}, v);
  }

  public int rank() {
    return shape.length;
  }

  /** This tensor as a matrix; it must be two-dimensional. */
  public Matrix asMatrix() {
    if (shape.length != 2) {
      throw new IllegalArgumentException("not a matrix: shape " + Arrays.toString(shape));
    }
    return new Matrix((int) shape[0], (int) shape[1], data);
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FloatTensor t && Arrays.equals(shape, t.shape) && Arrays.equals(data, t.data);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(shape) + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "FloatTensor" + Arrays.toString(shape);
  }
}
