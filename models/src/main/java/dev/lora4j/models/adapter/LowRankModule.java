package dev.lora4j.models.adapter;

import dev.lora4j.models.tensor.Matrix;
import java.util.Arrays;
import java.util.Objects;

/**
 * The low-rank update of one linear module {@code W (out x in)}, in PyTorch layout:
 *
 * <pre>  delta W = scaling · B · T · diag(gate) · A </pre>
 *
 * with {@code A (r x in)}, {@code B (out x r)}, an optional gate vector (SoRA, SaLoRA; length r)
 * and an optional transformation {@code T (r x r)} (MTLoRA). Plain LoRA has neither. Every method
 * the trainer knows writes this one shape; {@link #compact()} folds it to a bare factor pair with
 * the dead ranks removed, which is what the exporter and runtime ship.
 *
 * @param module canonical PyTorch module name, e.g. {@code encoder.layer.0.attention.self.query}
 * @param gate null when the method has no gate
 * @param transform null when the method has no transformation matrix
 */
public record LowRankModule(
    String module, Matrix a, Matrix b, double scaling, float[] gate, Matrix transform) {

  public LowRankModule {
    Objects.requireNonNull(module, "module");
    Objects.requireNonNull(a, "A of " + module);
    Objects.requireNonNull(b, "B of " + module);
    int r = a.rows();
    if (b.cols() != r) {
      throw new IllegalArgumentException(
          module + ": A is " + a.shape() + " but B is " + b.shape() + " (ranks differ)");
    }
    if (gate != null && gate.length != r) {
      throw new IllegalArgumentException(module + ": gate has " + gate.length + " entries for rank " + r);
    }
    if (transform != null && (transform.rows() != r || transform.cols() != r)) {
      throw new IllegalArgumentException(module + ": T is " + transform.shape() + " for rank " + r);
    }
    gate = gate == null ? null : gate.clone();
  }

  /** Value equality: the gate is compared by content, as every other component is. */
  @Override
  public boolean equals(Object o) {
    return o instanceof LowRankModule m
        && module.equals(m.module)
        && a.equals(m.a)
        && b.equals(m.b)
        && Double.compare(scaling, m.scaling) == 0
        && Arrays.equals(gate, m.gate)
        && Objects.equals(transform, m.transform);
  }

  @Override
  public int hashCode() {
    return Objects.hash(module, a, b, scaling, Arrays.hashCode(gate), transform);
  }

  /** Plain LoRA factors. */
  public static LowRankModule lora(String module, Matrix a, Matrix b, double scaling) {
    return new LowRankModule(module, a, b, scaling, null, null);
  }

  public int rank() {
    return a.rows();
  }

  public int inFeatures() {
    return a.cols();
  }

  public int outFeatures() {
    return b.rows();
  }

  @Override
  public float[] gate() {
    return gate == null ? null : gate.clone();
  }

  /** Whether this is already a bare pair: no gate, no T, scaling 1. */
  public boolean isCompact() {
    return gate == null && transform == null && scaling == 1.0;
  }

  /**
   * Folds scaling, T and the gate into B and drops every rank whose gate is exactly zero:
   * {@code B' = scaling · B · T · diag(g)} restricted to live ranks, {@code A'} the matching rows.
   * With a transformation matrix a rank is dead when its gate is zero (column of T·diag(g) vanishes).
   * The product B'A' equals the original delta W up to float rounding.
   */
  public LowRankModule compact() {
    if (isCompact()) {
      return this;
    }
    Matrix folded = transform == null ? b : b.multiply(transform);
    int r = rank();
    int live = 0;
    int[] keep = new int[r];
    for (int i = 0; i < r; i++) {
      if (gate == null || gate[i] != 0f) {
        keep[live++] = i;
      }
    }
    keep = java.util.Arrays.copyOf(keep, live);
    if (gate != null) {
      folded = folded.scaleColumns(gate);
    }
    Matrix bPrime = folded.selectColumns(keep).scale(scaling);
    Matrix aPrime = a.selectRows(keep);
    return new LowRankModule(module, aPrime, bPrime, 1.0, null, null);
  }

  /** The dense update {@code delta W (out x in)}; for tests and for merging into base weights. */
  public Matrix delta() {
    LowRankModule c = compact();
    return c.b.multiply(c.a);
  }

  /** Number of trainable-looking values this module stores (A, B, gate, T). */
  public long parameterCount() {
    long n = (long) a.data().length + b.data().length;
    if (gate != null) {
      n += gate.length;
    }
    if (transform != null) {
      n += transform.data().length;
    }
    return n;
  }

  /** Names the first NaN / infinite value, or returns null when all are finite. */
  public String findNonFinite() {
    if (a.firstNonFinite() >= 0) {
      return module + ".lora_A";
    }
    if (b.firstNonFinite() >= 0) {
      return module + ".lora_B";
    }
    if (transform != null && transform.firstNonFinite() >= 0) {
      return module + ".lora_T";
    }
    if (gate != null) {
      for (float g : gate) {
        if (!Float.isFinite(g)) {
          return module + ".lora_gate";
        }
      }
    }
    if (!Double.isFinite(scaling)) {
      return module + " scaling";
    }
    return null;
  }
}
