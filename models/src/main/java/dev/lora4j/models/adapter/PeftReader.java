package dev.lora4j.models.adapter;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.PeftTensors.ModuleTensors;
import dev.lora4j.models.adapter.PeftTensors.Part;
import dev.lora4j.models.adapter.safetensors.SafeTensor;
import dev.lora4j.models.adapter.safetensors.Safetensors;
import dev.lora4j.models.tensor.Matrix;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** Reads one PEFT adapter directory into an {@link Adapter}; see {@link PeftAdapters}. */
final class PeftReader {
  /** How far lora4j's exact scaling may be from PEFT's alpha / r before the file looks edited. */
  private static final int SCALING_ULPS = 4;

  private final Path dir;
  private final Path configFile;
  private final Path weightsFile;
  /** Where lora4j's section was found, for messages: the file and the section's name in it. */
  private Path extrasFile;
  private String extrasName;

  PeftReader(Path dir) {
    this.dir = dir;
    this.configFile = dir.resolve(PeftAdapters.CONFIG_FILE);
    this.weightsFile = dir.resolve(PeftAdapters.WEIGHTS_FILE);
  }

  Adapter read() {
    requireFiles();
    JsonFields config = JsonFields.read(configFile);
    boolean adaLora = checkSupported(config);
    boolean dora = config.bool("use_dora", false);
    PeftScaling scaling = adaLora ? null : PeftScaling.parse(config);
    PeftAdaLora ada = adaLora ? PeftAdaLora.parse(config) : null;
    Safetensors weights = Safetensors.read(weightsFile);
    Lora4jSection extras = extras(config, weights);
    PeftTensors tensors = PeftTensors.group(weights, weightsFile.toString());

    Adapter adapter;
    // The records re-check what was checked here with better messages; whatever slips through
    // still names the directory.
    try {
      Map<String, LowRankModule> modules = new LinkedHashMap<>();
      for (ModuleTensors m : tensors.modules()) {
        LowRankModule module = ada != null ? adaLoraModule(m, ada) : module(m, scaling, extras, dora);
        // AdaLoRA may prune a module to rank 0; its delta W is zero, and lora4j stores no such module
        if (module.rank() > 0) {
          modules.put(m.canonical(), module);
        }
      }
      if (ada != null) {
        requirePatternModules(ada, tensors);
        if (modules.isEmpty() && !tensors.modules().isEmpty()) {
          throw weightsError("every rank of every module is pruned (lora_E all zero or masked out by rank_pattern);"
              + " the adapter changes nothing");
        }
      }
      adapter = extras == null
          ? new Adapter(dir.getFileName().toString(), peftBase(config), modules, peftHead(tensors),
              peftProvenance(config))
          : new Adapter(extras.name(), extras.base(), inOrder(modules, extras), head(tensors, extras),
              extras.provenance());
    } catch (IllegalArgumentException e) {
      throw new Lora4jException(dir + ": " + e.getMessage(), e);
    }
    adapter.requireFinite(weightsFile.toString());
    return adapter;
  }

  /**
   * lora4j's section: in the weights' metadata as lora4j writes it now, or in the config where
   * adapters written before kept it; null for an adapter from elsewhere.
   */
  private Lora4jSection extras(JsonFields config, Safetensors weights) {
    String inMetadata = weights.metadata().get(Lora4jSection.KEY);
    JsonFields inConfig = config.object(Lora4jSection.KEY);
    if (inMetadata != null && inConfig != null) {
      throw new Lora4jException(configFile + ": holds a " + Lora4jSection.KEY + " section, and so does the "
          + Safetensors.METADATA_KEY + " of " + PeftAdapters.WEIGHTS_FILE + "; which one holds is not clear,"
          + " remove one");
    }
    if (inMetadata != null) {
      extrasFile = weightsFile;
      extrasName = Safetensors.METADATA_KEY + "." + Lora4jSection.KEY;
      return Lora4jSection.parse(inMetadata, weightsFile.toString(), extrasName);
    }
    if (inConfig != null) {
      extrasFile = configFile;
      extrasName = Lora4jSection.KEY;
      return Lora4jSection.parse(inConfig);
    }
    return null;
  }

  private Lora4jException extrasError(String field, String problem) {
    return new Lora4jException(extrasFile + ": " + extrasName + "." + field + " " + problem);
  }

  private void requireFiles() {
    if (!Files.isDirectory(dir)) {
      throw new Lora4jException(dir + (Files.exists(dir) ? ": not a directory" : ": no such adapter directory"));
    }
    if (!Files.isRegularFile(configFile)) {
      throw new Lora4jException(configFile + ": missing; a PEFT adapter directory holds " + PeftAdapters.CONFIG_FILE
          + " and " + PeftAdapters.WEIGHTS_FILE);
    }
    if (!Files.isRegularFile(weightsFile)) {
      boolean pickle = Files.exists(dir.resolve("adapter_model.bin"));
      throw new Lora4jException(weightsFile + ": missing" + (pickle
          ? "; adapter_model.bin (PyTorch pickle) is not read, save the adapter with safe_serialization=True"
          : ""));
    }
  }

