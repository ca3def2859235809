package dev.lora4j.trainer.method;

import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.tensor.Matrix;
import java.util.SplittableRandom;

/** Helpers of the nested-rank methods: seeded draws, truncation to leading ranks, freezing rank windows. */
final class NestedRanks {
  private NestedRanks() {}

  /** A generator that depends only on (seed, step, module), never on history: resumes draw the same. */
  static SplittableRandom random(long seed, long step, int module) {
    return new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (step + 1)) ^ (0xC2B2AE3D27D4EB4FL * (module + 1)));
  }

  /**
   * The module on its first {@code b} ranks: rows of A, columns of B, entries of the gate and the
   * leading {@code b x b} block of T. For a nested-rank adapter this is the rank-b model it trained.
   */
  public static LowRankModule leading(LowRankModule m, int b) {
    if (b < 0 || b > m.rank()) {
      throw new IllegalArgumentException(m.module() + ": cannot keep " + b + " of " + m.rank() + " ranks");
    }
    if (b == m.rank()) {
      return m;
    }
    int[] keep = new int[b];
    for (int i = 0; i < b; i++) {
      keep[i] = i;
    }
    float[] gate = m.gate() == null ? null : java.util.Arrays.copyOf(m.gate(), b);
    Matrix t = m.transform() == null ? null : m.transform().selectRows(keep).selectColumns(keep);
    return new LowRankModule(m.module(), m.a().selectRows(keep), m.b().selectColumns(keep), m.scaling(), gate, t);
  }

  /**
   * Writes back into {@code after} the ranks of {@code before} outside {@code [from, to)}: rows of A
   * ({@code rankAxis} 0, shape {@code r x in}) or columns of B ({@code rankAxis} 1, shape {@code out x r}).
   * AdamW moves every parameter whose moments are non-zero, even with a zero gradient; this keeps
   * ranks that were not trained this step exactly where they were.
   */
  static float[] keepOutside(float[] before, float[] after, int rows, int cols, int rankAxis, int from, int to) {
    float[] out = after.clone();
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        int rank = rankAxis == 0 ? i : j;
        if (rank < from || rank >= to) {
          out[i * cols + j] = before[i * cols + j];
        }
      }
    }
    return out;
  }
}
