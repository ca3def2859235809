package dev.lora4j.trainer.loop;

import ai.djl.ndarray.NDArray;
import dev.lora4j.trainer.method.TrainableParameter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;

/**
 * AdamW (Loshchilov and Hutter) as PyTorch's {@code torch.optim.AdamW} computes it: decoupled weight
 * decay {@code p -= lr * wd * p}, then {@code p -= lr * m_hat / (sqrt(v_hat) + eps)} with bias-corrected
 * moments. Written here rather than taken from DJL so its whole state (moments and step count) is
 * ours to checkpoint and restore bit for bit.
 *
 * <p>Updates run in place outside any gradient collector (autograd off), which PyTorch allows on
 * leaves; inside a collector it would not. The moments live in Java arrays: the update itself runs
 * in Java (see {@link #update}), so they never need to cross into PyTorch.
 */
public final class AdamW {
  public static final double BETA1 = 0.9;
  public static final double BETA2 = 0.999;
  public static final double EPS = 1e-8;

  private final Map<String, float[]> m = new LinkedHashMap<>();
  private final Map<String, float[]> v = new LinkedHashMap<>();
  private long steps;

  /** Moments start at zero for every AdamW-updated parameter. */
  public AdamW(List<TrainableParameter> parameters) {
    this(parameters, TrainableParameter.Updater.METHOD);
  }

  /** A method's own optimizer: moments for every one of {@code parameters}, whatever its updater. */
  public static AdamW forMethod(List<TrainableParameter> parameters) {
    return new AdamW(parameters, null);
  }

  private AdamW(List<TrainableParameter> parameters, TrainableParameter.Updater skip) {
    for (TrainableParameter p : parameters) {
      if (p.updater() != skip) {
        m.put(p.name(), new float[Math.toIntExact(p.size())]);
        v.put(p.name(), new float[Math.toIntExact(p.size())]);
      }
    }
  }

  /** One step over {@code parameters} (METHOD-updated ones are skipped) with their gradients as they are now. */
  public void step(List<TrainableParameter> parameters, double adapterLr, double headLr, double weightDecay) {
    step(parameters, adapterLr, headLr, weightDecay, AdamW::gradientOf);
  }

  /**
   * As {@link #step(List, double, double, double)} with each parameter's gradient as {@code gradients}
   * gives it (the training loop has read and clipped them already); returns the largest magnitude of
   * an updated value, NaN when one is NaN.
   */
  float step(List<TrainableParameter> parameters, double adapterLr, double headLr, double weightDecay,
      Function<TrainableParameter, float[]> gradients) {
    return step(parameters, p -> p.updater() == TrainableParameter.Updater.HEAD ? headLr : adapterLr, weightDecay,
        TrainableParameter.Updater.METHOD, gradients);
  }

  /**
   * One step of a method's own AdamW over all of {@code parameters}, each at {@code lr.applyAsDouble(p)};
   * a negative rate ascends (Lagrange multipliers). {@code completedSteps} sets the bias correction,
   * so the optimizer needs no state besides its moments after a resume.
   */
  public void methodStep(List<TrainableParameter> parameters, ToDoubleFunction<TrainableParameter> lr,
      double weightDecay, long completedSteps) {
    steps = completedSteps;
    step(parameters, lr, weightDecay, null, AdamW::gradientOf);
  }

  private static float[] gradientOf(TrainableParameter p) {
    return p.array().getGradient().toFloatArray();
  }

  private float step(List<TrainableParameter> parameters, ToDoubleFunction<TrainableParameter> rate,
      double weightDecay, TrainableParameter.Updater skip, Function<TrainableParameter, float[]> gradients) {
    steps++;
    float largest = 0;
    double bc1 = 1 - Math.pow(BETA1, steps);
    double bc2 = 1 - Math.pow(BETA2, steps);
    for (TrainableParameter p : parameters) {
      if (p.updater() == skip) {
        continue;
      }
      double lr = rate.applyAsDouble(p);
      NDArray w = p.array();
      float[] wv = w.toFloatArray();
      float l = update(wv, gradients.apply(p), m.get(p.name()), v.get(p.name()),
          p.weightDecay() && weightDecay > 0 ? (float) (1 - lr * weightDecay) : 1f, (float) bc2, (float) (lr / bc1));
      largest = Math.max(largest, l); // NaN, once there, stays
      TrainableParameter.overwrite(w, wv);
    }
    return largest;
  }