  /**
   * Refuses the PEFT options that change what the stored tensors mean.
   *
   * @return whether this is an AdaLoRA adapter (else plain LoRA)
   */
  private static boolean checkSupported(JsonFields config) {
    String type = config.string("peft_type", null);
    if (type == null) {
      throw config.fail("peft_type is missing");
    }
    if (!type.equals("LORA") && !type.equals("ADALORA")) {
      throw config.fail("peft_type is '" + type + "'; lora4j reads LORA and ADALORA adapters only");
    }
    if (type.equals("ADALORA") && config.bool("use_dora", false)) {
      throw config.fail("use_dora is true in an ADALORA config; PEFT has no DoRA variant of AdaLoRA");
    }
    if (config.bool("fan_in_fan_out", false)) {
      throw config.fail("fan_in_fan_out is true; lora4j reads adapters of nn.Linear layers only");
    }
    String bias = config.string("bias", "none");
    if (!bias.equals("none")) {
      throw config.fail("bias is '" + bias + "'; lora4j reads adapters with bias 'none' only (it does not load"
          + " trained base-model biases)");
    }
    if (config.bool("lora_bias", false)) {
      throw config.fail("lora_bias is true; LoRA B biases are not supported");
    }
    if (config.has("layer_replication")) {
      throw config.fail("layer_replication is set; adapters on replicated layers are not supported");
    }
    return type.equals("ADALORA");
  }

  /**
   * An AdaLoRA module folded to plain LoRA factors: {@code B' = B · diag(E) · alpha / (init_r + 1e-5)},
   * keeping the ranks whose E is not exactly zero (see {@link PeftAdaLora}). A file saved without
   * PEFT's resize still holds all init_r ranks; then the rank_pattern mask drops the pruned ones, as
   * AdaLoRA's training-time masking (E set to zero) does.
   */
  private LowRankModule adaLoraModule(ModuleTensors m, PeftAdaLora ada) {
    for (Part p : Part.values()) {
      if (m.part(p) != null && p != Part.ADALORA_A && p != Part.ADALORA_B && p != Part.ADALORA_E) {
        throw weightsError("tensor '" + m.tensorName(p) + "' does not belong in an ADALORA adapter, whose modules"
            + " hold " + Part.ADALORA_A.suffix + ", " + Part.ADALORA_B.suffix + " and " + Part.ADALORA_E.suffix);
      }
    }
    for (Part p : new Part[] {Part.ADALORA_A, Part.ADALORA_B, Part.ADALORA_E}) {
      if (m.part(p) == null) {
        throw weightsError("module " + m.peftName() + " has no tensor '" + m.tensorName(p) + "'");
      }
    }
    Matrix am = matrix(m.tensorName(Part.ADALORA_A), m.part(Part.ADALORA_A));
    Matrix bm = matrix(m.tensorName(Part.ADALORA_B), m.part(Part.ADALORA_B));
    Matrix em = matrix(m.tensorName(Part.ADALORA_E), m.part(Part.ADALORA_E));
    int rank = am.rows();
    if (bm.cols() != rank || em.rows() != rank || em.cols() != 1) {
      throw weightsError("module " + m.peftName() + " has A " + am.shape() + ", B " + bm.shape() + " and E "
          + em.shape() + "; AdaLoRA's are r x in, out x r and r x 1 for one r");
    }
    float[] e = em.data().clone();
    boolean[] mask = ada.maskFor(m.peftName());
    if (mask != null && rank == mask.length && rank != ada.rankFor(m.peftName())) {
      for (int i = 0; i < rank; i++) {
        if (!mask[i]) {
          e[i] = 0f;
        }
      }
    } else if (rank != ada.rankFor(m.peftName())) {
      throw new Lora4jException(configFile + ": module " + m.peftName() + " has rank " + rank + " in "
          + PeftAdapters.WEIGHTS_FILE + " but rank " + ada.rankFor(m.peftName()) + " by "
          + (mask == null ? "init_r" : "its rank_pattern mask"));
    }
    return new LowRankModule(m.canonical(), am, bm, ada.scalingFor(m.peftName()), e, null).compact();
  }

  /** A rank_pattern mask for a module the file does not hold is one PEFT cannot apply either. */
  private void requirePatternModules(PeftAdaLora ada, PeftTensors tensors) {
    Set<String> stored = new HashSet<>();
    tensors.modules().forEach(m -> stored.add(m.peftName()));
    for (String module : ada.rankPattern().keySet()) {
      if (!stored.contains(module)) {
        throw new Lora4jException(configFile + ": rank_pattern names " + module + ".lora_E, but "
            + PeftAdapters.WEIGHTS_FILE + " holds no tensors of module " + module);
      }
    }
  }

