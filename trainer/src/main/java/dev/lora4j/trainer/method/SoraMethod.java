package dev.lora4j.trainer.method;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.lora4j.trainer.SparsityConfig;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * SoRA (Ding et al., 2023, TsinghuaC3I/SoRA): a gate vector between A and B,
 * {@code delta W = (alpha / r) · B diag(g) A}, g starting at ones. A and B follow AdamW; the gates
 * do not. After every optimizer step each gate takes a proximal L1 step ({@link ProximalL1}) with
 * its own step size {@code --gate-lr} and a strength lambda that the sparsity schedule raises over
 * training, so whole ranks reach exactly zero and are dropped at export.
 *
 * <p>SoRA's reference code steps the gates with an Adam-style update before thresholding; here the
 * gradient step is plain SGD, which keeps the threshold {@code eta · lambda} a property of the
 * options rather than of the gradient history.
 */
final class SoraMethod implements TrainingMethod {
  @Override
  public String id() {
    return "sora";
  }

  @Override
  public String summary() {
    return "SoRA: gated ranks delta W = (alpha/r) B diag(g) A, proximal L1 on g prunes ranks to exactly zero";
  }

  @Override
  public MethodState start(MethodSetup setup) {
    return new State(setup);
  }

  static final class State extends LowRankState {
    private final SparsityConfig sparsity;
    private double gateGradMeanAbs;

    State(MethodSetup setup) {
      super(setup, (module, rank, m) -> BranchFactor.leaf(
          BranchFactor.trainable(m.ones(new Shape(rank)), module + ".lora_gate")), null);
      this.sparsity = setup.config().sparsity();
    }

    @Override
    protected TrainableParameter.Updater gateUpdater() {
      return TrainableParameter.Updater.METHOD;
    }

    @Override
    public void afterOptimizerStep(StepInfo step) {
      double lambda = sparsity.lambdaAt(step.step(), step.totalSteps());
      double sumAbs = 0;
      int n = 0;
      for (LowRankBranch b : branches().values()) {
        NDArray g = gateOf(b);
        float[] grad = g.getGradient().toFloatArray();
        for (float x : grad) {
          sumAbs += Math.abs(x);
        }
        n += grad.length;
        float[] next = ProximalL1.step(g.toFloatArray(), grad, sparsity.gateLr(), lambda);
        // Written in place with autograd off (outside the collector): the gate stays the same leaf.
        TrainableParameter.overwrite(g, next);
      }
      gateGradMeanAbs = n == 0 ? 0 : sumAbs / n;
    }

    @Override
    public Map<String, Integer> activeRanks() {
      Map<String, Integer> r = new LinkedHashMap<>();
      for (LowRankBranch b : branches().values()) {
        int live = 0;
        for (float v : gateOf(b).toFloatArray()) {
          if (v != 0f) {
            live++;
          }
        }
        r.put(b.module(), live);
      }
      return r;
    }

    /** SoRA's gate is a single leaf, stepped here rather than by AdamW. */
    private static NDArray gateOf(LowRankBranch b) {
      return b.gate().leaves().get(0);
    }

    @Override
    public Map<String, Double> stepMetrics(StepInfo step) {
      // The gradient scale is what lambda is compared with: a gate survives while |grad| > lambda.
      return Map.of("lambda", sparsity.lambdaAt(step.step(), step.totalSteps()), "gate_grad", gateGradMeanAbs);
    }
  }
}
