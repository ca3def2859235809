package dev.lora4j.trainer.method;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import dev.lora4j.trainer.encoder.ScalarConstants;

/**
 * The hard-concrete distribution of Louizos, Welling and Kingma, "Learning Sparse Neural Networks
 * through L0 Regularization" (ICLR 2018): a relaxed Bernoulli gate, stretched past [0, 1] and clamped
 * back, so a gate can be exactly 0 or 1 with non-zero probability while its log-alpha stays
 * differentiable.
 *
 * <pre>
 *   u ~ U(0, 1),  s = sigmoid((log u - log(1 - u) + log_alpha) / beta)
 *   g = clamp(s (zeta - gamma) + gamma, 0, 1)                      (training sample)
 *   P(g != 0) = sigmoid(log_alpha - beta log(-gamma / zeta))         (expected L0)
 *   g_test = clamp(sigmoid(log_alpha) (zeta - gamma) + gamma, 0, 1) (deterministic)
 * </pre>
 *
 * Scalar forms are for tests and exports; array forms are differentiable in log-alpha.
 */
final class HardConcrete {
  public static final double BETA = 2.0 / 3.0;
  public static final double GAMMA = -0.1;
  public static final double ZETA = 1.1;
  /** u is drawn from [EPS, 1 - EPS] so that log u and log(1 - u) stay finite. */
  static final float EPS = 1e-6f;

  private HardConcrete() {}

  public static double sample(double logAlpha, double u) {
    double s = sigmoid((Math.log(u) - Math.log1p(-u) + logAlpha) / BETA);
    return clamp01(s * (ZETA - GAMMA) + GAMMA);
  }

  public static double expectedL0(double logAlpha) {
    return sigmoid(logAlpha - BETA * Math.log(-GAMMA / ZETA));
  }

  public static double testGate(double logAlpha) {
    return clamp01(sigmoid(logAlpha) * (ZETA - GAMMA) + GAMMA);
  }

  /** The log-alpha whose gate is closed with probability {@code p} before stretching. */
  public static double logAlphaForDropRate(double p) {
    return Math.log(1 - p) - Math.log(p);
  }

  /**
   * One sample per entry of {@code logAlpha}, with noise from the engine's (seeded) generator. The
   * multipliers come from {@code scalars} because backward reads them (see {@link ScalarConstants}); adding
   * or subtracting a number is safe, its backward does not.
   */
  public static NDArray sample(NDArray logAlpha, ScalarConstants scalars) {
    NDArray u = logAlpha.getManager().randomUniform(EPS, 1 - EPS, logAlpha.getShape());
    NDArray noise = u.log().sub(u.neg().add(1f).log());
    NDArray s = Activation.sigmoid(noise.add(logAlpha).mul(scalars.of((float) (1 / BETA))));
    return s.mul(scalars.of((float) (ZETA - GAMMA))).add((float) GAMMA).clip(0f, 1f);
  }

  public static NDArray expectedL0(NDArray logAlpha) {
    return Activation.sigmoid(logAlpha.sub((float) (BETA * Math.log(-GAMMA / ZETA))));
  }

  public static NDArray testGate(NDArray logAlpha, ScalarConstants scalars) {
    return Activation.sigmoid(logAlpha).mul(scalars.of((float) (ZETA - GAMMA))).add((float) GAMMA).clip(0f, 1f);
  }

  static double sigmoid(double x) {
    return 1 / (1 + Math.exp(-x));
  }

  private static double clamp01(double x) {
    return Math.max(0, Math.min(1, x));
  }
}
