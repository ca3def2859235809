package dev.lora4j.trainer.method;

import ai.djl.ndarray.NDArray;
import java.util.List;

/**
 * The gate vector or the transformation matrix of a {@link LowRankBranch}: the leaves that are
 * trained and the function that turns them into the value the forward pass multiplies by. SoRA's gate
 * is its own leaf; SaLoRA's gate is a hard-concrete sample of a log-alpha leaf; MTLoRA's structured
 * transforms are products or sums of leaves. Keeping the parametrisation here lets one branch class
 * serve every method and fold everything the same way at export.
 */
public interface BranchFactor {

  /** The trained arrays, each a named leaf that requires gradients. */
  List<NDArray> leaves();

  /** The value used by a forward pass, differentiable in {@link #leaves()}; may be random in training. */
  NDArray value(boolean training);

  /** The deterministic test-time value, row-major: what the adapter exports. */
  float[] exported();

  /** A factor that is its own single leaf (SoRA's gate, MTLoRA's full T). */
  static BranchFactor leaf(NDArray leaf) {
    return new BranchFactor() {
      @Override
      public List<NDArray> leaves() {
        return List.of(leaf);
      }

      @Override
      public NDArray value(boolean training) {
        return leaf;
      }

      @Override
      public float[] exported() {
        return leaf.toFloatArray();
      }
    };
  }

  /** Marks {@code x} as a named trainable leaf. */
  static NDArray trainable(NDArray x, String name) {
    x.setName(name);
    x.setRequiresGradient(true);
    return x;
  }
}