  /**
   * One parameter's update, in float32 and in the order of the in-place PyTorch ops it replaced
   * ({@code m = m·β1 + g·(1-β1)}, {@code v = v·β2 + g²·(1-β2)}, {@code w = w·(1-lr·wd)},
   * {@code w -= m / (sqrt(v / bc2) + eps) · (lr / bc1)}), each product, quotient and sum rounded to
   * float as PyTorch's element-wise kernels round it. The one difference is the square root: this one
   * is correctly rounded, PyTorch's vectorised one is now and then an ulp off, so the float32
   * trainer's pinned losses match to 1e-5, not to the bit (ReducedPrecisionTrainingTest; AdamWTest
   * checks the step against torch.optim.AdamW). Why in Java: those ops on 24 small tensors were ~300
   * native calls a step (each a dispatch, and a thread-pool wake-up that a loaded machine makes
   * slow); this is three transfers per parameter (weights out and back, the gradient out). {@code decay}
   * is 1 without weight decay. Returns the largest magnitude of the new {@code w}, NaN if one is NaN.
   */
  static float update(float[] w, float[] g, float[] m, float[] v, float decay, float bc2, float step) {
    final float b1 = (float) BETA1;
    final float b2 = (float) BETA2;
    final float c1 = (float) (1 - BETA1);
    final float c2 = (float) (1 - BETA2);
    final float eps = (float) EPS;
    float largest = 0;
    for (int i = 0; i < w.length; i++) {
      float gi = g[i];
      m[i] = m[i] * b1 + gi * c1;
      v[i] = v[i] * b2 + (gi * gi) * c2;
      float wi = decay == 1f ? w[i] : w[i] * decay;
      // sqrt in double then rounded to float is the correctly rounded float sqrt (53 >= 2·24 + 2 bits)
      float denom = (float) Math.sqrt(v[i] / bc2) + eps;
      w[i] = wi - (m[i] / denom) * step;
      largest = Math.max(largest, Math.abs(w[i])); // Math.max returns NaN when either is
    }
    return largest;
  }

  public long steps() {
    return steps;
  }

  /** Moments by {@code <parameter>.adam_m} / {@code .adam_v}, for checkpoints. */
  public Map<String, float[]> state() {
    Map<String, float[]> s = new LinkedHashMap<>();
    m.forEach((k, a) -> s.put(k + ".adam_m", a.clone()));
    v.forEach((k, a) -> s.put(k + ".adam_v", a.clone()));
    return s;
  }

  /**
   * The moment arrays themselves by {@code <parameter>.adam_m} / {@code .adam_v}, live (a checkpoint
   * restores them in place): a method's checkpoint buffers.
   */
  public Map<String, float[]> moments() {
    Map<String, float[]> s = new LinkedHashMap<>();
    m.forEach((k, a) -> s.put(k + ".adam_m", a));
    v.forEach((k, a) -> s.put(k + ".adam_v", a));
    return s;
  }

  public void restore(Map<String, float[]> state, long stepCount) {
    m.forEach((k, a) -> System.arraycopy(require(state, k + ".adam_m", a.length), 0, a, 0, a.length));
    v.forEach((k, a) -> System.arraycopy(require(state, k + ".adam_v", a.length), 0, a, 0, a.length));
    steps = stepCount;
  }

  private static float[] require(Map<String, float[]> state, String key, long size) {
    float[] x = state.get(key);
    if (x == null || x.length != size) {
      throw new dev.lora4j.models.Lora4jException("checkpoint has no optimizer state " + key + " of " + size
          + " values" + (x == null ? "" : " (it holds " + x.length + ")"));
    }
    return x;
  }
}
