package dev.lora4j.models.adapter;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.safetensors.SafeTensor;
import dev.lora4j.models.adapter.safetensors.Safetensors;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tensor names of a PEFT adapter file and their grouping by module.
 *
 * <p>PEFT names a module's tensors {@code base_model.model.<module>.lora_A.weight} /
 * {@code .lora_B.weight}, where {@code <module>} is the module's name in the model it wrapped:
 * {@code encoder.layer.0.attention.self.query} for a BertModel, but
 * {@code bert.encoder.layer.0.attention.self.query} for BertForSequenceClassification. lora4j's
 * canonical names are the BertModel ones, so a leading wrapper path is stripped on reading. lora4j
 * adds {@code .lora_gate} and {@code .lora_T.weight} per module, and the task head under
 * {@code base_model.model.classifier.*}, where PEFT keeps {@code modules_to_save} modules. PEFT's
 * AdaLoRA names a module's tensors {@code .lora_A}, {@code .lora_B} and {@code .lora_E}; a DoRA
 * adapter adds {@code .lora_magnitude_vector} to the LoRA pair.
 *
 * @param modules in canonical model order (layers by number)
 * @param classifierWeight null when the file has no head
 */
record PeftTensors(List<ModuleTensors> modules, SafeTensor classifierWeight, SafeTensor classifierBias) {
  static final String PREFIX = "base_model.model.";
  static final String CLASSIFIER = "classifier";
  static final String CLASSIFIER_WEIGHT = PREFIX + CLASSIFIER + ".weight";
  static final String CLASSIFIER_BIAS = PREFIX + CLASSIFIER + ".bias";

  /** Where a canonical module name starts inside a wrapped model's module name. */
  private static final List<String> CANONICAL_ROOTS = List.of("encoder.", "pooler.");

  /** Numeric path segments compare as numbers, so layer 10 follows layer 9 as in the model. */
  static final Comparator<String> MODEL_ORDER = (x, y) -> {
    String[] a = x.split("\\.");
    String[] b = y.split("\\.");
    for (int i = 0; i < Math.min(a.length, b.length); i++) {
      int c = isNumber(a[i]) && isNumber(b[i])
          ? Long.compare(Long.parseLong(a[i]), Long.parseLong(b[i]))
          : a[i].compareTo(b[i]);
      if (c != 0) {
        return c;
      }
    }
    return Integer.compare(a.length, b.length);
  };

  /** The tensors lora4j stores per module, and those of a PEFT AdaLoRA file, by name suffix. */
  enum Part {
    A(".lora_A.weight"),
    B(".lora_B.weight"),
    GATE(".lora_gate"),
    TRANSFORM(".lora_T.weight"),
    /** AdaLoRA keeps its factors as bare parameters, so their names have no {@code .weight}. */
    ADALORA_A(".lora_A"),
    ADALORA_B(".lora_B"),
    ADALORA_E(".lora_E"),
    /** DoRA's magnitude (out), saved by PEFT without the {@code .weight} of its parameter. */
    MAGNITUDE(".lora_magnitude_vector");

    final String suffix;

    Part(String suffix) {
      this.suffix = suffix;
    }

    /** The tensor name of this part for a canonical module name. */
    String tensorName(String module) {
      return PREFIX + module + suffix;
    }
  }

  /**
   * One module's tensors.
   *
   * @param peftName the module's name in the model PEFT wrapped; rank_pattern keys match this
   * @param canonical the BertModel name lora4j uses
   */
  record ModuleTensors(String peftName, String canonical, Map<Part, SafeTensor> parts) {
    SafeTensor part(Part p) {
      return parts.get(p);
    }

    String tensorName(Part p) {
      return PREFIX + peftName + p.suffix;
    }
  }

  /** Sorts tensors into modules and head; any other tensor is an error naming the file. */
  static PeftTensors group(Safetensors file, String source) {
    Map<String, Map<Part, SafeTensor>> byModule = new LinkedHashMap<>();
    SafeTensor weight = null;
    SafeTensor bias = null;
    for (Map.Entry<String, SafeTensor> e : file.tensors().entrySet()) {
      String name = e.getKey();
      if (name.equals(CLASSIFIER_WEIGHT)) {
        weight = e.getValue();
        continue;
      }
      if (name.equals(CLASSIFIER_BIAS)) {
        bias = e.getValue();
        continue;
      }
      Part part = partOf(name);
      if (part == null) {
        throw new Lora4jException(source + ": tensor '" + name + "' is not a LoRA A / B matrix, a DoRA"
            + " magnitude, an AdaLoRA A / B / E tensor, a lora4j gate or T matrix, or the classifier head, and lora4j does not know what"
            + " to do with it");
      }
      String module = name.substring(PREFIX.length(), name.length() - part.suffix.length());
      byModule.computeIfAbsent(module, k -> new EnumMap<>(Part.class)).put(part, e.getValue());
    }
    if ((weight == null) != (bias == null)) {
      throw new Lora4jException(source + ": holds " + (weight == null ? CLASSIFIER_BIAS : CLASSIFIER_WEIGHT)
          + " without " + (weight == null ? CLASSIFIER_WEIGHT : CLASSIFIER_BIAS));
    }
    return new PeftTensors(canonicalize(byModule, source), weight, bias);
  }

  private static Part partOf(String name) {
    if (!name.startsWith(PREFIX)) {
      return null;
    }
    for (Part p : Part.values()) {
      if (name.endsWith(p.suffix) && name.length() > PREFIX.length() + p.suffix.length()) {
        return p;
      }
    }
    return null;
  }

  private static List<ModuleTensors> canonicalize(Map<String, Map<Part, SafeTensor>> byModule, String source) {
    List<ModuleTensors> out = new ArrayList<>();
    String wrapper = null;
    String firstModule = null;
    for (Map.Entry<String, Map<Part, SafeTensor>> e : byModule.entrySet()) {
      String peftName = e.getKey();
      int start = canonicalStart(peftName);
      if (start < 0) {
        throw new Lora4jException(source + ": module '" + peftName + "' is not inside a BERT-family encoder"
            + " (expected encoder.layer.<i>..., optionally under a wrapper such as bert.)");
      }
      String prefix = peftName.substring(0, start);
      if (wrapper == null) {
        wrapper = prefix;
        firstModule = peftName;
      } else if (!wrapper.equals(prefix)) {
        throw new Lora4jException(source + ": modules '" + firstModule + "' and '" + peftName
            + "' come from differently wrapped models");
      }
      out.add(new ModuleTensors(peftName, peftName.substring(start), Map.copyOf(e.getValue())));
    }
    out.sort(Comparator.comparing(ModuleTensors::canonical, MODEL_ORDER));
    return List.copyOf(out);
  }

  /** Index where the canonical name begins: the first dot-separated position holding a root. */
  private static int canonicalStart(String name) {
    int i = 0;
    while (true) {
      for (String root : CANONICAL_ROOTS) {
        if (name.startsWith(root, i)) {
          return i;
        }
      }
      int dot = name.indexOf('.', i);
      if (dot < 0) {
        return -1;
      }
      i = dot + 1;
    }
  }

  private static boolean isNumber(String s) {
    return !s.isEmpty() && s.length() < 19 && s.chars().allMatch(c -> c >= '0' && c <= '9');
  }
}
