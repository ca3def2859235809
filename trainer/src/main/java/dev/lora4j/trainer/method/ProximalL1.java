package dev.lora4j.trainer.method;

/**
 * The proximal gradient step for an L1 penalty: a plain gradient step followed by soft-thresholding,
 * so values land exactly on zero instead of hovering near it.
 *
 * <pre>  z = g - eta * grad;   g' = sign(z) * max(|z| - eta * lambda, 0) </pre>
 *
 * A gate at zero therefore stays there unless its gradient alone moves it further than the
 * threshold ({@code |grad| > lambda}).
 */
final class ProximalL1 {
  private ProximalL1() {}

  /** Returns the updated values; {@code gates} is not modified. */
  public static float[] step(float[] gates, float[] grads, double eta, double lambda) {
    if (gates.length != grads.length) {
      throw new IllegalArgumentException(gates.length + " gates but " + grads.length + " gradients");
    }
    double threshold = eta * lambda;
    float[] out = new float[gates.length];
    for (int i = 0; i < gates.length; i++) {
      out[i] = (float) softThreshold(gates[i] - eta * grads[i], threshold);
    }
    return out;
  }

  public static double softThreshold(double z, double threshold) {
    double shrunk = Math.abs(z) - threshold;
    return shrunk > 0 ? Math.copySign(shrunk, z) : 0.0;
  }
}
