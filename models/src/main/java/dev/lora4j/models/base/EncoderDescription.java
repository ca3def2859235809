package dev.lora4j.models.base;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.proto.Onnx.NodeProto;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto;
import dev.lora4j.models.tensor.FloatTensor;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A BERT-family encoder described from its ONNX graph alone: the architecture, every adaptable
 * linear module, and every weight under its PyTorch name and layout.
 *
 * <p>PyTorch's exporter keeps bias and LayerNorm initializers under their module names but stores
 * MatMul weights transposed under generated names ({@code onnx::MatMul_787}); a module's weight is
 * found through the bias Add that consumes {@code <module>.bias} and the MatMul feeding it. Both
 * LayerNorm spellings are understood: the fused {@code LayerNormalization} op and the decomposed
 * ReduceMean / Sub / Pow / Add(eps) / Sqrt / Div chain of older opsets.
 */
public final class EncoderDescription {
  private static final Pattern BIAS = Pattern.compile(
      "^(.*?)encoder\\.layer\\.(\\d+)\\.(attention\\.self\\.query|attention\\.self\\.key|attention\\.self\\.value"
          + "|attention\\.output\\.dense|intermediate\\.dense|output\\.dense)\\.bias$");

  private final OnnxModel model;
  private final String prefix;
  private final EncoderSpec spec;
  private final Map<String, LinearModule> modules;

  private EncoderDescription(OnnxModel model, String prefix, EncoderSpec spec, Map<String, LinearModule> modules) {
    this.model = model;
    this.prefix = prefix;
    this.spec = spec;
    this.modules = modules;
  }

  /** Describes {@code model}; a clear error if it is not a BERT-family encoder we understand. */
  public static EncoderDescription of(OnnxModel model) {
    String src = model.source();
    TreeMap<Integer, Map<ModuleKind, LinearModule>> byLayer = new TreeMap<>();
    String prefix = null;
    for (TensorProto t : model.initializers()) {
      Matcher m = BIAS.matcher(t.getName());
      if (!m.matches()) {
        continue;
      }
      if (prefix == null) {
        prefix = m.group(1);
      }
      int layer = Integer.parseInt(m.group(2));
      ModuleKind kind = ModuleKind.parse(m.group(3));
      byLayer.computeIfAbsent(layer, k -> new LinkedHashMap<>())
          .put(kind, linear(model, t.getName(), layer, kind));
    }
    if (byLayer.isEmpty()) {
      throw new Lora4jException(src + ": not a BERT-family encoder (no initializer named like "
          + "encoder.layer.0.attention.self.query.bias)");
    }
    Map<String, LinearModule> modules = new LinkedHashMap<>();
    int layers = byLayer.lastKey() + 1;
    for (int i = 0; i < layers; i++) {
      Map<ModuleKind, LinearModule> found = byLayer.getOrDefault(i, Map.of());
      for (ModuleKind k : ModuleKind.values()) {
        LinearModule lm = found.get(k);
        if (lm == null) {
          throw new Lora4jException(src + ": layer " + i + " has no " + k.path() + " module");
        }
        modules.put(lm.name(), lm);
      }
    }
    String p = prefix;
    FloatTensor words = model.floatInitializer(p + "embeddings.word_embeddings.weight");
    FloatTensor positions = model.floatInitializer(p + "embeddings.position_embeddings.weight");
    int typeVocab = model.initializer(p + "embeddings.token_type_embeddings.weight")
        .map(t -> (int) t.getDims(0)).orElse(0);
    int hidden = (int) words.shape()[1];
    LinearModule q0 = modules.get(ModuleKind.QUERY.moduleName(0));
    int heads = inferHeads(model, q0);
    if (hidden % heads != 0) {
      throw new Lora4jException(src + ": hidden size " + hidden + " is not a multiple of " + heads + " heads");
    }
    EncoderSpec spec = new EncoderSpec(
        layers,
        hidden,
        heads,
        modules.get(ModuleKind.INTERMEDIATE.moduleName(0)).outFeatures(),
        (int) words.shape()[0],
        (int) positions.shape()[0],
        typeVocab,
        layerNormEps(model, p + "embeddings.LayerNorm.weight"),
        activation(model));
    return new EncoderDescription(model, p, spec, java.util.Collections.unmodifiableMap(modules));
  }

