package dev.lora4j.models.testing;

import static dev.lora4j.models.onnx.OnnxBuilders.attr;
import static dev.lora4j.models.onnx.OnnxBuilders.int64Value;
import static dev.lora4j.models.onnx.OnnxBuilders.floatValue;
import static dev.lora4j.models.onnx.OnnxBuilders.node;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.ModuleKind;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.TensorProtos;
import dev.lora4j.models.onnx.proto.Onnx.GraphProto;
import dev.lora4j.models.onnx.proto.Onnx.ModelProto;
import dev.lora4j.models.onnx.proto.Onnx.OperatorSetIdProto;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * A tiny random BERT encoder (2 layers, hidden 32, 4 heads) written as an ONNX graph the way
 * PyTorch's exporter lays one out: bias and LayerNorm initializers under module names, MatMul
 * weights transposed under generated names. Every module's tests reuse it so they stay fast, and
 * it exercises the same description code as the real MiniLM.
 *
 * <p>The vocabulary is small and readable, with sentiment words, so end-to-end tests can train a
 * separable task on it with a matching {@code tokenizer.json}.
 */
public final class TinyBert {
  public static final int LAYERS = 2;
  public static final int HIDDEN = 32;
  public static final int HEADS = 4;
  public static final int INTERMEDIATE = 64;
  public static final int MAX_POSITIONS = 64;
  public static final float EPS = 1e-12f;

  /** WordPiece vocabulary: special tokens first, as BERT's are. */
  public static final List<String> VOCAB = List.of(
      "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
      "the", "a", "an", "this", "that", "it", "is", "was", "film", "movie", "story", "plot", "acting",
      "and", "but", "very", "so", "not", "too", "quite", "really", "of", "to", "in", "with",
      "good", "great", "wonderful", "brilliant", "fun", "moving", "best", "love", "loved", "charming",
      "bad", "awful", "boring", "dull", "worst", "hate", "hated", "terrible", "mess", "tedious",
      "i", "we", "you", "they", "one", "two", "time", "end", "characters", "director",
      ".", ",", "!", "?", "'", "-", "s", "##s", "##ed", "##ing", "##ly");

  private TinyBert() {}

  public static int vocabSize() {
    return VOCAB.size();
  }

  /** The tiny encoder with weights drawn from {@code seed}. */
  public static OnnxModel model(long seed) {
    return OnnxModel.of(proto(seed), "tiny-bert(seed " + seed + ")");
  }

  /** Writes {@code model.onnx} and {@code tokenizer.json} into {@code dir}: a base-model directory. */
  public static Path writeBaseModel(Path dir, long seed) throws IOException {
    Files.createDirectories(dir);
    model(seed).save(dir.resolve("model.onnx"));
    Files.writeString(dir.resolve("tokenizer.json"), tokenizerJson());
    return dir;
  }

  /** A tiny base on disk as the exporter and the runtime take one (id {@code tiny}), and its description. */
  public record Written(BaseModelFiles files, EncoderDescription description) {}

  /** {@link #writeBaseModel} plus its files record (hashed) and description: what an export of it needs. */
  public static Written writeBase(Path dir, long seed) throws IOException {
    Path model = writeBaseModel(dir, seed).resolve("model.onnx");
    return new Written(new BaseModelFiles("tiny", model, dir.resolve("tokenizer.json"), AtomicFiles.sha256(model)),
        EncoderDescription.of(OnnxModel.read(model)));
  }

