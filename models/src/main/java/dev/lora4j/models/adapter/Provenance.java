package dev.lora4j.models.adapter;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How an adapter came to be, kept with it so a result can be traced back and reproduced.
 *
 * @param method training method id: lora, sora, salora, mtlora, dylora, erat, or peft for imports
 * @param hyperParameters every option that shaped training, by its command-line name
 * @param data training / dev data description (paths, sizes)
 * @param seed random seed
 * @param metrics final metrics (dev accuracy, loss, ranks kept, ...)
 * @param created ISO-8601 instant
 * @param tool producer and version, e.g. {@code lora4j 0.1.0}
 */
public record Provenance(
    String method,
    Map<String, Object> hyperParameters,
    Map<String, Object> data,
    long seed,
    Map<String, Object> metrics,
    String created,
    String tool) {

  public Provenance {
    hyperParameters = immutable(hyperParameters);
    data = immutable(data);
    metrics = immutable(metrics);
  }

  public static Provenance of(String method) {
    return new Provenance(method, Map.of(), Map.of(), 0, Map.of(), java.time.Instant.now().toString(), toolName());
  }

  public Provenance withMetrics(Map<String, Object> newMetrics) {
    return new Provenance(method, hyperParameters, data, seed, newMetrics, created, tool);
  }

  /**
   * The dropout on the adapter input that training used (PEFT's {@code lora_dropout}): lora4j's
   * trainer records it as {@code dropout}, an adapter imported from PEFT keeps its config's
   * {@code lora_dropout}. 0 when neither is a number in [0, 1), PEFT's own default.
   */
  public double loraDropout() {
    Object v = hyperParameters.get(method != null && method.equals("peft") ? "lora_dropout" : "dropout");
    if (v instanceof Number n && n.doubleValue() >= 0 && n.doubleValue() < 1) {
      return n.doubleValue();
    }
    return 0.0;
  }

  /** This build of lora4j, as recorded in provenance. */
  public static String toolName() {
    String v = Provenance.class.getPackage().getImplementationVersion();
    return "lora4j " + (v == null ? "dev" : v);
  }

  private static Map<String, Object> immutable(Map<String, Object> m) {
    return m == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(m));
  }
}