  private static LinearModule linear(OnnxModel model, String biasName, int layer, ModuleKind kind) {
    String src = model.source();
    NodeProto add = model.consumers(biasName).stream().filter(n -> n.getOpType().equals("Add")).findFirst()
        .orElseThrow(() -> new Lora4jException(src + ": bias " + biasName + " feeds no Add node"));
    String other = add.getInput(0).equals(biasName) ? add.getInput(1) : add.getInput(0);
    NodeProto matMul = model.producer(other).filter(n -> n.getOpType().equals("MatMul"))
        .orElseThrow(() -> new Lora4jException(src + ": the Add of " + biasName + " is not fed by a MatMul"));
    String weightName = matMul.getInput(1);
    TensorProto w = model.initializer(weightName).orElseThrow(() -> new Lora4jException(
        src + ": the MatMul of " + kind.moduleName(layer) + " does not read a constant weight"));
    if (w.getDimsCount() != 2) {
      throw new Lora4jException(src + ": weight of " + kind.moduleName(layer) + " has shape " + w.getDimsList());
    }
    return new LinearModule(kind.moduleName(layer), layer, kind, (int) w.getDims(0), (int) w.getDims(1),
        weightName, biasName, matMul.getName(), matMul.getInput(0), add.getOutput(0));
  }

  /** Heads from the Reshape that splits the query into [batch, seq, heads, head_dim]. */
  private static int inferHeads(OnnxModel model, LinearModule query) {
    for (NodeProto n : model.consumers(query.output())) {
      if (!n.getOpType().equals("Reshape")) {
        continue;
      }
      Optional<long[]> shape = model.constantLongs(n.getInput(1));
      if (shape.isPresent() && shape.get().length == 4) {
        return (int) shape.get()[2];
      }
      Optional<NodeProto> concat = model.producer(n.getInput(1)).filter(c -> c.getOpType().equals("Concat"));
      if (concat.isPresent() && concat.get().getInputCount() == 4) {
        Optional<long[]> heads = model.constantLongs(concat.get().getInput(2));
        if (heads.isPresent() && heads.get().length == 1) {
          return (int) heads.get()[0];
        }
      }
    }
    throw new Lora4jException(model.source() + ": cannot infer the number of attention heads "
        + "(no Reshape of the layer-0 query into [batch, seq, heads, head_dim] with constant heads)");
  }

  private static float layerNormEps(OnnxModel model, String weightName) {
    return model.layerNorm(weightName).map(OnnxModel.LayerNorm::epsilon).orElseThrow(() ->
        new Lora4jException(model.source() + ": cannot find the LayerNorm that uses " + weightName));
  }

  private static String activation(OnnxModel model) {
    boolean erf = model.nodes().stream().anyMatch(n -> n.getOpType().equals("Erf"));
    if (erf) {
      return "gelu";
    }
    boolean gelu = model.nodes().stream().anyMatch(n -> n.getOpType().equals("Gelu"));
    if (gelu) {
      return "gelu";
    }
    boolean tanh = model.nodes().stream().anyMatch(n -> n.getOpType().equals("Tanh"));
    if (tanh) {
      return "gelu_tanh";
    }
    throw new Lora4jException(model.source() + ": cannot tell the feed-forward activation (no Erf, Gelu or Tanh node)");
  }

  public EncoderSpec spec() {
    return spec;
  }

  public OnnxModel model() {
    return model;
  }

  /** All adaptable modules, layer by layer, in {@link ModuleKind} order. */
  public List<LinearModule> modules() {
    return List.copyOf(modules.values());
  }

