package dev.lora4j.exporter;

import static dev.lora4j.models.onnx.OnnxBuilders.attr;
import static dev.lora4j.models.onnx.OnnxBuilders.floatValue;
import static dev.lora4j.models.onnx.OnnxBuilders.node;

import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.base.ModuleKind;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.proto.Onnx.AttributeProto;
import dev.lora4j.models.onnx.proto.Onnx.GraphProto;
import dev.lora4j.models.onnx.proto.Onnx.NodeProto;
import dev.lora4j.models.onnx.proto.Onnx.OperatorSetIdProto;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Gives a BERT encoder graph ONNX Runtime's fused transformer kernels: the embedding lookups and
 * their LayerNorm become one {@code com.microsoft.EmbedLayerNormalization}; per layer the attention core
 * (Reshape / Transpose of q, k, v, scaled {@code q·k^T}, mask Add, Softmax, {@code ·v}, Transpose /
 * Reshape back) becomes one {@code com.microsoft.MultiHeadAttention} (in an {@code If} that leaves the
 * mask out when the batch has no padding), and each residual Add plus
 * LayerNorm one {@code com.microsoft.SkipLayerNormalization}.
 *
 * <p>Why by hand: ONNX Runtime's own attention fusion does not recognise a core whose q and v come
 * through LoRA branch joins or int8 MatMuls, and on ONNX Runtime 1.29 for Java its
 * {@code LayerNormalization} kernel takes about twice as long as {@code SkipLayerNormalization},
 * which also absorbs the residual Add. At batch 1 a MiniLM layer is a few microseconds of
 * arithmetic per node, so node count is the cost: ONNX Runtime runs the MiniLM int8 multi graph as
 * 118 kernels a call instead of 213 (see docs/EXPORT.md "Quantized base" for what each step measured).
 *
 * <p>Each fusion first checks that the subgraph is exactly the pattern it replaces; a layer that
 * differs (another attention variant, a mask that is not the {@code attention_mask} input) is left
 * as it is, which is always correct, only slower. Values keep their names: the attention output and
 * the LayerNorm output are still written under the names the rest of the graph reads, and the
 * replaced nodes are removed once nothing reads them.
 */
final class OrtFusedOps {
  private static final String DOMAIN = "com.microsoft";
  private static final String SCOPE = "/lora4j/fused/";
  private static final String MASK = HeadNodes.ATTENTION_MASK;
  private static final String MASK_INT32 = SCOPE + "attention_mask_int32";
  private static final String NO_PADDING = SCOPE + "attention_mask_all_ones";
  private static final String ONE_INT32 = SCOPE + "const_one_int32";
  private static final String IDS = "input_ids";
  private static final String TYPES = "token_type_ids";

  private OrtFusedOps() {}

  /** Fuses what matches in {@code model}, in place; returns how many layers got fused attention. */
  static int apply(OnnxModel model, EncoderDescription base) {
    importContribDomain(model);
    embeddings(model, base);
    int fused = 0;
    for (int layer = 0; layer < base.spec().layers(); layer++) {
      if (attention(model, base, layer)) {
        fused++;
      }
      skipLayerNorm(model, base.requireModule(ModuleKind.ATTENTION_OUTPUT.moduleName(layer)));
      skipLayerNorm(model, base.requireModule(ModuleKind.OUTPUT.moduleName(layer)));
    }
    removeUnread(model);
    return fused;
  }

  static NodeProto contrib(NodeProto n) {
    return n.toBuilder().setDomain(DOMAIN).build();
  }