  private LowRankModule module(ModuleTensors m, PeftScaling scaling, Lora4jSection extras, boolean dora) {
    for (Part p : Part.values()) { // enum order, so the message names the same tensor every time
      if (m.part(p) != null && (p == Part.ADALORA_A || p == Part.ADALORA_B || p == Part.ADALORA_E)) {
        throw weightsError("tensor '" + m.tensorName(p) + "' is an AdaLoRA tensor, but " + PeftAdapters.CONFIG_FILE
            + " says peft_type LORA");
      }
    }
    // Either way round the file would be read as another model: DoRA without magnitudes is plain
    // LoRA's update plus an unknown renormalisation, and magnitudes without use_dora are ignored by PEFT.
    if (dora && m.part(Part.MAGNITUDE) == null) {
      throw weightsError("module " + m.peftName() + " has no tensor '" + m.tensorName(Part.MAGNITUDE) + "', but "
          + PeftAdapters.CONFIG_FILE + " says use_dora is true");
    }
    if (!dora && m.part(Part.MAGNITUDE) != null) {
      throw weightsError("tensor '" + m.tensorName(Part.MAGNITUDE) + "' is a DoRA magnitude, but "
          + PeftAdapters.CONFIG_FILE + " does not say use_dora is true");
    }
    SafeTensor a = m.part(Part.A);
    SafeTensor b = m.part(Part.B);
    if (a == null || b == null) {
      Part present = a != null ? Part.A : b != null ? Part.B : m.parts().containsKey(Part.GATE) ? Part.GATE
          : m.parts().containsKey(Part.TRANSFORM) ? Part.TRANSFORM : Part.MAGNITUDE;
      throw weightsError("tensor '" + m.tensorName(present) + "' has no matching '"
          + m.tensorName(a == null ? Part.A : Part.B) + "'");
    }
    Matrix am = matrix(m.tensorName(Part.A), a);
    Matrix bm = matrix(m.tensorName(Part.B), b);
    int rank = am.rows();
    float[] magnitude = dora ? floats(m.tensorName(Part.MAGNITUDE), m.part(Part.MAGNITUDE), bm.rows()) : null;
    if (bm.cols() != rank) {
      throw weightsError("tensor '" + m.tensorName(Part.A) + "' is " + am.shape() + " but '" + m.tensorName(Part.B)
          + "' is " + bm.shape() + ": A has " + rank + " rows, B has " + bm.cols() + " columns");
    }
    int configRank = scaling.rankFor(m.peftName());
    if (configRank != rank) {
      throw new Lora4jException(configFile + ": module " + m.peftName() + " has rank " + rank + " in "
          + PeftAdapters.WEIGHTS_FILE + " but rank " + configRank + " by r / rank_pattern");
    }
    float[] gate = null;
    if (m.part(Part.GATE) != null) {
      gate = floats(m.tensorName(Part.GATE), m.part(Part.GATE), rank);
    }
    Matrix transform = null;
    if (m.part(Part.TRANSFORM) != null) {
      transform = matrix(m.tensorName(Part.TRANSFORM), m.part(Part.TRANSFORM));
      if (transform.rows() != rank || transform.cols() != rank) {
        throw weightsError("tensor '" + m.tensorName(Part.TRANSFORM) + "' is " + transform.shape()
            + "; the T matrix of a rank-" + rank + " module is " + rank + "x" + rank);
      }
    }
    double s = scaling.scalingFor(m.peftName(), rank);
    if (extras != null && extras.exactScalings().containsKey(m.canonical())) {
      double exact = extras.exactScalings().get(m.canonical());
      if (!(Math.abs(exact - s) <= SCALING_ULPS * Math.ulp(exact))) {
        throw extrasError("exact_scalings", "gives module " + m.canonical() + " scaling " + exact
            + " but lora_alpha / alpha_pattern in " + PeftAdapters.CONFIG_FILE + " give " + s);
      }
      s = exact;
    }
    LowRankModule module = new LowRankModule(m.canonical(), am, bm, s, gate, transform, magnitude);
    // Finite tensors and a finite scaling can still overflow once folded (B' = scaling · B · T · diag(g)),
    // which is what exports and the runtime use; a huge alpha is the only way a PEFT config gets there.
    if (module.findNonFinite() == null && module.compact().findNonFinite() != null) {
      throw new Lora4jException(configFile + ": module " + m.peftName() + " has scaling " + s + " (lora_alpha /"
          + " alpha_pattern over rank " + rank + "), which overflows float32 once folded into its lora_B");
    }
    return module;
  }