  public Optional<LinearModule> module(String canonicalName) {
    return Optional.ofNullable(modules.get(canonicalName));
  }

  /** The module or a clear error naming it. */
  public LinearModule requireModule(String canonicalName) {
    LinearModule m = modules.get(canonicalName);
    if (m == null) {
      throw new Lora4jException(model.source() + ": the base model has no module named '" + canonicalName
          + "' (modules look like " + ModuleKind.QUERY.moduleName(0) + ")");
    }
    return m;
  }

  /**
   * Resolves {@code --targets}: a comma-separated list of short names ({@code query,value}), in-layer
   * paths, full canonical names, or {@code all}.
   */
  public List<LinearModule> resolveTargets(String targets) {
    List<LinearModule> out = new ArrayList<>();
    for (String raw : targets.split(",")) {
      String t = raw.trim();
      if (t.isEmpty()) {
        continue;
      }
      if (t.equalsIgnoreCase("all")) {
        return modules();
      }
      if (modules.containsKey(t)) {
        out.add(modules.get(t));
        continue;
      }
      ModuleKind kind = ModuleKind.parse(t);
      modules.values().stream().filter(m -> m.kind() == kind).forEach(out::add);
    }
    if (out.isEmpty()) {
      // no CLI option named here: train's --targets and export's --adapter-modules both land here
      throw new Lora4jException("no module names in '" + targets
          + "' (give short names such as query,value, full module names, or all)");
    }
    return out.stream().distinct().sorted(Comparator.comparingInt(m -> index(m.name()))).toList();
  }

  private int index(String name) {
    int i = 0;
    for (String k : modules.keySet()) {
      if (k.equals(name)) {
        return i;
      }
      i++;
    }
    return i;
  }

  /**
   * The graph's name of an embeddings initializer, {@code which} as PyTorch names it under
   * {@code embeddings.} (for example {@code word_embeddings.weight}, {@code LayerNorm.bias}).
   */
  public String embeddingsInitializer(String which) {
    return prefix + "embeddings." + which;
  }

  /**
   * Every weight under its PyTorch name, in PyTorch layout (linear weights {@code out x in}):
   * embeddings, LayerNorms, and per layer the six linear modules' weight and bias.
   */
  public Map<String, FloatTensor> weights() {
    Map<String, FloatTensor> w = new LinkedHashMap<>();
    for (String e : List.of("word_embeddings.weight", "position_embeddings.weight", "token_type_embeddings.weight",
        "LayerNorm.weight", "LayerNorm.bias")) {
      String onnxName = embeddingsInitializer(e);
      if (model.initializer(onnxName).isPresent()) {
        w.put("embeddings." + e, model.floatInitializer(onnxName));
      }
    }
    for (int i = 0; i < spec.layers(); i++) {
      for (ModuleKind k : ModuleKind.values()) {
        LinearModule m = modules.get(k.moduleName(i));
        w.put(m.name() + ".weight", linearWeight(m));
        w.put(m.name() + ".bias", model.floatInitializer(m.biasInitializer()));
        if (k == ModuleKind.ATTENTION_OUTPUT || k == ModuleKind.OUTPUT) {
          String ln = m.name().substring(0, m.name().length() - "dense".length()) + "LayerNorm.";
          w.put(ln + "weight", model.floatInitializer(prefix + ln + "weight"));
          w.put(ln + "bias", model.floatInitializer(prefix + ln + "bias"));
        }
      }
    }
    return w;
  }

  /** {@code W (out x in)} of a module: the transpose of what the MatMul stores. */
  public FloatTensor linearWeight(LinearModule m) {
    return FloatTensor.of(model.floatInitializer(m.weightInitializer()).asMatrix().transpose());
  }

  public long parameterCount() {
    return model.parameterCount();
  }

  @Override
  public String toString() {
    return String.format(Locale.ROOT, "%s (%d layers, hidden %d, %d heads)", model.source(), spec.layers(),
        spec.hidden(), spec.heads());
  }
}
