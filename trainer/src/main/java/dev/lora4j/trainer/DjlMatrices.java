package dev.lora4j.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.lora4j.models.tensor.Matrix;

/** Conversions between DJL arrays and the plain-Java tensors of the models module. */
public final class DjlMatrices {
  private DjlMatrices() {}

  public static Matrix toMatrix(NDArray x) {
    Shape s = x.getShape();
    if (s.dimension() != 2) {
      throw new IllegalArgumentException(x.getName() + " is not a matrix: " + s);
    }
    return new Matrix((int) s.get(0), (int) s.get(1), x.toFloatArray());
  }

  public static NDArray toArray(Matrix m, NDManager manager) {
    return manager.create(m.data(), new Shape(m.rows(), m.cols()));
  }
}
