package dev.lora4j.trainer.method;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.lora4j.trainer.TransformKind;
import java.util.List;

/**
 * MTLoRA's transformation matrices {@code T (r x r)} as {@link BranchFactor}s, one per
 * {@link TransformKind}; each equals the identity at initialisation, so training starts as LoRA:
 * <ul>
 *   <li>full: T is the leaf;
 *   <li>psd: {@code T = L L^T}, L lower-triangular (its upper part masked out, so it gets no gradient);
 *   <li>staged: {@code T = U L}, an upper- after a lower-triangular stage (an LU-shaped mixing);
 *   <li>dual: {@code T = T1 + diag(d)}, a full mixing superposed with a per-rank scaling, d from 0.
 * </ul>
 * The structured forms keep the two stages distinct: two full matrices from the identity would get
 * identical gradients and collapse into one.
 */
final class Transforms {
  private Transforms() {}

  public static BranchFactor create(TransformKind kind, String module, int rank, NDManager m) {
    String p = module + ".lora_T";
    return switch (kind) {
      case FULL -> BranchFactor.leaf(BranchFactor.trainable(m.eye(rank), p));
      case PSD -> {
        NDArray l = BranchFactor.trainable(m.eye(rank), p + "_L");
        NDArray lower = triangle(m, rank, true);
        yield of(List.of(l), () -> {
          NDArray lm = l.mul(lower);
          return lm.matMul(lm.transpose());
        });
      }
      case STAGED -> {
        NDArray l = BranchFactor.trainable(m.eye(rank), p + "_L");
        NDArray u = BranchFactor.trainable(m.eye(rank), p + "_U");
        NDArray lower = triangle(m, rank, true);
        NDArray upper = triangle(m, rank, false);
        yield of(List.of(l, u), () -> u.mul(upper).matMul(l.mul(lower)));
      }
      case DUAL -> {
        NDArray t1 = BranchFactor.trainable(m.eye(rank), p + "1");
        NDArray d = BranchFactor.trainable(m.zeros(new Shape(rank)), p + "_diag");
        NDArray eye = m.eye(rank);
        yield of(List.of(t1, d), () -> t1.add(eye.mul(d)));
      }
    };
  }

  /** Ones on and below ({@code lower}) or on and above the diagonal, zeros elsewhere. */
  static NDArray triangle(NDManager m, int n, boolean lower) {
    float[] v = new float[n * n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        v[i * n + j] = (lower ? j <= i : j >= i) ? 1f : 0f;
      }
    }
    return m.create(v, new Shape(n, n));
  }

  private static BranchFactor of(List<NDArray> leaves, java.util.function.Supplier<NDArray> value) {
    return new BranchFactor() {
      @Override
      public List<NDArray> leaves() {
        return leaves;
      }

      @Override
      public NDArray value(boolean training) {
        return value.get();
      }

      @Override
      public float[] exported() {
        return value.get().toFloatArray();
      }
    };
  }
}
