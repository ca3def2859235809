package dev.lora4j.trainer.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.EncoderSpec;
import dev.lora4j.models.base.ModuleKind;
import dev.lora4j.models.tensor.FloatTensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A BERT-family encoder written with DJL NDArray ops (PyTorch engine): embeddings, masked multi-head
 * self-attention, GELU feed-forward, post-LayerNorm residuals. Weights come from the base ONNX graph
 * through {@link EncoderDescription#weights()} and never require gradients, so autograd only walks
 * back through them to reach adapter parameters.
 *
 * <p>The base runs as in inference (no internal dropout): it is frozen, and a deterministic base
 * makes step 0 of every adapter reproduce ONNX Runtime exactly.
 *
 * <p>Reduced precision ({@link #forward(NDArray, NDArray, NDArray, ModuleHook, boolean)}): a bfloat16
 * copy of the weights, cast once at load, carries the embeddings, every linear module, layer norm
 * and GELU (PyTorch's CPU kernels accumulate layer-norm statistics and matrix products in float32).
 * Float32 stays where bfloat16's 8-bit mantissa would change results: the attention mask add and
 * softmax (mask constants near float32's limit would round to infinity), the adapter branches (hooks
 * see a float32 input; their float32 delta is rounded to bfloat16 and added to the frozen output), and
 * the last hidden state handed to the head.
 */
public final class DjlEncoder implements AutoCloseable {
  private final EncoderSpec spec;
  private final float maskConstant;
  private final NDManager manager;
  private final Map<String, NDArray> w = new LinkedHashMap<>();
  private final ScalarConstants scalars;
  /** bfloat16 copies of {@link #w}, or null when the encoder was loaded without them. */
  private final Map<String, NDArray> low;
  private final DtypeCast cast;

  private DjlEncoder(EncoderDescription base, NDManager parent, boolean bf16) {
    this.spec = base.spec();
    this.maskConstant = MaskConstant.read(base.model());
    if (!spec.activation().equals("gelu") && !spec.activation().equals("gelu_tanh")) {
      throw new Lora4jException(base + ": unsupported activation " + spec.activation());
    }
    this.manager = parent.newSubManager();
    this.scalars = new ScalarConstants(manager);
    for (Map.Entry<String, FloatTensor> e : base.weights().entrySet()) {
      NDArray a = manager.create(e.getValue().data(), new Shape(e.getValue().shape()));
      a.setName(e.getKey());
      w.put(e.getKey(), a);
    }
    if (!w.containsKey("embeddings.token_type_embeddings.weight")) {
      // Models without segment embeddings behave as if every token had type 0 with a zero vector.
      w.put("embeddings.token_type_embeddings.weight", manager.zeros(new Shape(1, spec.hidden())));
    }
    this.cast = bf16 ? new DtypeCast(manager) : null;
    this.low = bf16 ? new LinkedHashMap<>() : null;
    if (bf16) {
      for (Map.Entry<String, NDArray> e : w.entrySet()) {
        NDArray b = cast.toBf16(e.getValue());
        b.attach(manager);
        low.put(e.getKey(), b);
      }
    }
  }

  /** Copies the base weights onto {@code parent}'s device; they live until {@link #close()}. */
  public static DjlEncoder load(EncoderDescription base, NDManager parent) {
    return new DjlEncoder(base, parent, false);
  }

  /**
   * As {@link #load(EncoderDescription, NDManager)}, with a bfloat16 copy of the weights beside the
   * float32 ones when {@code bf16}, for {@link #forward(NDArray, NDArray, NDArray, ModuleHook, boolean)}.
   */
  public static DjlEncoder load(EncoderDescription base, NDManager parent, boolean bf16) {
    return new DjlEncoder(base, parent, bf16);
  }

  /** The bfloat16 copy of one base weight (tests check it is the float32 weight rounded). */
  NDArray bf16Weight(String name) {
    return low.get(name);
  }

  /** Whether {@link #forward(NDArray, NDArray, NDArray, ModuleHook, boolean)} can run in bfloat16. */
  public boolean hasBf16() {
    return low != null;
  }

  public EncoderSpec spec() {
    return spec;
  }

  /** What padding positions add to attention scores, as read from the graph. */
  public float maskConstant() {
    return maskConstant;
  }

  /**
   * The last hidden state {@code [batch, seq, hidden]}.
   *
   * @param inputIds int64 {@code [batch, seq]}
   * @param attentionMask int64 {@code [batch, seq]}, 1 for tokens, 0 for padding
   * @param tokenTypeIds int64 {@code [batch, seq]} or null for all zeros
   * @param hook sees every adaptable linear module's input and output
   */
  public NDArray forward(NDArray inputIds, NDArray attentionMask, NDArray tokenTypeIds, ModuleHook hook) {
    return forward(inputIds, attentionMask, tokenTypeIds, hook, false);
  }

  /**
   * As {@link #forward(NDArray, NDArray, NDArray, ModuleHook)}, with the base in bfloat16 when
   * {@code bf16} (see the class comment for what stays float32); the result is float32 either way.
   */
  public NDArray forward(NDArray inputIds, NDArray attentionMask, NDArray tokenTypeIds, ModuleHook hook,
      boolean bf16) {
    if (bf16 && low == null) {
      throw new IllegalStateException("encoder loaded without bfloat16 weights");
    }
    Map<String, NDArray> w = bf16 ? low : this.w;
    Shape shape = inputIds.getShape();
    long batch = shape.get(0);
    long seq = shape.get(1);
    if (seq > spec.maxPositions()) {
      throw new Lora4jException("sequence of " + seq + " tokens exceeds the model's " + spec.maxPositions()
          + " positions; lower --max-length");
    }
    NDManager m = inputIds.getManager();
    NDArray positions = m.arange(0, (int) seq, 1, DataType.INT64).expandDims(0);
    NDArray types = tokenTypeIds != null ? tokenTypeIds : inputIds.zerosLike();
    NDArray x = emb(w, inputIds, "word_embeddings")
        .add(emb(w, types, "token_type_embeddings"))
        .add(emb(w, positions, "position_embeddings"));
    x = layerNorm(w, x, "embeddings.LayerNorm");
    // (1 - mask) * c, broadcast over heads and query positions: [batch, 1, 1, seq]
    NDArray maskAdd = attentionMask.toType(DataType.FLOAT32, false).neg().add(1f).mul(maskConstant)
        .reshape(batch, 1, 1, seq);
    Precisions p = bf16 ? new Precisions(w, cast, hook) : new Precisions(w, null, hook);
    for (int l = 0; l < spec.layers(); l++) {
      x = layer(l, x, maskAdd, p, batch, seq);
    }
    return bf16 ? cast.toFp32(x) : x;
  }

  /** The weights one forward pass uses, and the casts around hooks and softmax (null in float32). */
  private record Precisions(Map<String, NDArray> w, DtypeCast cast, ModuleHook hook) {}

  private NDArray layer(int l, NDArray x, NDArray maskAdd, Precisions p, long batch, long seq) {
    int heads = spec.heads();
    int hd = spec.headDim();
    // in bfloat16 the three projections share one float32 copy of their input for the hooks
    NDArray x32 = hookInput(p, x, l, ModuleKind.QUERY, ModuleKind.KEY, ModuleKind.VALUE);
    NDArray q = heads(linear(l, ModuleKind.QUERY, x, x32, p), batch, seq, heads, hd);
    NDArray k = heads(linear(l, ModuleKind.KEY, x, x32, p), batch, seq, heads, hd);
    NDArray v = heads(linear(l, ModuleKind.VALUE, x, x32, p), batch, seq, heads, hd);
    // a bfloat16 product plus the float32 mask promotes to float32: softmax runs in float32
    NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).div(scalars.of((float) Math.sqrt(hd))).add(maskAdd);
    NDArray probs = scores.softmax(-1);
    if (p.cast() != null) {
      probs = p.cast().toBf16(probs);
    }
    NDArray ctx = probs.matMul(v).transpose(0, 2, 1, 3).reshape(batch, seq, spec.hidden());
    NDArray attn = linear(l, ModuleKind.ATTENTION_OUTPUT, ctx, hookInput(p, ctx, l, ModuleKind.ATTENTION_OUTPUT), p);
    x = layerNorm(p.w(), attn.add(x), "encoder.layer." + l + ".attention.output.LayerNorm");
    NDArray inter = activation(linear(l, ModuleKind.INTERMEDIATE, x, hookInput(p, x, l, ModuleKind.INTERMEDIATE), p));
    NDArray out = linear(l, ModuleKind.OUTPUT, inter, hookInput(p, inter, l, ModuleKind.OUTPUT), p);
    return layerNorm(p.w(), out.add(x), "encoder.layer." + l + ".output.LayerNorm");
  }

  /**
   * What hooks see as the input of {@code kinds} in layer {@code l}: {@code x} itself in float32, its
   * float32 copy in bfloat16, null when the hook adapts none of them (no copy made).
   */
  private static NDArray hookInput(Precisions p, NDArray x, int l, ModuleKind... kinds) {
    if (p.cast() == null) {
      return x;
    }
    for (ModuleKind k : kinds) {
      if (p.hook().adapts(k.moduleName(l))) {
        return p.cast().toFp32(x);
      }
    }
    return null;
  }

  private static NDArray heads(NDArray t, long batch, long seq, int heads, int hd) {
    return t.reshape(batch, seq, heads, hd).transpose(0, 2, 1, 3);
  }

  private static NDArray linear(int layer, ModuleKind kind, NDArray x, NDArray hookInput, Precisions p) {
    String name = kind.moduleName(layer);
    NDArray y = Linear.linear(x, p.w().get(name + ".weight"), p.w().get(name + ".bias")).singletonOrThrow();
    if (!p.hook().adapts(name)) {
      return y;
    }
    NDArray delta = p.hook().delta(name, hookInput);
    if (delta == null) {
      return y;
    }
    // in bfloat16 the float32 delta is rounded before the add: bfloat16 plus float32 would promote the
    // whole output to float32 (a converting copy) and need a cast back (a second one), both ways
    return y.add(p.cast() == null ? delta : p.cast().toBf16(delta));
  }

  private static NDArray emb(Map<String, NDArray> w, NDArray ids, String table) {
    return Embedding.embedding(ids, w.get("embeddings." + table + ".weight"), SparseFormat.DENSE).singletonOrThrow();
  }

  private NDArray layerNorm(Map<String, NDArray> w, NDArray x, String module) {
    return LayerNorm.layerNorm(x, new Shape(spec.hidden()), w.get(module + ".weight"), w.get(module + ".bias"),
        spec.layerNormEps()).singletonOrThrow();
  }

  private NDArray activation(NDArray x) {
    if (spec.activation().equals("gelu")) {
      return Activation.gelu(x);
    }
    // tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    NDArray inner = x.pow(scalars.of(3f)).mul(scalars.of(0.044715f)).add(x)
        .mul(scalars.of((float) Math.sqrt(2 / Math.PI))).tanh();
    return inner.add(scalars.of(1f)).mul(x).mul(scalars.of(0.5f));
  }

  @Override
  public void close() {
    if (cast != null) {
      cast.close();
    }
    manager.close();
  }
}