  static ModelProto proto(long seed) {
    Random rnd = new Random(seed);
    Graph g = new Graph(rnd);
    int v = VOCAB.size();
    g.init(TensorProtos.int64s("embeddings.position_ids", new long[] {1, MAX_POSITIONS}, range(MAX_POSITIONS)));
    g.weight("embeddings.word_embeddings.weight", 0.5f, v, HIDDEN);
    g.weight("embeddings.position_embeddings.weight", 0.1f, MAX_POSITIONS, HIDDEN);
    g.weight("embeddings.token_type_embeddings.weight", 0.1f, 2, HIDDEN);

    // additive attention mask: (1 - mask) * -10000, shape [batch, 1, 1, seq]
    g.node("Unsqueeze", List.of("attention_mask", g.longs("mask_axes", 1, 2)), "/mask/Unsqueeze");
    g.node("Cast", List.of("/mask/Unsqueeze_output_0"), "/mask/Cast", attr("to", (long) TensorProto.DataType.FLOAT_VALUE));
    g.node("Sub", List.of(g.scalar("one", 1f), "/mask/Cast_output_0"), "/mask/Sub");
    g.node("Mul", List.of("/mask/Sub_output_0", g.scalar("mask_min", -10000f)), "/mask/Mul");
    String mask = "/mask/Mul_output_0";

    // positions: Slice(position_ids, 0, seq_len, axis 1)
    g.node("Shape", List.of("input_ids"), "/embeddings/Shape");
    g.node("Gather", List.of("/embeddings/Shape_output_0", g.longs("idx_one", 1)), "/embeddings/Gather", attr("axis", 0L));
    g.node("Slice", List.of("embeddings.position_ids", g.longs("zero_1d", 0), "/embeddings/Gather_output_0",
        g.longs("axis_one", 1)), "/embeddings/Slice");
    g.node("Gather", List.of("embeddings.word_embeddings.weight", "input_ids"), "/embeddings/word_embeddings/Gather");
    g.node("Gather", List.of("embeddings.token_type_embeddings.weight", "token_type_ids"),
        "/embeddings/token_type_embeddings/Gather");
    g.node("Add", List.of("/embeddings/word_embeddings/Gather_output_0",
        "/embeddings/token_type_embeddings/Gather_output_0"), "/embeddings/Add");
    g.node("Gather", List.of("embeddings.position_embeddings.weight", "/embeddings/Slice_output_0"),
        "/embeddings/position_embeddings/Gather");
    g.node("Add", List.of("/embeddings/Add_output_0", "/embeddings/position_embeddings/Gather_output_0"),
        "/embeddings/Add_1");
    String x = g.layerNorm("embeddings.LayerNorm", "/embeddings/Add_1_output_0", "/embeddings/LayerNorm");

    int hd = HIDDEN / HEADS;
    String headsShape = g.longs("heads_shape", 0, 0, HEADS, hd);
    String mergeShape = g.longs("merge_shape", 0, 0, HIDDEN);
    for (int i = 0; i < LAYERS; i++) {
      String p = "/encoder/layer." + i;
      String q = g.linear(ModuleKind.QUERY.moduleName(i), x, HIDDEN, HIDDEN, p + "/attention/self/query");
      String k = g.linear(ModuleKind.KEY.moduleName(i), x, HIDDEN, HIDDEN, p + "/attention/self/key");
      String val = g.linear(ModuleKind.VALUE.moduleName(i), x, HIDDEN, HIDDEN, p + "/attention/self/value");
      String s = p + "/attention/self";
      g.node("Reshape", List.of(q, headsShape), s + "/Reshape_q");
      g.node("Transpose", List.of(s + "/Reshape_q_output_0"), s + "/Transpose_q", attr("perm", new long[] {0, 2, 1, 3}));
      g.node("Reshape", List.of(k, headsShape), s + "/Reshape_k");
      g.node("Transpose", List.of(s + "/Reshape_k_output_0"), s + "/Transpose_k", attr("perm", new long[] {0, 2, 3, 1}));
      g.node("Reshape", List.of(val, headsShape), s + "/Reshape_v");
      g.node("Transpose", List.of(s + "/Reshape_v_output_0"), s + "/Transpose_v", attr("perm", new long[] {0, 2, 1, 3}));
      g.node("MatMul", List.of(s + "/Transpose_q_output_0", s + "/Transpose_k_output_0"), s + "/MatMul");
      g.node("Div", List.of(s + "/MatMul_output_0", g.scalar("sqrt_head_dim", (float) Math.sqrt(hd))), s + "/Div");
      g.node("Add", List.of(s + "/Div_output_0", mask), s + "/Add");
      g.node("Softmax", List.of(s + "/Add_output_0"), s + "/Softmax", attr("axis", -1L));
      g.node("MatMul", List.of(s + "/Softmax_output_0", s + "/Transpose_v_output_0"), s + "/MatMul_1");
      g.node("Transpose", List.of(s + "/MatMul_1_output_0"), s + "/Transpose_o", attr("perm", new long[] {0, 2, 1, 3}));
      g.node("Reshape", List.of(s + "/Transpose_o_output_0", mergeShape), s + "/Reshape_o");
      String ao = g.linear(ModuleKind.ATTENTION_OUTPUT.moduleName(i), s + "/Reshape_o_output_0", HIDDEN, HIDDEN,
          p + "/attention/output/dense");
      g.node("Add", List.of(ao, x), p + "/attention/output/Add");
      String h = g.layerNorm("encoder.layer." + i + ".attention.output.LayerNorm", p + "/attention/output/Add_output_0",
          p + "/attention/output/LayerNorm");
      String inter = g.linear(ModuleKind.INTERMEDIATE.moduleName(i), h, HIDDEN, INTERMEDIATE,
          p + "/intermediate/dense");
      String act = g.gelu(inter, p + "/intermediate/intermediate_act_fn");
      String out = g.linear(ModuleKind.OUTPUT.moduleName(i), act, INTERMEDIATE, HIDDEN, p + "/output/dense");
      g.node("Add", List.of(out, h), p + "/output/Add");
      x = g.layerNorm("encoder.layer." + i + ".output.LayerNorm", p + "/output/Add_output_0", p + "/output/LayerNorm");
    }
    g.graph.addNode(node("Identity", "/last_hidden_state", List.of(x), List.of("last_hidden_state")));

    g.graph.setName("tiny_bert")
        .addInput(int64Value("input_ids", "batch_size", "sequence_length"))
        .addInput(int64Value("attention_mask", "batch_size", "sequence_length"))
        .addInput(int64Value("token_type_ids", "batch_size", "sequence_length"))
        .addOutput(floatValue("last_hidden_state", "batch_size", "sequence_length", HIDDEN));
    return ModelProto.newBuilder()
        .setIrVersion(8)
        .setProducerName("lora4j-tiny-bert")
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
        .setGraph(g.graph)
        .build();
  }