  private static void importContribDomain(OnnxModel model) {
    boolean has = model.proto().getOpsetImportList().stream().anyMatch(o -> o.getDomain().equals(DOMAIN));
    if (!has) {
      model.proto().addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(DOMAIN).setVersion(1));
    }
  }

  /**
   * {@code Reshape(Transpose(MatMul(Softmax(Add(Div(MatMul(T(R(q)), T(R(k))), c), mask)), T(R(v)))))}
   * into {@code MultiHeadAttention(q, k, v, key_padding_mask)} with scale {@code 1/c}, inside an
   * {@code If} on "the batch has no padding" whose then-branch leaves the mask out. Why: ONNX
   * Runtime's CPU kernel takes a faster path without a mask (at 24 tokens 42-45 against 61 us a
   * layer), a batch of one never has padding, and with no padded key the mask changes nothing. The
   * If's own cost is inside the net gain measured (docs/EXPORT.md "Fused kernels").
   */
  private static boolean attention(OnnxModel model, EncoderDescription base, int layer) {
    if (!model.hasInput(MASK)) {
      return false;
    }
    String q = finalValue(model, base.requireModule(ModuleKind.QUERY.moduleName(layer)));
    String k = finalValue(model, base.requireModule(ModuleKind.KEY.moduleName(layer)));
    String v = finalValue(model, base.requireModule(ModuleKind.VALUE.moduleName(layer)));
    String out = base.requireModule(ModuleKind.ATTENTION_OUTPUT.moduleName(layer)).input();
    Optional<NodeProto> merge = model.producer(out).filter(n -> is(n, "Reshape"));
    Optional<NodeProto> back = merge.flatMap(n -> from(model, n, 0, "Transpose")).filter(n -> perm(n, 0, 2, 1, 3));
    Optional<NodeProto> pv = back.flatMap(n -> from(model, n, 0, "MatMul"));
    Optional<NodeProto> softmax = pv.flatMap(n -> from(model, n, 0, "Softmax")).filter(n -> lastAxis(model, n));
    Optional<NodeProto> masked = softmax.flatMap(n -> from(model, n, 0, "Add"));
    Optional<NodeProto> scaled = masked.flatMap(n -> from(model, n, 0, "Div"));
    Optional<float[]> c = scaled.flatMap(n -> model.constantFloats(n.getInput(1))).filter(x -> x.length == 1);
    Optional<NodeProto> qk = scaled.flatMap(n -> from(model, n, 0, "MatMul"));
    if (c.isEmpty() || qk.isEmpty()
        || !headsOf(model, qk.get(), 0, q, 0, 2, 1, 3) || !headsOf(model, qk.get(), 1, k, 0, 2, 3, 1)
        || !headsOf(model, pv.get(), 1, v, 0, 2, 1, 3)
        || !readsOnly(model, masked.get().getInput(1), MASK)) {
      return false;
    }
    if (model.producer(MASK_INT32).isEmpty()) {
      List<NodeProto> all = new ArrayList<>(maskNodes());
      all.addAll(model.nodes());
      model.graph().clearNode().addAllNode(all);
      model.graph().addInitializer(TensorProto.newBuilder().setName(ONE_INT32)
          .setDataType(TensorProto.DataType.INT32_VALUE).addInt32Data(1).build());
    }
    String name = SCOPE + "layer." + layer + "/MultiHeadAttention";
    List<AttributeProto> attrs = List.of(attr("num_heads", (long) base.spec().heads()), attr("scale", 1f / c.get()[0]));
    NodeProto unmasked = mha(name, List.of(q, k, v), out + "/unmasked", attrs);
    NodeProto withMask = mha(name + "/masked", List.of(q, k, v, "", MASK_INT32), out + "/masked", attrs);
    Object hidden = (long) base.spec().hidden();
    NodeProto choose = node("If", SCOPE + "layer." + layer + "/If", List.of(NO_PADDING), List.of(out),
        graphAttr("then_branch", GraphProto.newBuilder().setName(name + "/then").addNode(unmasked)
            .addOutput(floatValue(out + "/unmasked", "batch", "sequence", hidden)).build()),
        graphAttr("else_branch", GraphProto.newBuilder().setName(name + "/else").addNode(withMask)
            .addOutput(floatValue(out + "/masked", "batch", "sequence", hidden)).build()));
    replaceProducer(model, out, choose);
    return true;
  }

  /**
   * The word, token-type and position lookups, the Adds of the three and the LayerNorm after them
   * into one {@code com.microsoft.EmbedLayerNormalization}, which reads int32 ids (two Casts). Why:
   * at batch 1 those are about ten nodes of a few microseconds each (Shape, Gather, Slice, three
   * Gathers, two Adds, the LayerNorm), a fixed cost the int8 base pays as fully as the float32 one
   * (docs/EXPORT.md "Fused kernels" has what it measured). Fused only when the lookups read
   * {@code input_ids}, {@code token_type_ids} and positions 0, 1, ..., S-1 (a Slice of a 0, 1, 2, ...
   * constant ending at the input's length: what the kernel computes when no position ids are given);
   * position ids fed as an input, or RoBERTa's positions offset past the padding index, stay as they
   * are. Returns whether it fused.
   */
  static boolean embeddings(OnnxModel model, EncoderDescription base) {
    String word = base.embeddingsInitializer("word_embeddings.weight");
    String position = base.embeddingsInitializer("position_embeddings.weight");
    String type = base.embeddingsInitializer("token_type_embeddings.weight");
    String gamma = base.embeddingsInitializer("LayerNorm.weight");
    String beta = base.embeddingsInitializer("LayerNorm.bias");
    Optional<OnnxModel.LayerNorm> ln = model.layerNorm(gamma).filter(l -> l.beta().equals(beta));
    Map<String, String> indices = new HashMap<>();
    if (ln.isEmpty() || !model.hasInput(IDS) || !model.hasInput(TYPES)
        || !sumOfLookups(model, ln.get().input(), indices) || indices.size() != 3
        || !IDS.equals(indices.get(word)) || !TYPES.equals(indices.get(type))
        || !indices.containsKey(position) || !firstPositions(model, indices.get(position))) {
      return false;
    }
    String ids = SCOPE + "input_ids_int32";
    String types = SCOPE + "token_type_ids_int32";
    AttributeProto toInt32 = attr("to", (long) TensorProto.DataType.INT32_VALUE);
    List<NodeProto> all = new ArrayList<>(List.of(
        node("Cast", SCOPE + "embeddings/CastIds", List.of(IDS), List.of(ids), toInt32),
        node("Cast", SCOPE + "embeddings/CastTypes", List.of(TYPES), List.of(types), toInt32)));
    all.addAll(model.nodes());
    model.graph().clearNode().addAllNode(all);
    replaceProducer(model, ln.get().output(), contrib(node("EmbedLayerNormalization",
        SCOPE + "embeddings/EmbedLayerNormalization", List.of(ids, types, word, position, type, gamma, beta),
        // mask_index: required by ONNX Runtime 1.29's type inference, read by nothing here
        List.of(ln.get().output(), SCOPE + "embeddings_mask_index"), attr("epsilon", ln.get().epsilon()))));
    return true;
  }

  /**
   * Whether {@code value} is a tree of two-input Adds whose leaves are all Gathers along axis 0 of
   * an initializer; collects each table's indices into {@code indices}.
   */
  private static boolean sumOfLookups(OnnxModel model, String value, Map<String, String> indices) {
    Optional<NodeProto> p = model.producer(value);
    if (p.isPresent() && is(p.get(), "Add") && p.get().getInputCount() == 2) {
      return sumOfLookups(model, p.get().getInput(0), indices) && sumOfLookups(model, p.get().getInput(1), indices);
    }
    boolean lookup = p.isPresent() && is(p.get(), "Gather") && p.get().getInputCount() == 2
        && model.initializer(p.get().getInput(0)).isPresent()
        && p.get().getAttributeList().stream().noneMatch(a -> a.getName().equals("axis") && a.getI() != 0);
    return lookup && indices.put(p.get().getInput(0), p.get().getInput(1)) == null;
  }

  /**
   * {@code value} is {@code Slice(0, 1, 2, ..., starts 0, ends computed from input_ids alone, on the
   * last axis, step 1)}: the positions 0..S-1 of every sequence.
   */
  private static boolean firstPositions(OnnxModel model, String value) {
    Optional<NodeProto> slice = model.producer(value).filter(n -> is(n, "Slice") && n.getInputCount() >= 4);
    if (slice.isEmpty()) {
      return false;
    }
    NodeProto n = slice.get();
    Optional<TensorProto> table = model.initializer(n.getInput(0));
    Optional<long[]> range = model.constantLongs(n.getInput(0));
    Optional<long[]> starts = model.constantLongs(n.getInput(1));
    Optional<long[]> axes = model.constantLongs(n.getInput(3));
    Optional<long[]> steps = n.getInputCount() > 4 && !n.getInput(4).isEmpty()
        ? model.constantLongs(n.getInput(4)) : Optional.of(new long[] {1});
    if (table.isEmpty() || range.isEmpty() || starts.isEmpty() || axes.isEmpty() || steps.isEmpty()
        || !Arrays.equals(starts.get(), new long[] {0}) || !Arrays.equals(steps.get(), new long[] {1})
        || axes.get().length != 1 || (axes.get()[0] != -1 && axes.get()[0] != table.get().getDimsCount() - 1)
        || !readsOnly(model, n.getInput(2), IDS)) {
      return false;
    }
    for (int i = 0; i < range.get().length; i++) {
      if (range.get()[i] != i) {
        return false;
      }
    }
    return true;
  }

  /**
   * The mask as int32 (MultiHeadAttention's key padding mask) and whether the batch has no padding
   * at all (the If's condition, computed once for every layer).
   */
  private static List<NodeProto> maskNodes() {
    return List.of(
        node("Cast", SCOPE + "attention_mask/Cast", List.of(MASK), List.of(MASK_INT32),
            attr("to", (long) TensorProto.DataType.INT32_VALUE)),
        node("ReduceMin", SCOPE + "attention_mask/ReduceMin", List.of(MASK_INT32), List.of(SCOPE + "attention_mask_min"),
            attr("keepdims", 0L)),
        node("Equal", SCOPE + "attention_mask/NoPadding", List.of(SCOPE + "attention_mask_min", ONE_INT32),
            List.of(NO_PADDING)));
  }

  private static NodeProto mha(String name, List<String> inputs, String output, List<AttributeProto> attrs) {
    return contrib(node("MultiHeadAttention", name, inputs, List.of(output), attrs.toArray(AttributeProto[]::new)));
  }

  private static AttributeProto graphAttr(String name, GraphProto g) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.GRAPH).setG(g).build();
  }

  /** {@code Add(dense, residual)} then LayerNorm (the fused op or its decomposed chain). */
  private static void skipLayerNorm(OnnxModel model, LinearModule dense) {
    String gamma = dense.biasInitializer().replaceFirst("dense\\.bias$", "LayerNorm.weight");
    String beta = dense.biasInitializer().replaceFirst("dense\\.bias$", "LayerNorm.bias");
    Optional<OnnxModel.LayerNorm> ln = model.layerNorm(gamma).filter(l -> l.beta().equals(beta));
    String d = finalValue(model, dense);
    Optional<NodeProto> residual = ln.flatMap(l -> model.producer(l.input())).filter(n -> is(n, "Add"))
        .filter(n -> n.getInputCount() == 2 && n.getInputList().contains(d));
    if (residual.isEmpty()) {
      return;
    }
    NodeProto add = residual.get();
    String skip = add.getInput(0).equals(d) ? add.getInput(1) : add.getInput(0);
    if (skip.equals(d) || model.initializer(skip).isPresent()) {
      return;
    }
    String out = ln.get().output();
    replaceProducer(model, out, contrib(node("SkipLayerNormalization", SCOPE + dense.name() + "/SkipLayerNormalization",
        List.of(d, skip, gamma, beta), List.of(out), attr("epsilon", ln.get().epsilon()))));
  }

  /**
   * The value that carries a module's result to the rest of the graph: its output, or where a
   * low-rank branch joins, the last value the branch's {@code /lora4j/<module>/} nodes write.
   */
  private static String finalValue(OnnxModel model, LinearModule m) {
    String scope = "/lora4j/" + m.name() + "/";
    String last = m.output();
    boolean branched = model.consumers(m.output()).stream().anyMatch(n -> n.getName().startsWith(scope));
    if (branched) {
      for (NodeProto n : model.nodes()) {
        if (n.getName().startsWith(scope)) {
          last = n.getOutput(0);
        }
      }
    }
    return last;
  }

  /** Input {@code i} of {@code n} is the Transpose(perm) of a Reshape of {@code value} into heads. */
  private static boolean headsOf(OnnxModel model, NodeProto n, int i, String value, long... perm) {
    return from(model, n, i, "Transpose").filter(t -> perm(t, perm))
        .flatMap(t -> from(model, t, 0, "Reshape"))
        .filter(r -> r.getInput(0).equals(value)).isPresent();
  }

  /** {@code value} is computed from graph inputs {@code only} and constants, nothing else. */
  private static boolean readsOnly(OnnxModel model, String value, String only) {
    Set<String> seen = new HashSet<>();
    List<String> todo = new ArrayList<>(List.of(value));
    Set<String> inputs = new HashSet<>();
    model.inputs().forEach(x -> inputs.add(x.getName()));
    boolean reachesMask = false;
    while (!todo.isEmpty()) {
      String x = todo.remove(todo.size() - 1);
      if (x.isEmpty() || !seen.add(x)) {
        continue;
      }
      if (inputs.contains(x)) {
        if (!x.equals(only)) {
          return false;
        }
        reachesMask = true;
        continue;
      }
      Optional<NodeProto> p = model.producer(x);
      if (p.isPresent()) {
        todo.addAll(p.get().getInputList());
      }
    }
    return reachesMask;
  }

  private static Optional<NodeProto> from(OnnxModel model, NodeProto n, int input, String op) {
    return n.getInputCount() <= input ? Optional.empty() : model.producer(n.getInput(input)).filter(p -> is(p, op));
  }

  private static boolean is(NodeProto n, String op) {
    return n.getOpType().equals(op) && (n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx"));
  }

  private static boolean perm(NodeProto n, long... want) {
    return n.getAttributeList().stream().filter(a -> a.getName().equals("perm")).findFirst()
        .map(a -> a.getIntsList().equals(Arrays.stream(want).boxed().toList())).orElse(false);
  }

  /** Softmax over the last axis of the [batch, heads, seq, seq] scores (before opset 13 the default axis is 1). */
  private static boolean lastAxis(OnnxModel model, NodeProto n) {
    long axis = n.getAttributeList().stream().filter(a -> a.getName().equals("axis")).findFirst()
        .map(AttributeProto::getI).orElse(GraphOps.defaultOpset(model) >= 13 ? -1L : 1L);
    return axis == -1 || axis == 3;
  }

  /** Puts {@code replacement} where the node writing {@code value} was; the old node goes. */
  private static void replaceProducer(OnnxModel model, String value, NodeProto replacement) {
    List<NodeProto> all = new ArrayList<>(model.nodes());
    for (int i = 0; i < all.size(); i++) {
      if (all.get(i).getOutputList().contains(value)) {
        all.set(i, replacement);
        model.graph().clearNode().addAllNode(all);
        return;
      }
    }
    throw new IllegalStateException(model.source() + ": no node writes " + value);
  }

  /**
   * Drops nodes and initializers nothing reads any more (replaced nodes' constants, float weights
   * and biases the int8 nodes replaced): ONNX Runtime would drop them too, but only after logging a
   * warning per initializer on every session it opens, and they would only make the file larger.
   */
  private static void removeUnread(OnnxModel model) {
    Set<String> read = read(model);
    List<NodeProto> keep = kept(model, read);
    while (keep.size() != model.nodes().size()) {
      model.graph().clearNode().addAllNode(keep);
      read = read(model);
      keep = kept(model, read);
    }
    Set<String> needed = new HashSet<>(read);
    model.inputs().forEach(i -> needed.add(i.getName())); // an input's default value stays
    List<TensorProto> initializers = model.initializers().stream().filter(t -> needed.contains(t.getName())).toList();
    if (initializers.size() != model.initializers().size()) {
      model.graph().clearInitializer().addAllInitializer(initializers);
    }
  }

  /** The graph's outputs and every value a node reads. */
  private static Set<String> read(OnnxModel model) {
    Set<String> read = new HashSet<>();
    model.outputs().forEach(o -> read.add(o.getName()));
    model.nodes().forEach(n -> reads(n, read));
    return read;
  }

  /** The nodes at least one of whose outputs is in {@code read}. */
  private static List<NodeProto> kept(OnnxModel model, Set<String> read) {
    return model.nodes().stream().filter(n -> n.getOutputList().stream().anyMatch(read::contains)).toList();
  }

  /** Adds the values {@code n} reads, including those its subgraphs (If, Loop, Scan bodies) read from outside. */
  private static void reads(NodeProto n, Set<String> into) {
    into.addAll(n.getInputList());
    for (AttributeProto a : n.getAttributeList()) {
      List<GraphProto> graphs = new ArrayList<>(a.getGraphsList());
      if (a.hasG()) {
        graphs.add(a.getG());
      }
      for (GraphProto g : graphs) {
        g.getNodeList().forEach(inner -> reads(inner, into));
      }
    }
  }
}
