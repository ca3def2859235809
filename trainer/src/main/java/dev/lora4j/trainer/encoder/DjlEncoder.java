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
 */
public final class DjlEncoder implements AutoCloseable {
  private final EncoderSpec spec;
  private final float maskConstant;
  private final NDManager manager;
  private final Map<String, NDArray> w = new LinkedHashMap<>();
  private final Scalars scalars;

  private DjlEncoder(EncoderDescription base, NDManager parent) {
    this.spec = base.spec();
    this.maskConstant = MaskConstant.read(base.model());
    if (!spec.activation().equals("gelu") && !spec.activation().equals("gelu_tanh")) {
      throw new Lora4jException(base + ": unsupported activation " + spec.activation());
    }
    this.manager = parent.newSubManager();
    this.scalars = new Scalars(manager);
    for (Map.Entry<String, FloatTensor> e : base.weights().entrySet()) {
      NDArray a = manager.create(e.getValue().data(), new Shape(e.getValue().shape()));
      a.setName(e.getKey());
      w.put(e.getKey(), a);
    }
    if (!w.containsKey("embeddings.token_type_embeddings.weight")) {
      // Models without segment embeddings behave as if every token had type 0 with a zero vector.
      w.put("embeddings.token_type_embeddings.weight", manager.zeros(new Shape(1, spec.hidden())));
    }
  }

  /** Copies the base weights onto {@code parent}'s device; they live until {@link #close()}. */
  public static DjlEncoder load(EncoderDescription base, NDManager parent) {
    return new DjlEncoder(base, parent);
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
    NDArray x = emb(inputIds, "word_embeddings")
        .add(emb(types, "token_type_embeddings"))
        .add(emb(positions, "position_embeddings"));
    x = layerNorm(x, "embeddings.LayerNorm");
    // (1 - mask) * c, broadcast over heads and query positions: [batch, 1, 1, seq]
    NDArray maskAdd = attentionMask.toType(DataType.FLOAT32, false).neg().add(1f).mul(maskConstant)
        .reshape(batch, 1, 1, seq);
    for (int l = 0; l < spec.layers(); l++) {
      x = layer(l, x, maskAdd, hook, batch, seq);
    }
    return x;
  }

  private NDArray layer(int l, NDArray x, NDArray maskAdd, ModuleHook hook, long batch, long seq) {
    int heads = spec.heads();
    int hd = spec.headDim();
    NDArray q = heads(linear(l, ModuleKind.QUERY, x, hook), batch, seq, heads, hd);
    NDArray k = heads(linear(l, ModuleKind.KEY, x, hook), batch, seq, heads, hd);
    NDArray v = heads(linear(l, ModuleKind.VALUE, x, hook), batch, seq, heads, hd);
    NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).div(scalars.of((float) Math.sqrt(hd))).add(maskAdd);
    NDArray ctx = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(batch, seq, spec.hidden());
    NDArray attn = linear(l, ModuleKind.ATTENTION_OUTPUT, ctx, hook);
    x = layerNorm(attn.add(x), "encoder.layer." + l + ".attention.output.LayerNorm");
    NDArray inter = activation(linear(l, ModuleKind.INTERMEDIATE, x, hook));
    NDArray out = linear(l, ModuleKind.OUTPUT, inter, hook);
    return layerNorm(out.add(x), "encoder.layer." + l + ".output.LayerNorm");
  }

  private static NDArray heads(NDArray t, long batch, long seq, int heads, int hd) {
    return t.reshape(batch, seq, heads, hd).transpose(0, 2, 1, 3);
  }

  private NDArray linear(int layer, ModuleKind kind, NDArray x, ModuleHook hook) {
    String name = kind.moduleName(layer);
    NDArray y = Linear.linear(x, w.get(name + ".weight"), w.get(name + ".bias")).singletonOrThrow();
    return hook.apply(name, x, y);
  }

  private NDArray emb(NDArray ids, String table) {
    return Embedding.embedding(ids, w.get("embeddings." + table + ".weight"), SparseFormat.DENSE).singletonOrThrow();
  }

  private NDArray layerNorm(NDArray x, String module) {
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
    manager.close();
  }
}
