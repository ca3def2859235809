package dev.lora4j.exporter;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * PEFT's {@code peft/utils/merge_utils.py}, entry for entry: weighted sums of same-shaped tensors
 * (flattened here), with magnitude or random pruning and TIES' sign election. Sums run in double
 * and round once to float; PEFT rounds after each float32 operation, which differs by far less
 * than the 1e-5 the parity test allows.
 */
final class TaskArithmetic {
  private TaskArithmetic() {}

  /** {@code task_arithmetic}: sum of w_i · t_i. */
  static float[] linear(List<float[]> tensors, double[] weights) {
    float[] out = new float[tensors.get(0).length];
    for (int j = 0; j < out.length; j++) {
      double s = 0;
      for (int i = 0; i < tensors.size(); i++) {
        s += weights[i] * tensors.get(i)[j];
      }
      out[j] = (float) s;
    }
    return out;
  }

  /** {@code ties}: magnitude pruning, sign election on the pruned (unweighted) tensors, disjoint merge. */
  static float[] ties(List<float[]> tensors, double[] weights, double density) {
    return disjointMerge(tensors.stream().map(t -> magnitudePrune(t, density)).toList(), weights);
  }

  /** {@code dare_linear}: random pruning with rescale, then the weighted sum. */
  static float[] dareLinear(List<float[]> tensors, double[] weights, double density, SplittableRandom random) {
    return linear(tensors.stream().map(t -> randomPrune(t, density, random)).toList(), weights);
  }

  /** {@code dare_ties}: random pruning with rescale, then TIES' sign election and disjoint merge. */
  static float[] dareTies(List<float[]> tensors, double[] weights, double density, SplittableRandom random) {
    return disjointMerge(tensors.stream().map(t -> randomPrune(t, density, random)).toList(), weights);
  }

  /**
   * {@code magnitude_based_pruning}: keeps the {@code int(density · n)} entries of largest
   * magnitude, zeroes the rest; {@code prune} returns the tensor untouched for density 1. Equal
   * magnitudes keep the lower index (torch.topk leaves that order unspecified).
   */
  static float[] magnitudePrune(float[] t, double density) {
    if (density >= 1) {
      return t.clone();
    }
    int k = (int) (density * t.length);
    float[] out = new float[t.length];
    if (k == 0) {
      return out;
    }
    // the k-th largest magnitude by a primitive sort (boxed index sorting is ~10x slower on MiniLM)
    float[] magnitudes = new float[t.length];
    for (int j = 0; j < t.length; j++) {
      magnitudes[j] = Math.abs(t[j]);
    }
    Arrays.sort(magnitudes);
    float cut = magnitudes[t.length - k];
    int above = 0;
    for (float v : t) {
      above += Math.abs(v) > cut ? 1 : 0;
    }
    int atCut = k - above; // entries equal to the cut that still fit, lowest index first
    for (int j = 0; j < t.length; j++) {
      float m = Math.abs(t[j]);
      if (m > cut || (m == cut && atCut-- > 0)) {
        out[j] = t[j];
      }
    }
    return out;
  }

  /**
   * {@code random_pruning} with {@code rescale}: each entry survives with probability
   * {@code density} and is then divided by it, so the expected value is the input's. The draws
   * come from {@code random} in entry order (PEFT draws from torch's global generator, which no
   * Java code can replay); density 1 keeps everything, as PEFT's {@code prune} does.
   */
  static float[] randomPrune(float[] t, double density, SplittableRandom random) {
    if (density >= 1) {
      return t.clone();
    }
    float[] out = new float[t.length];
    for (int j = 0; j < t.length; j++) {
      if (random.nextDouble() < density) {
        out[j] = (float) (t[j] / density);
      }
    }
    return out;
  }

  /**
   * {@code calculate_majority_sign_mask} (method "total") then {@code disjoint_merge}: per entry the
   * sign of the sum of the pruned, unweighted tensors wins (0 counts as +); only tensors with that
   * sign (a pruned zero has none) contribute their weighted value, and the sum is divided by how
   * many contributed (at least 1).
   */
  static float[] disjointMerge(List<float[]> pruned, double[] weights) {
    float[] out = new float[pruned.get(0).length];
    for (int j = 0; j < out.length; j++) {
      double total = 0;
      for (float[] t : pruned) {
        total += t[j];
      }
      double majority = total >= 0 ? 1 : -1;
      double sum = 0;
      int kept = 0;
      for (int i = 0; i < pruned.size(); i++) {
        float v = pruned.get(i)[j];
        if (Math.signum(v) == majority) {
          sum += weights[i] * v;
          kept++;
        }
      }
      out[j] = (float) (sum / Math.max(kept, 1));
    }
    return out;
  }
}
