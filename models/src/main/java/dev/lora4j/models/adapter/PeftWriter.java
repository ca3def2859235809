package dev.lora4j.models.adapter;

import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.PeftTensors.Part;
import dev.lora4j.models.adapter.safetensors.SafeTensor;
import dev.lora4j.models.adapter.safetensors.Safetensors;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.tensor.Matrix;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/** Writes an {@link Adapter} as a PEFT adapter directory; see {@link PeftAdapters}. */
final class PeftWriter {
  /**
   * The tensor names are those of a bare BertModel, which PEFT calls feature extraction; with
   * SEQ_CLS, PEFT would look for them under {@code bert.} and silently load nothing.
   */
  private static final String TASK_TYPE = "FEATURE_EXTRACTION";

  /** Laid out like PEFT's {@code json.dumps(indent=2, sort_keys=True)}, for people diffing files. */
  private static final DefaultPrettyPrinter PRETTY = new DefaultPrettyPrinter(
      Separators.createDefaultInstance()
          .withObjectFieldValueSpacing(Separators.Spacing.AFTER)
          .withObjectEmptySeparator("")
          .withArrayEmptySeparator(""))
      .withArrayIndenter(new DefaultIndenter("  ", "\n"))
      .withObjectIndenter(new DefaultIndenter("  ", "\n"));

  private PeftWriter() {}

  static void write(Adapter adapter, Path dir, boolean overwrite, AdapterDtype dtype) {
    if (dtype == AdapterDtype.INT8) {
      throw new Lora4jException(dir + ": a PEFT adapter cannot be written as int8 (PEFT loads float LoRA weights "
          + "only); use --adapter-dtype fp16 or fp32 for the peft format");
    }
    adapter.requireFinite(dir.toString());
    for (LowRankModule m : adapter.modules().values()) {
      if (m.rank() == 0) {
        throw new Lora4jException(dir + ": module " + m.module()
            + " has rank 0, which PEFT cannot hold; drop it first (Adapter.compact() does)");
      }
    }
    if (adapter.usesDora()) {
      // PEFT's use_dora is one switch for the whole adapter: every module needs its magnitude
      for (LowRankModule m : adapter.modules().values()) {
        if (!m.isDora()) {
          throw new Lora4jException(dir + ": adapter '" + adapter.name() + "' mixes DoRA modules with module "
              + m.module() + ", which has no magnitude; PEFT's use_dora applies to every module of an adapter");
        }
      }
    }
    PeftScaling scaling = PeftScaling.of(adapter.modules().values());
    Path weightsFile = dir.resolve(PeftAdapters.WEIGHTS_FILE);
    String section;
    try {
      section = Lora4jSection.of(adapter, scaling).toJsonString();
    } catch (IllegalArgumentException e) {
      throw new Lora4jException(weightsFile + ": the provenance cannot be written as JSON: " + e.getMessage(), e);
    }
    Safetensors weights = weights(adapter, section, dtype, weightsFile.toString());
    byte[] config = config(adapter, scaling);
    AtomicFiles.writeDirectory(dir, PeftAdapters.OUTPUT_KIND, overwrite, tmp -> {
      weights.write(tmp.resolve(PeftAdapters.WEIGHTS_FILE));
      Files.write(tmp.resolve(PeftAdapters.CONFIG_FILE), config);
    });
  }

  private static Safetensors weights(Adapter adapter, String section, AdapterDtype dtype, String source) {
    Map<String, SafeTensor> tensors = new LinkedHashMap<>();
    for (LowRankModule m : adapter.modules().values()) {
      tensors.put(Part.A.tensorName(m.module()), factor(m.a(), dtype, source, Part.A.tensorName(m.module())));
      tensors.put(Part.B.tensorName(m.module()), factor(m.b(), dtype, source, Part.B.tensorName(m.module())));
      if (m.gate() != null) {
        tensors.put(Part.GATE.tensorName(m.module()), SafeTensor.vector(m.gate()));
      }
      if (m.transform() != null) {
        tensors.put(Part.TRANSFORM.tensorName(m.module()), SafeTensor.of(m.transform()));
      }
      if (m.isDora()) {
        tensors.put(Part.MAGNITUDE.tensorName(m.module()), SafeTensor.vector(m.magnitude()));
      }
    }
    TaskHead head = adapter.head();
    if (head.isClassifier()) {
      tensors.put(PeftTensors.CLASSIFIER_WEIGHT, SafeTensor.of(head.weight()));
      tensors.put(PeftTensors.CLASSIFIER_BIAS, SafeTensor.vector(head.bias()));
    }
    // transformers refuses safetensors checkpoints whose metadata lacks a known format; PEFT reads
    // nothing else there, so lora4j's section rides along unseen (metadata values are strings)
    return new Safetensors(tensors, Map.of("format", "pt", Lora4jSection.KEY, section));
  }

  private static SafeTensor factor(Matrix m, AdapterDtype dtype, String source, String name) {
    if (dtype == AdapterDtype.FP32) {
      return SafeTensor.of(m);
    }
    for (float v : m.data()) {
      AdapterDtype.requireHalfRange(v, source, name);
    }
    return SafeTensor.f16(new long[] {m.rows(), m.cols()}, m.data());
  }

  /** Only keys PEFT's LoraConfig knows: any other one makes PEFT warn, and older PEFT refuse the file. */
  private static byte[] config(Adapter adapter, PeftScaling scaling) {
    JsonNodeFactory f = JsonNodeFactory.instance;
    ObjectNode c = f.objectNode();
    c.put("peft_type", "LORA");
    c.put("task_type", TASK_TYPE);
    c.put("base_model_name_or_path", adapter.base().huggingFaceId());
    scaling.writeTo(c);
    // Full names, not short ones such as "query": PEFT adds a layer to every module a short name
    // matches, and a pruned adapter covers only some of them ("dense" alone matches four kinds).
    adapter.modules().keySet().forEach(c.putArray("target_modules")::add);
    c.put("lora_dropout", adapter.provenance().loraDropout());
    c.put("bias", "none");
    c.put("fan_in_fan_out", false);
    c.put("inference_mode", true);
    if (adapter.usesDora()) {
      c.put("use_dora", true); // only then, so plain adapters' files stay as they were
    }
    // A BertModel has no classifier for PEFT to save or restore: listing one would promise a head
    // PEFT then drops without a word. The head tensors stay in the weights file for lora4j, and
    // docs/EXPORT.md shows PEFT users how to load them.
    c.putNull("modules_to_save");

    TreeMap<String, JsonNode> sorted = new TreeMap<>();
    c.fields().forEachRemaining(e -> sorted.put(e.getKey(), e.getValue()));
    ObjectNode out = f.objectNode();
    sorted.forEach(out::set);
    try {
      return JsonFields.MAPPER.writer(PRETTY).writeValueAsBytes(out);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
