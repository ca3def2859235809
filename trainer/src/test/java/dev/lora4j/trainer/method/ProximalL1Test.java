package dev.lora4j.trainer.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ProximalL1Test {
  @Test
  void softThresholdsTheGradientStep() {
    // eta 0.5, lambda 0.2: threshold 0.1; z = g - 0.5 * grad
    float[] g = {1.0f, 0.05f, -0.3f, 0.12f, -0.08f};
    float[] grad = {0.2f, 0.0f, 0.2f, -0.1f, 0.0f};
    float[] out = ProximalL1.step(g, grad, 0.5, 0.2);
    // z = 0.9 -> 0.8; 0.05 -> 0; -0.4 -> -0.3; 0.17 -> 0.07; -0.08 -> 0
    assertArrayEquals(new float[] {(float) (0.9 - 0.1), 0f, (float) (-0.4 + 0.1), (float) (0.17 - 0.1), 0f}, out,
        1e-7f);
    assertEquals(0f, out[1]);
    assertEquals(0f, out[4]);
    assertArrayEquals(new float[] {1.0f, 0.05f, -0.3f, 0.12f, -0.08f}, g, "input untouched");
  }

  @Test
  void deadGateStaysDeadUnlessItsGradientBeatsTheThreshold() {
    double eta = 0.1;
    double lambda = 0.3;
    // |grad| <= lambda: the gradient step lands inside the threshold, the gate stays exactly zero
    float[] stay = ProximalL1.step(new float[] {0f, 0f, 0f}, new float[] {0.25f, -0.29f, 0.0f}, eta, lambda);
    assertArrayEquals(new float[] {0f, 0f, 0f}, stay);
    // |grad| > lambda: it comes back by eta * (|grad| - lambda), against the gradient's sign
    float[] out = ProximalL1.step(new float[] {0f, 0f}, new float[] {0.5f, -0.8f}, eta, lambda);
    assertEquals((float) -(0.1 * 0.5 - 0.1 * 0.3), out[0], 1e-8f);
    assertEquals((float) (0.1 * 0.8 - 0.1 * 0.3), out[1], 1e-8f);
  }

  @Test
  void zeroLambdaIsPlainGradientDescent() {
    float[] out = ProximalL1.step(new float[] {0.5f, -1f}, new float[] {1f, -2f}, 0.25, 0);
    assertArrayEquals(new float[] {0.25f, -0.5f}, out);
  }
}
