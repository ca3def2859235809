package dev.lora4j.runtime;

import dev.lora4j.models.Lora4jException;
import java.util.List;

/**
 * The last guard against silent wrong answers: ONNX Runtime returns NaN or infinity without
 * complaint when weights overflow (an adapter or graph that passed every file check can still do
 * it, e.g. a base graph edited in place), and a NaN logit makes every label comparison false, so an
 * argmax would quietly pick label 0. Every output is checked before it becomes a result.
 */
final class FiniteOutputs {
  private FiniteOutputs() {}

  /** {@code row} (output {@code what} of text {@code index}) if all finite; else a message naming the adapter. */
  static float[] require(float[] row, String adapter, String what, int index) {
    for (float v : row) {
      if (!Float.isFinite(v)) {
        throw new Lora4jException((adapter == null ? "the base model" : "adapter '" + adapter + "'")
            + " produced NaN or infinite " + what + " for text " + index + ": its weights or the export's "
            + "graph are damaged (values too large for float32); no answer is given");
      }
    }
    return row;
  }

  /** Every row of an embedding output, checked as {@link #require}; {@code adapter} null: the base model. */
  static List<float[]> requireRows(float[][] rows, String adapter) {
    for (int i = 0; i < rows.length; i++) {
      require(rows[i], adapter, "embeddings", i);
    }
    return List.of(rows);
  }
}
