package dev.lora4j.exporter;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.WeightBounds;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.base.ModuleKind;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Whether an adapter fits a base model, checked before anything is written so a bad adapter costs
 * one clear message and no files. In order: the base model's SHA-256 (when the adapter records
 * one), module names, factor shapes, the classifier's input size, and finite weights of a sane size ({@link WeightBounds}).
 */
public final class AdapterCompatibility {
  private AdapterCompatibility() {}

  /**
   * @param baseId what the user called the base model, for messages
   * @param baseSha256 SHA-256 of the base ONNX file
   */
  public static void require(Adapter adapter, EncoderDescription base, String baseId, String baseSha256) {
    String who = "adapter '" + adapter.name() + "'";
    String recorded = adapter.base().onnxSha256();
    if (recorded != null && !recorded.isBlank() && !recorded.equalsIgnoreCase(baseSha256)) {
      throw new Lora4jException(String.format(Locale.ROOT,
          "%s was trained on base model %s (ONNX sha256 %s), not on %s (sha256 %s); export it with its own base model",
          who, adapter.base().id(), abbreviate(recorded), baseId, abbreviate(baseSha256)));
    }
    List<String> unknown = new ArrayList<>();
    for (String name : adapter.modules().keySet()) {
      if (base.module(name).isEmpty()) {
        unknown.add(name);
      }
    }
    if (!unknown.isEmpty()) {
      throw new Lora4jException(String.format(Locale.ROOT,
          "%s names %s %s that base model %s does not have (its modules look like %s)",
          who, unknown.size() == 1 ? "module" : unknown.size() + " modules", String.join(", ", unknown), baseId,
          ModuleKind.QUERY.moduleName(0)));
    }
    for (LowRankModule m : adapter.modules().values()) {
      LinearModule lm = base.requireModule(m.module());
      if (m.inFeatures() != lm.inFeatures() || m.outFeatures() != lm.outFeatures()) {
        throw new Lora4jException(String.format(Locale.ROOT,
            "%s does not fit base model %s: module %s has A %s and B %s, so delta W is %dx%d, but the base weight is %dx%d",
            who, baseId, m.module(), m.a().shape(), m.b().shape(), m.outFeatures(), m.inFeatures(),
            lm.outFeatures(), lm.inFeatures()));
      }
    }
    if (adapter.head().isClassifier() && adapter.head().weight().cols() != base.spec().hidden()) {
      throw new Lora4jException(String.format(Locale.ROOT,
          "%s does not fit base model %s: its classifier reads %d features but the hidden size is %d",
          who, baseId, adapter.head().weight().cols(), base.spec().hidden()));
    }
    WeightBounds.require(adapter, who);
  }

  private static String abbreviate(String sha) {
    return sha.length() > 12 ? sha.substring(0, 12) + "…" : sha;
  }
}
