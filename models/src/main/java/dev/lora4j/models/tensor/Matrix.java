package dev.lora4j.models.tensor;

import java.util.Arrays;

/**
 * A dense row-major float matrix. The arithmetic here is the small amount adapters need (folding
 * gates and scales, B·A products for merging); it is plain Java on purpose so every module, the
 * runtime included, can use it without a native engine.
 */
public record Matrix(int rows, int cols, float[] data) {
  public Matrix {
    if (rows < 0 || cols < 0 || (long) rows * cols != data.length) {
      throw new IllegalArgumentException(
          "matrix " + rows + "x" + cols + " needs " + (long) rows * cols + " values, got " + data.length);
    }
  }

  public static Matrix zeros(int rows, int cols) {
    return new Matrix(rows, cols, new float[Math.multiplyExact(rows, cols)]);
  }

  public static Matrix identity(int n) {
    Matrix m = zeros(n, n);
    for (int i = 0; i < n; i++) {
      m.data[i * n + i] = 1f;
    }
    return m;
  }

  public float get(int r, int c) {
    return data[r * cols + c];
  }

  public Matrix transpose() {
    float[] t = new float[data.length];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        t[c * rows + r] = data[r * cols + c];
      }
    }
    return new Matrix(cols, rows, t);
  }

  /** this · other, accumulated in double so folded factors stay within float rounding of exact. */
  public Matrix multiply(Matrix other) {
    if (cols != other.rows) {
      throw new IllegalArgumentException(
          "cannot multiply " + rows + "x" + cols + " by " + other.rows + "x" + other.cols);
    }
    float[] out = new float[rows * other.cols];
    double[] acc = new double[other.cols];
    for (int r = 0; r < rows; r++) {
      Arrays.fill(acc, 0);
      for (int k = 0; k < cols; k++) {
        double v = data[r * cols + k];
        if (v == 0) {
          continue;
        }
        int base = k * other.cols;
        for (int c = 0; c < other.cols; c++) {
          acc[c] += v * other.data[base + c];
        }
      }
      for (int c = 0; c < other.cols; c++) {
        out[r * other.cols + c] = (float) acc[c];
      }
    }
    return new Matrix(rows, other.cols, out);
  }

  public Matrix scale(double s) {
    float[] out = new float[data.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) (data[i] * s);
    }
    return new Matrix(rows, cols, out);
  }

  public Matrix add(Matrix other) {
    if (rows != other.rows || cols != other.cols) {
      throw new IllegalArgumentException("shape mismatch " + shape() + " vs " + other.shape());
    }
    float[] out = new float[data.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = data[i] + other.data[i];
    }
    return new Matrix(rows, cols, out);
  }

  /** Multiplies column j by {@code factors[j]} (that is, this · diag(factors)). */
  public Matrix scaleColumns(float[] factors) {
    if (factors.length != cols) {
      throw new IllegalArgumentException(factors.length + " factors for " + cols + " columns");
    }
    float[] out = new float[data.length];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        out[r * cols + c] = data[r * cols + c] * factors[c];
      }
    }
    return new Matrix(rows, cols, out);
  }

  public Matrix selectRows(int[] keep) {
    float[] out = new float[keep.length * cols];
    for (int i = 0; i < keep.length; i++) {
      System.arraycopy(data, keep[i] * cols, out, i * cols, cols);
    }
    return new Matrix(keep.length, cols, out);
  }

  public Matrix selectColumns(int[] keep) {
    float[] out = new float[rows * keep.length];
    for (int r = 0; r < rows; r++) {
      for (int i = 0; i < keep.length; i++) {
        out[r * keep.length + i] = data[r * cols + keep[i]];
      }
    }
    return new Matrix(rows, keep.length, out);
  }

  /** Index of the first NaN or infinite value, or -1. */
  public int firstNonFinite() {
    for (int i = 0; i < data.length; i++) {
      if (!Float.isFinite(data[i])) {
        return i;
      }
    }
    return -1;
  }

  public double maxAbsDifference(Matrix other) {
    if (rows != other.rows || cols != other.cols) {
      throw new IllegalArgumentException("shape mismatch " + shape() + " vs " + other.shape());
    }
    double max = 0;
    for (int i = 0; i < data.length; i++) {
      max = Math.max(max, Math.abs(data[i] - other.data[i]));
    }
    return max;
  }

  public String shape() {
    return rows + "x" + cols;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Matrix m && rows == m.rows && cols == m.cols && Arrays.equals(data, m.data);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * rows + cols) + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "Matrix[" + shape() + "]";
  }
}
