package dev.lora4j.trainer.method;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.trainer.Arrays2;
import dev.lora4j.trainer.encoder.Scalars;
import java.util.Random;

/**
 * The low-rank branch beside one frozen linear module, in the shared adapter shape
 * {@code delta W = scaling · B · T · diag(gate) · A}: the branch adds
 * {@code scaling · dropout(x) A^T diag(g) T^T B^T} to the module's output. Gate and T are optional
 * (LoRA has neither), and the branch can run on its first {@link #activeRank()} ranks only, which is
 * what nested-rank methods (DyLoRA, ERAT) train with.
 */
public final class LowRankBranch {
  private final String module;
  private final NDArray a;
  private final NDArray b;
  private final NDArray gate;
  private final NDArray transform;
  private final double scaling;
  private final NDArray scale;
  private final float dropout;
  private int activeRank;

  public LowRankBranch(String module, NDArray a, NDArray b, NDArray gate, NDArray transform, double scaling,
      double dropout) {
    this.module = module;
    this.a = a;
    this.b = b;
    this.gate = gate;
    this.transform = transform;
    this.scaling = scaling;
    // a scalar array owned by the branch, never mul(Number): see Scalars for why
    this.scale = scaling == 1.0 ? null : new Scalars(a.getManager()).of((float) scaling);
    this.dropout = (float) dropout;
    this.activeRank = (int) a.getShape().get(0);
  }

  /**
   * A fresh trainable branch: A drawn like PEFT's default (Kaiming-uniform, bound {@code 1/sqrt(in)}),
   * B zero so the adapted model starts exactly at the base; gate of ones and T the identity when asked.
   */
  public static LowRankBranch initial(String module, int in, int out, int rank, double scaling, double dropout,
      boolean withGate, boolean withTransform, Random random, NDManager manager) {
    float bound = (float) (1 / Math.sqrt(in));
    float[] av = new float[rank * in];
    for (int i = 0; i < av.length; i++) {
      av[i] = (random.nextFloat() * 2 - 1) * bound;
    }
    NDArray a = leaf(manager.create(av, new Shape(rank, in)), module + ".lora_A");
    NDArray b = leaf(manager.zeros(new Shape(out, rank)), module + ".lora_B");
    NDArray g = withGate ? leaf(manager.ones(new Shape(rank)), module + ".lora_gate") : null;
    NDArray t = withTransform ? leaf(manager.eye(rank), module + ".lora_T") : null;
    return new LowRankBranch(module, a, b, g, t, scaling, dropout);
  }

  /** A fixed branch for inference from an exported module (any form: gated, transformed or compact). */
  public static LowRankBranch frozen(LowRankModule m, NDManager manager) {
    LowRankModule c = m.compact();
    return new LowRankBranch(c.module(), Arrays2.toArray(c.a(), manager), Arrays2.toArray(c.b(), manager), null,
        null, 1.0, 0.0);
  }

  private static NDArray leaf(NDArray x, String name) {
    x.setName(name);
    x.setRequiresGradient(true);
    return x;
  }

  public String module() {
    return module;
  }

  public int rank() {
    return (int) a.getShape().get(0);
  }

  /** Ranks the forward pass uses: the first {@code activeRank} of {@link #rank()}. */
  public int activeRank() {
    return activeRank;
  }

  public void setActiveRank(int r) {
    if (r < 0 || r > rank()) {
      throw new IllegalArgumentException(module + ": active rank " + r + " outside 0.." + rank());
    }
    activeRank = r;
  }

  public NDArray a() {
    return a;
  }

  public NDArray b() {
    return b;
  }

  /** Null when the method has no gate. */
  public NDArray gate() {
    return gate;
  }

  /** Null when the method has no transformation matrix. */
  public NDArray transform() {
    return transform;
  }

  public double scaling() {
    return scaling;
  }

  /** {@code scaling · dropout(x) A^T diag(g) T^T B^T} for {@code x [..., in]}. */
  public NDArray forward(NDArray x, boolean training) {
    if (activeRank == 0) {
      return null;
    }
    boolean cut = activeRank < rank();
    String r = "0:" + activeRank;
    NDArray h = training && dropout > 0 ? Dropout.dropout(x, dropout, true).singletonOrThrow() : x;
    h = Linear.linear(h, cut ? a.get(r) : a).singletonOrThrow();
    if (gate != null) {
      h = h.mul(cut ? gate.get(r) : gate);
    }
    if (transform != null) {
      h = Linear.linear(h, cut ? transform.get(r + "," + r) : transform).singletonOrThrow();
    }
    NDArray out = Linear.linear(h, cut ? b.get(":," + r) : b).singletonOrThrow();
    return scale == null ? out : out.mul(scale);
  }

  /** The branch as trained so far, all ranks, in the shared data model. */
  public LowRankModule export() {
    Matrix am = Arrays2.toMatrix(a);
    Matrix bm = Arrays2.toMatrix(b);
    float[] g = gate == null ? null : gate.toFloatArray();
    Matrix t = transform == null ? null : Arrays2.toMatrix(transform);
    return new LowRankModule(module, am, bm, scaling, g, t);
  }
}
