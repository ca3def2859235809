package dev.lora4j.models.adapter;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.tensor.Matrix;
import java.util.Locale;

/**
 * Refuses adapter weights that are finite but so large that the encoder's float32 arithmetic
 * overflows to infinity and then NaN (e.g. {@code 1e30} from a diverged training, {@code 3e38}
 * written into a file): such an adapter would export and load fine and then answer NaN.
 *
 * <p>The bound. A module's update adds {@code Δy = B'·A'·x} to its output, and
 * {@code ‖Δy‖₂ ≤ ‖B'‖_F · ‖A'‖_F · ‖x‖₂} (submultiplicativity, Frobenius ≥ spectral norm), so the
 * product of the two Frobenius norms bounds how much the module can amplify its input, whatever the
 * input. In a post-LayerNorm encoder (BERT, MiniLM) every adapted module reads a LayerNorm output or
 * a GELU of one, whose norm is at most about {@code sqrt(hidden)·max|γ| + ‖β‖} (a few hundred for
 * real models). With the product at most {@value #MAX_MODULE_GAIN}, ‖Δy‖ stays below ~1e7 and the
 * next LayerNorm's sum of squares below ~1e14, far from float32's 3.4e38, so no module can overflow;
 * the one after is renormalised again. The limit is also far above what training produces: LoRA's
 * A starts with {@code ‖A‖_F ≈ sqrt(r/3)} (Kaiming-uniform rows) and B at zero, and an update
 * comparable to the base weight itself (Frobenius norms of about 10–50 in MiniLM/BERT) would
 * already wreck the base model, so a useful adapter sits orders of magnitude below 1e4 (an estimate
 * from these scales, not a measurement over many trained adapters). Computed in double
 * on the compact factors (scaling, gate and T folded in), so the check itself cannot overflow.
 *
 * <p>The classifier head maps the pooled vector (same norm bound) to logits; its weight's Frobenius
 * norm and its biases get the same limit, which keeps logits finite and softmax well defined.
 */
public final class WeightBounds {
  /** Most amplification {@code ‖B'‖_F·‖A'‖_F} (and head weight norm / |bias|) an adapter may have. */
  public static final double MAX_MODULE_GAIN = 1e4;

  private WeightBounds() {}

  /**
   * Refuses NaN / infinite weights and weights over the bound, naming {@code source} (a file or
   * adapter) and the module. The adapter need not be compact.
   */
  public static void require(Adapter adapter, String source) {
    adapter.requireFinite(source);
    for (LowRankModule m : adapter.modules().values()) {
      LowRankModule c = m.compact();
      double gain = frobenius(c.b()) * frobenius(c.a());
      if (!(gain <= MAX_MODULE_GAIN)) {
        throw new Lora4jException(String.format(Locale.ROOT,
            "%s: module %s has absurdly large weights (‖B'‖·‖A'‖ = %.3g, limit %.0g): its output would overflow "
                + "float32 and predictions would be NaN; the training diverged (lower --lr) or the file is damaged",
            source, m.module(), gain, MAX_MODULE_GAIN));
      }
    }
    TaskHead h = adapter.head();
    if (h.isClassifier()) {
      double w = frobenius(h.weight());
      double b = 0;
      for (float v : h.bias()) {
        b = Math.max(b, Math.abs((double) v));
      }
      if (!(w <= MAX_MODULE_GAIN) || !(b <= MAX_MODULE_GAIN)) {
        throw new Lora4jException(String.format(Locale.ROOT,
            "%s: the classifier has absurdly large weights (‖W‖ = %.3g, max |bias| = %.3g, limit %.0g): its logits "
                + "would overflow float32; the training diverged (lower --lr) or the file is damaged",
            source, w, b, MAX_MODULE_GAIN));
      }
    }
  }

  /** Frobenius norm in double: squares of float32 values up to 3.4e38 fit easily. */
  static double frobenius(Matrix m) {
    double s = 0;
    for (float v : m.data()) {
      s += (double) v * v;
    }
    return Math.sqrt(s);
  }
}
