package dev.lora4j.trainer.method;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.trainer.DjlMatrices;
import dev.lora4j.trainer.encoder.ScalarConstants;
import java.util.Random;

/**
 * The low-rank branch beside one frozen linear module, in the shared adapter shape
 * {@code delta W = scaling · B · T · diag(gate) · A}: the branch adds
 * {@code scaling · dropout(x) A^T diag(g) T^T B^T} to the module's output. Gate and T are optional
 * {@link BranchFactor}s (LoRA has neither), and the branch can run on its first ranks only, which is
 * what nested-rank methods (DyLoRA, ERAT) train with.
 */
public final class LowRankBranch {
  private final String module;
  private final NDArray a;
  private final NDArray b;
  private final BranchFactor gate;
  private final BranchFactor transform;
  private final double scaling;
  private final NDArray scale;
  /** Null without dropout. */
  private final InputDropout dropout;
  private int activeRank;

  public LowRankBranch(String module, NDArray a, NDArray b, BranchFactor gate, BranchFactor transform,
      double scaling, double dropout) {
    this.module = module;
    this.a = a;
    this.b = b;
    this.gate = gate;
    this.transform = transform;
    this.scaling = scaling;
    // a scalar array owned by the branch, never mul(Number): see ScalarConstants for why
    this.scale = scaling == 1.0 ? null : new ScalarConstants(a.getManager()).of((float) scaling);
    this.dropout = dropout > 0 ? new InputDropout((float) dropout) : null;
    this.activeRank = (int) a.getShape().get(0);
  }

  /**
   * A fresh trainable LoRA branch: A drawn like PEFT's default (Kaiming-uniform, bound
   * {@code 1/sqrt(in)}), B zero so the adapted model starts exactly at the base.
   */
  public static LowRankBranch initial(String module, int in, int out, int rank, double scaling, double dropout,
      BranchFactor gate, BranchFactor transform, Random random, NDManager manager) {
    float bound = (float) (1 / Math.sqrt(in));
    float[] av = new float[rank * in];
    for (int i = 0; i < av.length; i++) {
      av[i] = (random.nextFloat() * 2 - 1) * bound;
    }
    NDArray a = BranchFactor.trainable(manager.create(av, new Shape(rank, in)), module + ".lora_A");
    NDArray b = BranchFactor.trainable(manager.zeros(new Shape(out, rank)), module + ".lora_B");
    return new LowRankBranch(module, a, b, gate, transform, scaling, dropout);
  }

  /** A fixed branch for inference from an exported module (any form: gated, transformed or compact). */
  public static LowRankBranch frozen(LowRankModule m, NDManager manager) {
    LowRankModule c = m.compact();
    return new LowRankBranch(c.module(), DjlMatrices.toArray(c.a(), manager), DjlMatrices.toArray(c.b(), manager), null,
        null, 1.0, 0.0);
  }

  public String module() {
    return module;
  }

  public int rank() {
    return (int) a.getShape().get(0);
  }

  /** Ranks the plain forward pass uses: the first {@code activeRank} of {@link #rank()}. */
  public int activeRank() {
    return activeRank;
  }

  public void setActiveRank(int r) {
    requireRank(r);
    activeRank = r;
  }

  private void requireRank(int r) {
    if (r < 0 || r > rank()) {
      throw new IllegalArgumentException(module + ": active rank " + r + " outside 0.." + rank());
    }
  }

  public NDArray a() {
    return a;
  }

  public NDArray b() {
    return b;
  }

  /** Null when the method has no gate. */
  public BranchFactor gate() {
    return gate;
  }

  /** Null when the method has no transformation matrix. */
  public BranchFactor transform() {
    return transform;
  }

  public double scaling() {
    return scaling;
  }

  /** {@code scaling · dropout(x) A^T diag(g) T^T B^T} over the first {@link #activeRank()} ranks. */
  public NDArray forward(NDArray x, boolean training) {
    return forward(x, training, activeRank, 0);
  }

  /**
   * The branch on its first {@code ranks} ranks, for {@code x [..., in]}; null when that is none. Ranks
   * below {@code firstTrained} still take part but pass no gradient to A and B (DyLoRA's frozen
   * mode: the leading ranks stay what they were while a later one learns on top of them).
   */
  public NDArray forward(NDArray x, boolean training, int ranks, int firstTrained) {
    requireRank(ranks);
    if (ranks == 0) {
      return null;
    }
    boolean cut = ranks < rank();
    String r = "0:" + ranks;
    NDArray h = training && dropout != null ? dropout.apply(x) : x;
    NDArray av = cut ? a.get(r) : a;
    NDArray bv = cut ? b.get(":," + r) : b;
    if (firstTrained > 0) {
      av = partlyDetached(av, firstTrained, 0);
      bv = partlyDetached(bv, firstTrained, 1);
    }
    h = Linear.linear(h, av).singletonOrThrow();
    if (gate != null) {
      NDArray g = gate.value(training);
      h = h.mul(cut ? g.get(r) : g);
    }
    if (transform != null) {
      NDArray t = transform.value(training);
      h = Linear.linear(h, cut ? t.get(r + "," + r) : t).singletonOrThrow();
    }
    // scaled on the rank side, [tokens, r], not on the output, [tokens, out]: the same product with
    // r/out of the multiplications, forward and backward
    if (scale != null) {
      h = h.mul(scale);
    }
    return Linear.linear(h, bv).singletonOrThrow();
  }

  /** {@code x} with its first {@code n} slices along {@code axis} cut off from autograd. */
  private static NDArray partlyDetached(NDArray x, int n, int axis) {
    long size = x.getShape().get(axis);
    if (n >= size) {
      return x.stopGradient();
    }
    String head = axis == 0 ? "0:" + n : ":,0:" + n;
    String tail = axis == 0 ? n + ":" : ":," + n + ":";
    return x.get(head).stopGradient().concat(x.get(tail), axis);
  }

  /** The branch as trained so far, all ranks, in the shared data model. */
  public LowRankModule export() {
    Matrix am = DjlMatrices.toMatrix(a);
    Matrix bm = DjlMatrices.toMatrix(b);
    float[] g = gate == null ? null : gate.exported();
    Matrix t = transform == null ? null : new Matrix(rank(), rank(), transform.exported());
    return new LowRankModule(module, am, bm, scaling, g, t);
  }
}
