package dev.lora4j.models.adapter;

import dev.lora4j.models.Lora4jException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Whether an adapter fits a base model: the one check the exporter runs before it writes anything
 * and the runtime runs before it loads, so both refuse the same adapters with the same words. In
 * order: the base model's ONNX SHA-256 (when the adapter records one; a PEFT adapter from elsewhere
 * does not), module names, factor shapes, the classifier's input size, and finite weights of a sane
 * size ({@link WeightBounds}).
 */
public final class AdapterFit {
  private AdapterFit() {}

  /**
   * What an adapter is checked against: the base model's identity and shapes.
   *
   * @param modules by name, in the model's order (the first one is the example a message shows)
   */
  public record Base(String id, String onnxSha256, int hidden, Map<String, MixedBatchStacks.ModuleShape> modules) {
    public Base {
      modules = Collections.unmodifiableMap(new LinkedHashMap<>(modules));
    }
  }

  /**
   * @param who names the adapter in messages: "adapter 'x'" or the file it came from
   */
  public static void require(Adapter adapter, String who, Base base) {
    requireSameBase(adapter, who, new BaseModelRef(base.id(), base.onnxSha256()));
    List<String> unknown = new ArrayList<>();
    for (String name : adapter.modules().keySet()) {
      if (!base.modules().containsKey(name)) {
        unknown.add(name);
      }
    }
    if (!unknown.isEmpty()) {
      throw new Lora4jException(String.format(Locale.ROOT,
          "%s names %s %s that base model %s does not have (its modules look like %s)",
          who, unknown.size() == 1 ? "module" : unknown.size() + " modules", String.join(", ", unknown), base.id(),
          base.modules().keySet().stream().findFirst().orElse("nothing: it has no adaptable modules")));
    }
    for (LowRankModule m : adapter.modules().values()) {
      MixedBatchStacks.ModuleShape s = base.modules().get(m.module());
      if (m.inFeatures() != s.in() || m.outFeatures() != s.out()) {
        throw new Lora4jException(String.format(Locale.ROOT,
            "%s does not fit base model %s: module %s has A %s and B %s, so delta W is %dx%d, but the base weight is "
                + "%dx%d", who, base.id(), m.module(), m.a().shape(), m.b().shape(), m.outFeatures(), m.inFeatures(),
            s.out(), s.in()));
      }
    }
    if (adapter.head().isClassifier() && adapter.head().weight().cols() != base.hidden()) {
      throw new Lora4jException(String.format(Locale.ROOT,
          "%s does not fit base model %s: its classifier reads %d features but the hidden size is %d",
          who, base.id(), adapter.head().weight().cols(), base.hidden()));
    }
    WeightBounds.require(adapter, who);
  }

  /**
   * The base-model half of {@link #require}, for a consumer that checks modules its own way (the
   * trainer's {@code eval} builds the model in DJL): refuses an adapter whose recorded base hash
   * differs from {@code base}'s ({@link BaseModelRef#differsFrom}); one that records none passes.
   */
  public static void requireSameBase(Adapter adapter, String who, BaseModelRef base) {
    if (adapter.base().differsFrom(base)) {
      throw new Lora4jException(String.format(Locale.ROOT,
          "%s was trained on base model %s (ONNX sha256 %s), not on %s (sha256 %s); use it with the base model it "
              + "was trained on", who, adapter.base().id(), abbreviate(adapter.base().onnxSha256()), base.id(),
          abbreviate(base.onnxSha256())));
    }
  }

  private static String abbreviate(String sha) {
    return sha == null || sha.isEmpty() ? "unknown" : sha.length() > 12 ? sha.substring(0, 12) + "…" : sha;
  }
}
