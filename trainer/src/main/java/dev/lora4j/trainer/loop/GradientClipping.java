package dev.lora4j.trainer.loop;

import ai.djl.ndarray.NDArray;
import dev.lora4j.trainer.method.TrainableParameter;
import java.util.List;

/** Global-norm clipping over every trained parameter, as {@code torch.nn.utils.clip_grad_norm_}. */
final class GradientClipping {
  private GradientClipping() {}

  /** Scales all gradients so their joint L2 norm is at most {@code maxNorm}; returns the norm before. */
  public static double clip(List<TrainableParameter> parameters, double maxNorm) {
    double sq = 0;
    for (TrainableParameter p : parameters) {
      sq += p.array().getGradient().square().sum().getFloat();
    }
    double norm = Math.sqrt(sq);
    if (maxNorm > 0 && norm > maxNorm) {
      float scale = (float) (maxNorm / (norm + 1e-6));
      for (TrainableParameter p : parameters) {
        p.array().getGradient().muli(scale);
      }
    }
    return norm;
  }

  /** Zeroes gradients in place (PyTorch accumulates them across backward passes). */
  public static void zero(List<TrainableParameter> parameters) {
    for (TrainableParameter p : parameters) {
      NDArray g = p.array().getGradient();
      g.subi(g);
    }
  }
}