  private static long[] range(int n) {
    long[] r = new long[n];
    for (int i = 0; i < n; i++) {
      r[i] = i;
    }
    return r;
  }

  /** A HuggingFace tokenizer.json for {@link #VOCAB}: BERT normaliser, pre-tokenizer and WordPiece. */
  public static String tokenizerJson() {
    ObjectMapper om = new ObjectMapper();
    ObjectNode root = om.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode added = root.putArray("added_tokens");
    for (int i = 0; i < 5; i++) {
      added.addObject().put("id", i).put("content", VOCAB.get(i)).put("single_word", false).put("lstrip", false)
          .put("rstrip", false).put("normalized", false).put("special", true);
    }
    root.putObject("normalizer").put("type", "BertNormalizer").put("clean_text", true)
        .put("handle_chinese_chars", true).putNull("strip_accents").put("lowercase", true);
    root.putObject("pre_tokenizer").put("type", "BertPreTokenizer");
    ObjectNode post = root.putObject("post_processor");
    post.put("type", "TemplateProcessing");
    ArrayNode single = post.putArray("single");
    single.addObject().putObject("SpecialToken").put("id", "[CLS]").put("type_id", 0);
    single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
    single.addObject().putObject("SpecialToken").put("id", "[SEP]").put("type_id", 0);
    ArrayNode pair = post.putArray("pair");
    pair.addObject().putObject("SpecialToken").put("id", "[CLS]").put("type_id", 0);
    pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
    pair.addObject().putObject("SpecialToken").put("id", "[SEP]").put("type_id", 0);
    pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
    pair.addObject().putObject("SpecialToken").put("id", "[SEP]").put("type_id", 1);
    ObjectNode special = post.putObject("special_tokens");
    for (String t : List.of("[CLS]", "[SEP]")) {
      ObjectNode e = special.putObject(t);
      e.put("id", t);
      e.putArray("ids").add(VOCAB.indexOf(t));
      e.putArray("tokens").add(t);
    }
    root.putObject("decoder").put("type", "WordPiece").put("prefix", "##").put("cleanup", true);
    ObjectNode model = root.putObject("model");
    model.put("type", "WordPiece").put("unk_token", "[UNK]").put("continuing_subword_prefix", "##")
        .put("max_input_chars_per_word", 100);
    ObjectNode vocab = model.putObject("vocab");
    for (int i = 0; i < VOCAB.size(); i++) {
      vocab.put(VOCAB.get(i), i);
    }
    return root.toPrettyString();
  }

