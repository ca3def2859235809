package dev.lora4j.trainer.method;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.lora4j.trainer.SaloraConfig;
import dev.lora4j.trainer.encoder.ScalarConstants;
import dev.lora4j.trainer.loop.AdamW;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * SaLoRA (Hu et al., "Structure-Aware Low-Rank Adaptation for Parameter-Efficient Fine-Tuning",
 * Mathematics 11(20) 4317, 2023): {@code delta W = (alpha/r) · B G A} with a diagonal G of
 * {@link HardConcrete} gates per module. The loss adds
 * <ul>
 *   <li>an L0 term on the gates: {@code lambda · E[#live ranks]} with a fixed lambda, or, with a target
 *       sparsity s, the Lagrangian {@code l1 (d - (1-s_t)) + l2 (d - (1-s_t))^2} where d is the
 *       expected share of live ranks and s_t the target warmed up linearly (CoFi); the multipliers
 *       l1, l2 start at 0 and follow gradient ascent, so the penalty grows until the budget holds;
 *   <li>{@link Orthogonality} on every module's A and B, so the ranks stay independent.
 * </ul>
 * A rank is one (A row, gate, B column) triplet, so counting live gates counts live triplets. Gates
 * and multipliers have their own AdamW at {@code --l0-lr} (they need far larger steps than A and B to
 * open or close within a run). Evaluation and export use the deterministic test-time gate; ranks whose
 * gate is exactly 0 are dropped by {@code LowRankModule.compact()}.
 */
final class SaloraMethod implements TrainingMethod {
  @Override
  public String id() {
    return "salora";
  }

  @Override
  public String summary() {
    return "SaLoRA: delta W = (alpha/r) B G A, hard-concrete L0 gates G (fixed lambda or target sparsity), "
        + "orthogonal A and B";
  }

  @Override
  public MethodState start(MethodSetup setup) {
    return new State(setup);
  }

  static final class State extends LowRankState {
    private final SaloraConfig config;
    private final NDArray lambda1;
    private final NDArray lambda2;
    private final List<TrainableParameter> l0Parameters = new ArrayList<>();
    private final AdamW l0Adam;
    private double lastDensity = Double.NaN;
    private double lastOrtho = Double.NaN;
    /** Multipliers inside the loss graph (backward reads them; see ScalarConstants). */
    private final ScalarConstants scalars;

    State(MethodSetup setup) {
      super(setup, (module, rank, m) -> HardConcreteGate.initial(module, rank, setup.config().salora().droprateInit(),
          m), null);
      this.config = setup.config().salora();
      this.scalars = new ScalarConstants(manager());
      this.lambda1 = BranchFactor.trainable(manager().zeros(new Shape(1)), "salora.lambda1");
      this.lambda2 = BranchFactor.trainable(manager().zeros(new Shape(1)), "salora.lambda2");
      for (TrainableParameter p : super.parameters()) {
        if (p.updater() == TrainableParameter.Updater.METHOD) {
          l0Parameters.add(p);
        }
      }
      if (config.hasTarget()) {
        l0Parameters.add(new TrainableParameter(lambda1.getName(), lambda1, TrainableParameter.Updater.METHOD, false));
        l0Parameters.add(new TrainableParameter(lambda2.getName(), lambda2, TrainableParameter.Updater.METHOD, false));
      }
      this.l0Adam = AdamW.forMethod(l0Parameters);
    }

    @Override
    protected TrainableParameter.Updater gateUpdater() {
      return TrainableParameter.Updater.METHOD;
    }

    @Override
    public List<TrainableParameter> parameters() {
      List<TrainableParameter> p = new ArrayList<>(super.parameters());
      if (config.hasTarget()) {
        p.addAll(l0Parameters.subList(l0Parameters.size() - 2, l0Parameters.size()));
      }
      return p;
    }

    @Override
    public Map<String, float[]> buffers() {
      return l0Adam.moments();
    }

    @Override
    public NDArray extraLoss(StepInfo step) {
      NDArray live = null;
      NDArray ortho = null;
      for (LowRankBranch b : branches().values()) {
        NDArray e = ((HardConcreteGate) b.gate()).expectedL0();
        live = live == null ? e : live.add(e);
        NDArray o = Orthogonality.penalty(b.a(), b.b());
        ortho = ortho == null ? o : ortho.add(o);
      }
      if (live == null) {
        return null;
      }
      NDArray density = live.mul(scalars.of(1f / initialRanks()));
      lastDensity = density.getFloat();
      lastOrtho = ortho.getFloat();
      NDArray sparsityTerm;
      if (config.hasTarget()) {
        // subtracting a number is safe: the backward of sub does not read it
        NDArray gap = density.sub((float) (1 - config.targetAt(step.progress())));
        sparsityTerm = lambda1.mul(gap).add(lambda2.mul(gap.square())).sum();
      } else {
        sparsityTerm = live.mul(scalars.of((float) config.l0Lambda()));
      }
      return sparsityTerm.add(ortho.mul(scalars.of((float) config.orthoWeight())));
    }

    @Override
    public void afterOptimizerStep(StepInfo step) {
      // Gates descend, multipliers ascend (a negative rate): the min-max of the Lagrangian.
      l0Adam.methodStep(l0Parameters, p -> p.array() == lambda1 || p.array() == lambda2 ? -config.l0Lr()
          : config.l0Lr(), 0, step.step());
    }

    @Override
    public Map<String, Integer> activeRanks() {
      Map<String, Integer> r = new LinkedHashMap<>();
      for (LowRankBranch b : branches().values()) {
        int live = 0;
        for (float g : b.gate().exported()) {
          if (g != 0f) {
            live++;
          }
        }
        r.put(b.module(), live);
      }
      return r;
    }

    @Override
    public Map<String, Double> stepMetrics(StepInfo step) {
      Map<String, Double> m = new LinkedHashMap<>();
      m.put("expected_density", lastDensity);
      m.put("ortho", lastOrtho);
      if (config.hasTarget()) {
        m.put("target_density", 1 - config.targetAt(step.progress()));
        m.put("lambda1", (double) lambda1.getFloat());
        m.put("lambda2", (double) lambda2.getFloat());
      }
      return m;
    }
  }
}
