package dev.lora4j.trainer.loop;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.lora4j.trainer.method.TrainableParameter;
import java.nio.FloatBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * AdamW (Loshchilov and Hutter) as PyTorch's {@code torch.optim.AdamW} computes it: decoupled weight
 * decay {@code p -= lr * wd * p}, then {@code p -= lr * m_hat / (sqrt(v_hat) + eps)} with bias-corrected
 * moments. Written here rather than taken from DJL so its whole state (moments and step count) is
 * ours to checkpoint and restore bit for bit.
 *
 * <p>Updates run in place outside any gradient collector (autograd off), which PyTorch allows on
 * leaves; inside a collector it would not.
 */
public final class AdamW implements AutoCloseable {
  public static final double BETA1 = 0.9;
  public static final double BETA2 = 0.999;
  public static final double EPS = 1e-8;

  private final NDManager manager;
  private final Map<String, NDArray> m = new LinkedHashMap<>();
  private final Map<String, NDArray> v = new LinkedHashMap<>();
  private long steps;

  /** Moments start at zero for every AdamW-updated parameter. */
  public AdamW(List<TrainableParameter> parameters, NDManager parent) {
    this(parameters, parent, TrainableParameter.Updater.METHOD);
  }

  /** A method's own optimizer: moments for every one of {@code parameters}, whatever its updater. */
  public static AdamW forMethod(List<TrainableParameter> parameters, NDManager parent) {
    return new AdamW(parameters, parent, null);
  }

  private AdamW(List<TrainableParameter> parameters, NDManager parent, TrainableParameter.Updater skip) {
    this.manager = parent.newSubManager();
    for (TrainableParameter p : parameters) {
      if (p.updater() != skip) {
        m.put(p.name(), manager.zeros(p.array().getShape()));
        v.put(p.name(), manager.zeros(p.array().getShape()));
      }
    }
  }

  /** One step over {@code parameters} (METHOD-updated ones are skipped) with their gradients as they are now. */
  public void step(List<TrainableParameter> parameters, double adapterLr, double headLr, double weightDecay) {
    step(parameters, p -> p.updater() == TrainableParameter.Updater.HEAD ? headLr : adapterLr, weightDecay,
        TrainableParameter.Updater.METHOD);
  }

  /**
   * One step of a method's own AdamW over all of {@code parameters}, each at {@code lr.applyAsDouble(p)};
   * a negative rate ascends (Lagrange multipliers). {@code completedSteps} sets the bias correction,
   * so the optimizer needs no state besides its moments after a resume.
   */
  public void methodStep(List<TrainableParameter> parameters, ToDoubleFunction<TrainableParameter> lr,
      double weightDecay, long completedSteps) {
    steps = completedSteps;
    step(parameters, lr, weightDecay, null);
  }

  private void step(List<TrainableParameter> parameters, ToDoubleFunction<TrainableParameter> rate,
      double weightDecay, TrainableParameter.Updater skip) {
    steps++;
    double bc1 = 1 - Math.pow(BETA1, steps);
    double bc2 = 1 - Math.pow(BETA2, steps);
    for (TrainableParameter p : parameters) {
      if (p.updater() == skip) {
        continue;
      }
      double lr = rate.applyAsDouble(p);
      NDArray w = p.array();
      NDArray g = w.getGradient();
      NDArray mi = m.get(p.name());
      NDArray vi = v.get(p.name());
      mi.muli((float) BETA1).addi(g.mul((float) (1 - BETA1)));
      vi.muli((float) BETA2).addi(g.square().muli((float) (1 - BETA2)));
      if (p.weightDecay() && weightDecay > 0) {
        w.muli((float) (1 - lr * weightDecay));
      }
      NDArray denom = vi.div((float) bc2).sqrt().addi((float) EPS);
      w.subi(mi.div(denom).muli((float) (lr / bc1)));
    }
  }

  public long steps() {
    return steps;
  }

  /** Moments by {@code <parameter>.adam_m} / {@code .adam_v}, for checkpoints. */
  public Map<String, float[]> state() {
    Map<String, float[]> s = new LinkedHashMap<>();
    m.forEach((k, a) -> s.put(k + ".adam_m", a.toFloatArray()));
    v.forEach((k, a) -> s.put(k + ".adam_v", a.toFloatArray()));
    return s;
  }

  /** The moment arrays themselves by {@code <parameter>.adam_m} / {@code .adam_v}: a method's checkpoint buffers. */
  public Map<String, NDArray> moments() {
    Map<String, NDArray> s = new LinkedHashMap<>();
    m.forEach((k, a) -> s.put(k + ".adam_m", a));
    v.forEach((k, a) -> s.put(k + ".adam_v", a));
    return s;
  }

  public void restore(Map<String, float[]> state, long stepCount) {
    m.forEach((k, a) -> a.set(FloatBuffer.wrap(require(state, k + ".adam_m", a.size()))));
    v.forEach((k, a) -> a.set(FloatBuffer.wrap(require(state, k + ".adam_v", a.size()))));
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

  @Override
  public void close() {
    manager.close();
  }
}