  /** Accumulates a graph in PyTorch-export style. */
  private static final class Graph {
    final GraphProto.Builder graph = GraphProto.newBuilder();
    final Random rnd;
    int matmuls = 100;

    Graph(Random rnd) {
      this.rnd = rnd;
    }

    void init(TensorProto t) {
      graph.addInitializer(t);
    }

    String weight(String name, float std, int... dims) {
      int n = 1;
      long[] shape = new long[dims.length];
      for (int i = 0; i < dims.length; i++) {
        n *= dims[i];
        shape[i] = dims[i];
      }
      float[] v = new float[n];
      for (int i = 0; i < n; i++) {
        v[i] = (float) (rnd.nextGaussian() * std);
      }
      init(TensorProtos.floats(name, shape, v));
      return name;
    }

    String scalar(String name, float value) {
      if (graph.getInitializerList().stream().noneMatch(t -> t.getName().equals(name))) {
        init(TensorProtos.floats(name, new long[0], value));
      }
      return name;
    }

    String longs(String name, long... values) {
      if (graph.getInitializerList().stream().noneMatch(t -> t.getName().equals(name))) {
        init(TensorProtos.int64s(name, new long[] {values.length}, values));
      }
      return name;
    }

    String node(String op, List<String> inputs, String name, dev.lora4j.models.onnx.proto.Onnx.AttributeProto... attrs) {
      String out = name + "_output_0";
      graph.addNode(dev.lora4j.models.onnx.OnnxBuilders.node(op, name, inputs, List.of(out), attrs));
      return out;
    }

    /** x·W^T + b with W^T stored under a generated name, bias first in the Add, as PyTorch exports. */
    String linear(String module, String x, int in, int out, String scope) {
      String w = "onnx::MatMul_" + (matmuls++);
      weight(w, (float) (1 / Math.sqrt(in)), in, out);
      weight(module + ".bias", 0.02f, out);
      String mm = node("MatMul", List.of(x, w), scope + "/MatMul");
      return node("Add", List.of(module + ".bias", mm), scope + "/Add");
    }

    String layerNorm(String module, String x, String scope) {
      float[] gamma = new float[HIDDEN];
      float[] beta = new float[HIDDEN];
      for (int i = 0; i < HIDDEN; i++) {
        gamma[i] = 1f + (float) rnd.nextGaussian() * 0.05f;
        beta[i] = (float) rnd.nextGaussian() * 0.02f;
      }
      init(TensorProtos.floats(module + ".weight", new long[] {HIDDEN}, gamma));
      init(TensorProtos.floats(module + ".bias", new long[] {HIDDEN}, beta));
      return node("LayerNormalization", List.of(x, module + ".weight", module + ".bias"), scope + "/LayerNormalization",
          attr("axis", -1L), attr("epsilon", EPS));
    }

    /** gelu(x) = x · 0.5 · (1 + erf(x / √2)), spelled as the exporter does. */
    String gelu(String x, String scope) {
      String d = node("Div", List.of(x, scalar("sqrt_two", (float) Math.sqrt(2))), scope + "/Div");
      String e = node("Erf", List.of(d), scope + "/Erf");
      String a = node("Add", List.of(e, scalar("one", 1f)), scope + "/Add");
      String m = node("Mul", List.of(x, a), scope + "/Mul");
      return node("Mul", List.of(m, scalar("half", 0.5f)), scope + "/Mul_1");
    }
  }
}
