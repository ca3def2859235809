package dev.lora4j.trainer.method;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.lora4j.trainer.encoder.ScalarConstants;
import java.util.List;

/**
 * A gate vector made of {@link HardConcrete} gates, one per rank: sampled while training, the
 * deterministic test-time gate for evaluation and export (so ranks whose gate is exactly 0 are pruned
 * by {@code LowRankModule.compact()}).
 */
final class HardConcreteGate implements BranchFactor {
  private final NDArray logAlpha;
  private final ScalarConstants scalars;

  public HardConcreteGate(NDArray logAlpha) {
    this.logAlpha = logAlpha;
    this.scalars = new ScalarConstants(logAlpha.getManager());
  }

  /** Every log-alpha at {@code HardConcrete.logAlphaForDropRate(dropRate)}. */
  public static HardConcreteGate initial(String module, int rank, double dropRate, NDManager manager) {
    NDArray la = manager.full(new Shape(rank), (float) HardConcrete.logAlphaForDropRate(dropRate));
    return new HardConcreteGate(BranchFactor.trainable(la, module + ".lora_gate_log_alpha"));
  }

  public NDArray logAlpha() {
    return logAlpha;
  }

  @Override
  public List<NDArray> leaves() {
    return List.of(logAlpha);
  }

  @Override
  public NDArray value(boolean training) {
    return training ? HardConcrete.sample(logAlpha, scalars) : HardConcrete.testGate(logAlpha, scalars);
  }

  @Override
  public float[] exported() {
    float[] la = logAlpha.toFloatArray();
    float[] g = new float[la.length];
    for (int i = 0; i < la.length; i++) {
      g[i] = (float) HardConcrete.testGate(la[i]);
    }
    return g;
  }

  /** Sum of the probabilities that each gate is non-zero: the expected number of live ranks. */
  public NDArray expectedL0() {
    return HardConcrete.expectedL0(logAlpha).sum();
  }
}