  /** The modules in the order lora4j recorded, which must name exactly the modules stored. */
  private Map<String, LowRankModule> inOrder(Map<String, LowRankModule> modules, Lora4jSection extras) {
    Map<String, LowRankModule> out = new LinkedHashMap<>();
    for (String name : extras.modules()) {
      LowRankModule m = modules.get(name);
      if (m == null) {
        throw extrasError("modules", "lists " + name + ", which has no tensors in " + PeftAdapters.WEIGHTS_FILE);
      }
      if (out.put(name, m) != null) {
        throw extrasError("modules", "lists " + name + " twice");
      }
    }
    for (String name : modules.keySet()) {
      if (!out.containsKey(name)) {
        throw extrasError("modules", "does not list " + name + ", which " + PeftAdapters.WEIGHTS_FILE + " holds");
      }
    }
    Set<String> unknown = new HashSet<>(extras.exactScalings().keySet());
    unknown.removeAll(out.keySet());
    if (!unknown.isEmpty()) {
      throw extrasError("exact_scalings", "names " + unknown.iterator().next()
          + ", which is not one of the adapter's modules");
    }
    return out;
  }

  private TaskHead head(PeftTensors tensors, Lora4jSection extras) {
    boolean stored = tensors.classifierWeight() != null;
    if (extras.classifier() != stored) {
      throw extrasError("head.type", "is " + (extras.classifier() ? "classifier" : "embeddings") + " but "
          + PeftAdapters.WEIGHTS_FILE + (stored ? " holds " : " has no ") + PeftTensors.CLASSIFIER_WEIGHT);
    }
    if (!stored) {
      return new TaskHead(extras.pooling(), null, null, extras.labels());
    }
    Matrix weight = matrix(PeftTensors.CLASSIFIER_WEIGHT, tensors.classifierWeight());
    float[] bias = floats(PeftTensors.CLASSIFIER_BIAS, tensors.classifierBias(), weight.rows());
    if (weight.rows() != extras.labels().size()) {
      throw extrasError("head.labels", "names " + extras.labels().size() + " labels but "
          + PeftTensors.CLASSIFIER_WEIGHT + " in " + PeftAdapters.WEIGHTS_FILE + " has " + weight.rows() + " rows");
    }
    return TaskHead.classifier(extras.pooling(), weight, bias, extras.labels());
  }

  /** PEFT records the model it wrapped, but not which export of it; the hash stays unknown. */
  private static BaseModelRef peftBase(JsonFields config) {
    return new BaseModelRef(config.string("base_model_name_or_path", ""), "");
  }

  /**
   * A head PEFT trained for BertForSequenceClassification sits on BERT's pooler (dense + tanh on
   * the first token), which lora4j's heads do not have; loading it would give wrong answers.
   */
  private TaskHead peftHead(PeftTensors tensors) {
    if (tensors.classifierWeight() != null) {
      throw weightsError("tensor '" + PeftTensors.CLASSIFIER_WEIGHT + "' is a PEFT classifier head, which lora4j"
          + " cannot use: it sits on BERT's pooler, and there is no lora4j section saying how to pool");
    }
    return TaskHead.embeddings(TaskHead.Pooling.MEAN);
  }

  /** Everything in the PEFT config is how the adapter was trained, as far as anyone can tell now. */
  private Provenance peftProvenance(JsonFields config) {
    Map<String, Object> settings = config.toPlainMap();
    settings.values().removeIf(java.util.Objects::isNull);
    settings.remove("base_model_name_or_path");
    String created;
    try {
      created = Files.getLastModifiedTime(configFile).toInstant().toString();
    } catch (IOException e) {
      created = "";
    }
    return new Provenance("peft", settings, Map.of(), 0, Map.of(), created, "peft");
  }

  private Matrix matrix(String name, SafeTensor t) {
    requireFloat(name, t);
    if (t.shape().length != 2) {
      throw weightsError("tensor '" + name + "' has shape " + Arrays.toString(t.shape()) + ", not a matrix");
    }
    return t.toMatrix();
  }

  private float[] floats(String name, SafeTensor t, int length) {
    requireFloat(name, t);
    if (!Arrays.equals(t.shape(), new long[] {length})) {
      throw weightsError("tensor '" + name + "' has shape " + Arrays.toString(t.shape()) + ", expected ["
          + length + "]");
    }
    return t.toFloats();
  }

  private void requireFloat(String name, SafeTensor t) {
    if (!t.dtype().isFloat()) {
      throw weightsError("tensor '" + name + "' has dtype " + t.dtype() + "; adapter weights are floats");
    }
  }

  private Lora4jException weightsError(String problem) {
    return new Lora4jException(weightsFile + ": " + problem);
  }
}
