package dev.lora4j.trainer.method;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.lora4j.trainer.PyTorchEngine;
import org.junit.jupiter.api.Test;

class OrthogonalityTest {
  @Test
  void zeroForOrthonormalFactorsAndTheSquaredDefectOtherwise() {
    PyTorchEngine.load();
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), PyTorchEngine.NAME)) {
      double c = Math.cos(0.3);
      double s = Math.sin(0.3);
      // A: two orthonormal rows in R^3 (a rotation of e1, e2); B: two orthonormal columns in R^4
      float[] a = {(float) c, (float) -s, 0, (float) s, (float) c, 0};
      float[] b = {0, 1, 1, 0, 0, 0, 0, 0};
      assertEquals(0, Orthogonality.penalty(m.create(a, new Shape(2, 3)), m.create(b, new Shape(4, 2))).getFloat(),
          1e-6);
      // doubling A's first row: A A^T - I = diag(3, 0); B = 0: B^T B - I = -I, 2 entries
      float[] a2 = {(float) (2 * c), (float) (-2 * s), 0, (float) s, (float) c, 0};
      assertEquals(9 + 2, Orthogonality.penalty(m.create(a2, new Shape(2, 3)), m.zeros(new Shape(4, 2))).getFloat(),
          1e-5);
    }
  }
}
