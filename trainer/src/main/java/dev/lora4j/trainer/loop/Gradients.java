package dev.lora4j.trainer.loop;

import ai.djl.ndarray.NDArray;
import dev.lora4j.trainer.method.TrainableParameter;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every trained parameter's gradient after one backward pass, read into Java once: the global norm,
 * clipping ({@code torch.nn.utils.clip_grad_norm_}) and AdamW then work on these arrays. Why: done
 * with NDArray ops, norm, clip, update and the divergence check were ~15 native calls per parameter
 * a step; this is one read per parameter.
 */
final class Gradients {
  private final List<TrainableParameter> parameters;
  private final Map<TrainableParameter, float[]> values = new IdentityHashMap<>();

  private Gradients(List<TrainableParameter> parameters) {
    this.parameters = parameters;
    for (TrainableParameter p : parameters) {
      values.put(p, p.array().getGradient().toFloatArray());
    }
  }

  static Gradients read(List<TrainableParameter> parameters) {
    return new Gradients(parameters);
  }

  /** {@code p}'s gradient, clipped once {@link #clip} has run. */
  float[] of(TrainableParameter p) {
    return values.get(p);
  }

  /**
   * Scales all gradients so their joint L2 norm is at most {@code maxNorm} (none when {@code maxNorm}
   * is not positive); returns the norm before. The gradients of {@code METHOD}-updated parameters are
   * scaled in their arrays too: the method reads them there after the AdamW step.
   */
  double clip(double maxNorm) {
    double sq = 0;
    for (float[] g : values.values()) {
      for (float x : g) {
        sq += (double) x * x;
      }
    }
    double norm = Math.sqrt(sq);
    if (maxNorm > 0 && norm > maxNorm) {
      float scale = (float) (maxNorm / (norm + 1e-6));
      for (TrainableParameter p : parameters) {
        float[] g = values.get(p);
        for (int i = 0; i < g.length; i++) {
          g[i] *= scale;
        }
        if (p.updater() == TrainableParameter.Updater.METHOD) {
          p.array().getGradient().muli(scale);
        }
      }
    }
    return norm;
  }

  /** Zeroes gradients in place (PyTorch accumulates them across backward passes). */
  static void zero(List<TrainableParameter> parameters) {
    for (TrainableParameter p : parameters) {
      NDArray g = p.array().getGradient();
      g.subi(g);
    }
  }
}
