package dev.lora4j.trainer.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.lora4j.trainer.PyTorchEngine;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The Java-drawn dropout mask: the right rate and scale, independent lanes, PyTorch's determinism, a gradient. */
class InputDropoutTest {
  private static final int N = 1 << 20;

  private static float[] mask(float p, long seed) {
    FloatBuffer b = InputDropout.mask(new Shape(N), p, seed).asFloatBuffer();
    float[] v = new float[N];
    b.get(v);
    return v;
  }

  @Test
  void dropsTheRequestedShareAndScalesTheRestByOneOverKeep() {
    for (float p : new float[] {0.1f, 0.5f, 0.05f}) {
      float[] m = mask(p, 7);
      long dropped = 0;
      for (float v : m) {
        if (v == 0f) {
          dropped++;
        } else {
          assertEquals(1f / (1f - p), v, 0f, "a kept element is scaled by exactly 1/(1-p)");
        }
      }
      // binomial sd of the share over 2^20 draws is <= 0.0005; 6 sd, so a fair mask never fails
      double share = (double) dropped / N;
      assertEquals(p, share, 6 * Math.sqrt(p * (1 - p) / N) + Math.pow(2, -17), "dropped share for p = " + p);
    }
  }

  @Test
  void theFourLanesOfOneRandomNumberAreIndependent() {
    // a lane-shift bug that reuses 16 bits would drop whole groups of four together (share p, not p^4)
    float[] m = mask(0.5f, 11);
    int allDropped = 0;
    for (int i = 0; i < N; i += 4) {
      if (m[i] == 0 && m[i + 1] == 0 && m[i + 2] == 0 && m[i + 3] == 0) {
        allDropped++;
      }
    }
    double share = allDropped / (N / 4.0);
    assertEquals(0.0625, share, 6 * Math.sqrt(0.0625 * 0.9375 / (N / 4.0)), "P(four in a row dropped) = 0.5^4");
  }

  @Test
  void theSameSeedGivesTheSameMaskAndAnotherSeedAnother() {
    assertArrayEquals(mask(0.1f, 3), mask(0.1f, 3));
    assertFalse(Arrays.equals(mask(0.1f, 3), mask(0.1f, 4)));
  }

  @Test
  void theMaskFollowsPyTorchsGeneratorSoAReseededStepRepeatsIt() {
    PyTorchEngine.load();
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), PyTorchEngine.NAME)) {
      NDArray x = m.ones(new Shape(64, 48));
      InputDropout dropout = new InputDropout(0.2f);
      Engine.getEngine(PyTorchEngine.NAME).setRandomSeed(5);
      float[] first = dropout.apply(x).toFloatArray();
      float[] second = dropout.apply(x).toFloatArray();
      Engine.getEngine(PyTorchEngine.NAME).setRandomSeed(5);
      float[] again = dropout.apply(x).toFloatArray();
      assertArrayEquals(first, again, "re-seeding PyTorch's generator repeats the mask");
      assertFalse(Arrays.equals(first, second), "the next call in the same step draws a new mask");
    }
  }

  @Test
  void theGradientIsTheMask() {
    PyTorchEngine.load();
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), PyTorchEngine.NAME)) {
      NDArray x = m.randomNormal(new Shape(32, 40));
      x.setRequiresGradient(true);
      NDArray y;
      try (GradientCollector gc = Engine.getEngine(PyTorchEngine.NAME).newGradientCollector()) {
        y = new InputDropout(0.3f).apply(x);
        gc.backward(y.sum());
      }
      float[] xv = x.toFloatArray();
      float[] yv = y.toFloatArray();
      float[] g = x.getGradient().toFloatArray();
      int dropped = 0;
      for (int i = 0; i < xv.length; i++) {
        boolean kept = g[i] != 0f;
        dropped += kept ? 0 : 1;
        assertEquals(kept ? 1f / 0.7f : 0f, g[i], 1e-6f, "d sum(y) / dx is the mask");
        assertEquals(xv[i] * g[i], yv[i], 1e-6f, "y = x * mask");
      }
      assertTrue(dropped > 0 && dropped < xv.length, "some dropped, some kept: " + dropped);
    }
  }

  @Test
  void aBufferIsReusedOnlyOnceTheMaskMadeFromItIsClosed() {
    PyTorchEngine.load();
    InputDropout dropout = new InputDropout(0.5f);
    try (NDManager root = NDManager.newBaseManager(Device.cpu(), PyTorchEngine.NAME)) {
      NDArray firstStep;
      float[] firstValues;
      try (NDManager step = root.newSubManager()) {
        NDArray x = step.ones(new Shape(16, 48));
        firstStep = dropout.apply(x);
        firstValues = firstStep.toFloatArray();
        // a second mask while the first is alive gets its own buffer: the first result stays as it was
        NDArray again = dropout.apply(x);
        assertFalse(Arrays.equals(firstValues, again.toFloatArray()));
        assertArrayEquals(firstValues, firstStep.toFloatArray(), "a live mask was overwritten");
        assertEquals(2, dropout.buffers());
      }
      try (NDManager step = root.newSubManager()) {
        // the step's scope closed both masks: the next step draws into the same buffers, a longer batch too
        dropout.apply(step.ones(new Shape(16, 48)));
        dropout.apply(step.ones(new Shape(18, 48)));
        assertEquals(2, dropout.buffers(), "closed masks' buffers are reused");
      }
    }
  }
}
