package dev.lora4j.models.adapter;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Everything an {@link Adapter} holds that PEFT has no field for, as one JSON object. lora4j writes
 * it as the string value {@value #KEY} of the weights file's safetensors {@code __metadata__}, which
 * PEFT never looks at. Adapters written before kept it as a {@value #KEY} object in
 * {@code adapter_config.json}, where every PEFT load warned about an unexpected keyword and older
 * PEFT refused the file; that place is still read.
 *
 * @param modules canonical module names in model order (the weights file sorts them by name)
 * @param exactScalings the few scalings that no {@code alpha / r} reproduces to the last bit; PEFT
 *     sees them one rounding off through {@code alpha_pattern}, lora4j restores them exactly
 */
record Lora4jSection(
    String name,
    BaseModelRef base,
    TaskHead.Pooling pooling,
    boolean classifier,
    List<String> labels,
    List<String> modules,
    Map<String, Double> exactScalings,
    Provenance provenance) {

  static final String KEY = "lora4j";
  /** Bumped when a change would make older readers misread the section. */
  static final int FORMAT_VERSION = 1;

  private static final String CLASSIFIER = "classifier";
  private static final String EMBEDDINGS = "embeddings";

  static Lora4jSection of(Adapter adapter, PeftScaling scaling) {
    Map<String, Double> exact = new LinkedHashMap<>();
    for (LowRankModule m : adapter.modules().values()) {
      if (Double.compare(scaling.scalingFor(m.module(), m.rank()), m.scaling()) != 0) {
        exact.put(m.module(), m.scaling());
      }
    }
    TaskHead head = adapter.head();
    return new Lora4jSection(adapter.name(), adapter.base(), head.pooling(), head.isClassifier(), head.labels(),
        List.copyOf(adapter.modules().keySet()), exact, adapter.provenance());
  }

  /**
   * Parses the section from its metadata string.
   *
   * @param source the file, for messages
   * @param path how the section is named in messages
   */
  static Lora4jSection parse(String json, String source, String path) {
    com.fasterxml.jackson.databind.JsonNode node;
    try {
      node = JsonFields.MAPPER.readTree(json);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new dev.lora4j.models.Lora4jException(source + ": " + path + " is not valid JSON: "
          + String.valueOf(e.getOriginalMessage()).replaceAll("\\s*\\R\\s*", " "));
    }
    if (node == null || !node.isObject()) {
      throw new dev.lora4j.models.Lora4jException(source + ": " + path + " is not a JSON object");
    }
    return parse(new JsonFields((ObjectNode) node, source, path));
  }

  static Lora4jSection parse(JsonFields section) {
    section.rejectUnknown(Set.of("format_version", "name", "base_model", "head", "modules", "exact_scalings",
        "provenance"));
    long version = section.requireLong("format_version");
    if (version > FORMAT_VERSION) {
      throw section.fail(section.name("format_version") + " is " + version + ", newer than this lora4j reads ("
          + FORMAT_VERSION + "); upgrade lora4j");
    }
    if (version < 1) {
      throw section.fail(section.name("format_version") + " must be at least 1, not " + version);
    }

    JsonFields base = section.requireObject("base_model");
    base.rejectUnknown(Set.of("id", "onnx_sha256"));
    JsonFields head = section.requireObject("head");
    head.rejectUnknown(Set.of("type", "pooling", "labels"));
    String type = head.requireString("type");
    if (!type.equals(CLASSIFIER) && !type.equals(EMBEDDINGS)) {
      throw head.fail(head.name("type") + " must be " + CLASSIFIER + " or " + EMBEDDINGS + ", not '" + type + "'");
    }
    TaskHead.Pooling pooling;
    try {
      pooling = TaskHead.Pooling.parse(head.requireString("pooling"));
    } catch (IllegalArgumentException e) {
      throw head.fail(head.name("pooling") + ": " + e.getMessage());
    }

    Map<String, Double> exact = new LinkedHashMap<>();
    JsonFields scalings = section.object("exact_scalings");
    if (scalings != null) {
      scalings.node().fieldNames().forEachRemaining(k -> {
        if (!scalings.has(k)) {
          throw scalings.fail(scalings.name(k) + " must be a number, not null");
        }
        exact.put(k, scalings.number(k, 0));
      });
    }

    JsonFields prov = section.requireObject("provenance");
    prov.rejectUnknown(Set.of("method", "hyper_parameters", "data", "seed", "metrics", "created", "tool"));
    Provenance provenance = new Provenance(
        prov.string("method", null),
        prov.plainMap("hyper_parameters"),
        prov.plainMap("data"),
        prov.requireLong("seed"),
        prov.plainMap("metrics"),
        prov.string("created", null),
        prov.string("tool", null));

    return new Lora4jSection(
        section.requireString("name"),
        new BaseModelRef(base.requireString("id"), base.string("onnx_sha256", "")),
        pooling,
        type.equals(CLASSIFIER),
        head.strings("labels"),
        section.strings("modules"),
        exact,
        provenance);
  }

  /**
   * The section as one line of JSON, for the safetensors metadata.
   *
   * @throws IllegalArgumentException when a provenance value cannot be written as JSON
   */
  String toJsonString() {
    try {
      return JsonFields.MAPPER.writeValueAsString(toJson());
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException(e.getOriginalMessage(), e);
    }
  }

  /**
   * The section as JSON; provenance values go through Jackson's default conversion.
   *
   * @throws IllegalArgumentException when a provenance value cannot be written as JSON
   */
  ObjectNode toJson() {
    JsonNodeFactory f = JsonNodeFactory.instance;
    ObjectNode o = f.objectNode();
    o.put("format_version", FORMAT_VERSION);
    o.put("name", name);
    ObjectNode b = o.putObject("base_model");
    b.put("id", base.id());
    b.put("onnx_sha256", base.onnxSha256());
    ObjectNode h = o.putObject("head");
    h.put("type", classifier ? CLASSIFIER : EMBEDDINGS);
    h.put("pooling", pooling.id());
    labels.forEach(h.putArray("labels")::add);
    modules.forEach(o.putArray("modules")::add);
    if (!exactScalings.isEmpty()) {
      ObjectNode s = o.putObject("exact_scalings");
      exactScalings.forEach(s::put);
    }
    ObjectNode p = o.putObject("provenance");
    p.put("method", provenance.method());
    p.set("hyper_parameters", JsonFields.MAPPER.valueToTree(provenance.hyperParameters()));
    p.set("data", JsonFields.MAPPER.valueToTree(provenance.data()));
    p.put("seed", provenance.seed());
    p.set("metrics", JsonFields.MAPPER.valueToTree(provenance.metrics()));
    p.put("created", provenance.created());
    p.put("tool", provenance.tool());
    return o;
  }
}

