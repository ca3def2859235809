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
 * <p>A DoRA module (PEFT's {@code use_dora}) also has a magnitude vector {@code m} (length out), and
 * its weight is not {@code W + delta W} but, per output row {@code i},
 * {@code W'_i = m_i · (W + delta W)_i / ||(W + delta W)_i||}: see {@link #mergedWeight}. Only a
 * consumer that has the base weight can apply it, so {@link Adapter#requireNoDora} guards the rest.
 *
 * @param module canonical PyTorch module name, e.g. {@code encoder.layer.0.attention.self.query}
 * @param gate null when the method has no gate
 * @param transform null when the method has no transformation matrix
 * @param magnitude null unless this is a DoRA module
 */
public record LowRankModule(
    String module, Matrix a, Matrix b, double scaling, float[] gate, Matrix transform, float[] magnitude) {

  /** A module without a DoRA magnitude. */
  public LowRankModule(String module, Matrix a, Matrix b, double scaling, float[] gate, Matrix transform) {
    this(module, a, b, scaling, gate, transform, null);
  }

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
    if (magnitude != null && magnitude.length != b.rows()) {
      throw new IllegalArgumentException(module + ": the DoRA magnitude has " + magnitude.length + " entries for "
          + b.rows() + " output features");
    }
    gate = gate == null ? null : gate.clone();
    magnitude = magnitude == null ? null : magnitude.clone();
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
        && Objects.equals(transform, m.transform)
        && Arrays.equals(magnitude, m.magnitude);
  }

  @Override
  public int hashCode() {
    return Objects.hash(module, a, b, scaling, Arrays.hashCode(gate), transform, Arrays.hashCode(magnitude));
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

  @Override
  public float[] magnitude() {
    return magnitude == null ? null : magnitude.clone();
  }

  /** Whether this is a DoRA module, whose weight is renormalised per output row by its magnitude. */
  public boolean isDora() {
    return magnitude != null;
  }

  /** Whether this is already a bare pair: no gate, no T, scaling 1 (a DoRA magnitude stays). */
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
    return new LowRankModule(module, aPrime, bPrime, 1.0, null, null, magnitude);
  }

  /**
   * The dense update {@code delta W (out x in)}; for tests and for merging into base weights. For a
   * DoRA module this is only the low-rank part: the merged weight is {@link #mergedWeight}.
   */
  public Matrix delta() {
    LowRankModule c = compact();
    return c.b.multiply(c.a);
  }

  /**
   * The module's weight with this update merged into the base weight {@code w (out x in)}:
   * {@code W + delta W}, and for DoRA, as PEFT 0.21 merges it ({@code DoraLinearVariant.merge_safe}),
   * each output row {@code i} of {@code V = W + delta W} scaled to length {@code m_i}:
   * {@code W'_i = m_i / ||V_i||_2 · V_i}. PEFT's norm is {@code torch.linalg.norm(V, dim=1)}, over
   * the input features of each output row. Accumulated in double, rounded once to float.
   */
  public Matrix mergedWeight(Matrix w) {
    if (w.rows() != outFeatures() || w.cols() != inFeatures()) {
      throw new IllegalArgumentException(module + ": the base weight is " + w.shape() + " but the update is "
          + outFeatures() + "x" + inFeatures());
    }
    LowRankModule c = compact();
    int out = w.rows();
    int in = w.cols();
    int r = c.rank();
    float[] av = c.a.data();
    float[] bv = c.b.data();
    float[] merged = new float[out * in];
    double[] row = new double[in];
    for (int i = 0; i < out; i++) {
      for (int j = 0; j < in; j++) {
        double v = w.data()[i * in + j];
        for (int k = 0; k < r; k++) {
          v += (double) bv[i * r + k] * av[k * in + j];
        }
        row[j] = v;
      }
      double factor = 1;
      if (magnitude != null) {
        double sq = 0;
        for (double v : row) {
          sq += v * v;
        }
        // A zero row stays zero, as PEFT leaves it (0 · m / 0 is NaN there; such a base is not a real model)
        factor = sq == 0 ? 0 : magnitude[i] / Math.sqrt(sq);
      }
      for (int j = 0; j < in; j++) {
        merged[i * in + j] = (float) (row[j] * factor);
      }
    }
    return new Matrix(out, in, merged);
  }

  /** Number of trainable-looking values this module stores (A, B, gate, T, magnitude). */
  public long parameterCount() {
    long n = (long) a.data().length + b.data().length;
    if (gate != null) {
      n += gate.length;
    }
    if (transform != null) {
      n += transform.data().length;
    }
    if (magnitude != null) {
      n += magnitude.length;
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
    if (magnitude != null) {
      for (float v : magnitude) {
        if (!Float.isFinite(v)) {
          return module + ".lora_magnitude_vector";
        }
      }
    }
    if (!Double.isFinite(scaling)) {
      return module + " scaling";
    }
    return null;
  }
}
