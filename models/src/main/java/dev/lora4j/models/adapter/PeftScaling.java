package dev.lora4j.models.adapter;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NumericNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import java.util.stream.Collectors;

/**
 * How a PEFT LoRA config spells each module's rank and scaling: global {@code r} and
 * {@code lora_alpha}, per-module exceptions in {@code rank_pattern} / {@code alpha_pattern}, and
 * {@code scaling = alpha / r} (or {@code alpha / sqrt(r)} with {@code use_rslora}).
 *
 * <p>Pattern keys are matched as PEFT's {@code get_pattern_key} does: key {@code k} applies to
 * module {@code m} when {@code re.match(rf"(.*\.)?({k})$", m)}, i.e. {@code k} is a regular
 * expression matching {@code m} whole or a dot-separated tail of it; the first such key in file
 * order wins. {@code m} is the module's name in the model PEFT wrapped (so {@code bert.encoder...}
 * for a BertForSequenceClassification adapter).
 */
record PeftScaling(
    int r,
    double loraAlpha,
    Map<String, Integer> rankPattern,
    Map<String, Double> alphaPattern,
    boolean useRslora) {

  /** LoraConfig's defaults, which PEFT applies when a config leaves them out. */
  static final int DEFAULT_R = 8;
  static final double DEFAULT_ALPHA = 8;

  /** Reads r, lora_alpha, rank_pattern, alpha_pattern and use_rslora. */
  static PeftScaling parse(JsonFields config) {
    Map<String, Integer> ranks = pattern(config, "rank_pattern", v ->
        v.canConvertToExactIntegral() && v.canConvertToInt() && v.intValue() > 0 ? v.intValue() : null,
        "a positive integer");
    Map<String, Double> alphas = pattern(config, "alpha_pattern", v -> v.isNumber() ? v.doubleValue() : null,
        "a number");
    return new PeftScaling(
        config.positiveInt("r", DEFAULT_R),
        config.number("lora_alpha", DEFAULT_ALPHA),
        ranks,
        alphas,
        config.bool("use_rslora", false));
  }

  /**
   * The config for these modules: the most common rank and alpha become {@code r} and
   * {@code lora_alpha}, the others go to the patterns under their full module names, and rsLoRA is
   * off (each module's alpha is chosen for plain {@code alpha / r}).
   */
  static PeftScaling of(Collection<LowRankModule> modules) {
    Map<String, Integer> ranks = new LinkedHashMap<>();
    Map<String, Double> alphas = new LinkedHashMap<>();
    for (LowRankModule m : modules) {
      ranks.put(m.module(), m.rank());
      alphas.put(m.module(), alpha(m.scaling(), m.rank()));
    }
    int r = mostCommon(ranks.values(), DEFAULT_R);
    double alpha = mostCommon(alphas.values(), DEFAULT_ALPHA);
    ranks.values().removeIf(x -> x == r);
    alphas.values().removeIf(x -> x == alpha);
    return new PeftScaling(r, alpha, ranks, alphas, false);
  }

  int rankFor(String module) {
    String key = matchingKey(rankPattern.keySet(), module);
    return key == null ? r : rankPattern.get(key);
  }

  double scalingFor(String module, int rank) {
    String key = matchingKey(alphaPattern.keySet(), module);
    double alpha = key == null ? loraAlpha : alphaPattern.get(key);
    return useRslora ? alpha / Math.sqrt(rank) : alpha / rank;
  }

  /** Writes r, lora_alpha, rank_pattern, alpha_pattern, use_rslora into a config object. */
  void writeTo(ObjectNode config) {
    config.put("r", r);
    config.set("lora_alpha", number(loraAlpha));
    ObjectNode ranks = config.putObject("rank_pattern");
    rankPattern.forEach(ranks::put);
    ObjectNode alphas = config.putObject("alpha_pattern");
    alphaPattern.forEach((k, v) -> alphas.set(k, number(v)));
    config.put("use_rslora", useRslora);
  }

  /**
   * An alpha with {@code alpha / r == scaling} exactly, preferring a whole number (what people
   * write); {@code scaling * r} alone can be one ulp off. For some (scaling, r) no double works;
   * then the nearest is returned and the caller records the exact scaling elsewhere.
   */
  static double alpha(double scaling, int r) {
    double a = scaling * r;
    if (Math.rint(a) / r == scaling) {
      return Math.rint(a);
    }
    double down = a;
    double up = a;
    for (int i = 0; i <= 4; i++) {
      if (down / r == scaling) {
        return down;
      }
      if (up / r == scaling) {
        return up;
      }
      down = Math.nextDown(down);
      up = Math.nextUp(up);
    }
    return a;
  }

  /** The first key (in file order) that PEFT would apply to {@code module}, or null. */
  static String matchingKey(Collection<String> keys, String module) {
    for (String key : keys) {
      if (Pattern.compile("(.*\\.)?(" + key + ")").matcher(module).matches()) {
        return key;
      }
    }
    return null;
  }

  private static <T> Map<String, T> pattern(JsonFields config, String field, Function<JsonNode, T> value,
      String expected) {
    Map<String, T> out = new LinkedHashMap<>();
    JsonFields o = config.object(field);
    if (o == null) {
      return out;
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      T v = e.getValue().isNull() ? null : value.apply(e.getValue());
      if (v == null) {
        throw config.fail(field + " value for '" + e.getKey() + "' must be " + expected + ", not " + e.getValue());
      }
      try {
        Pattern.compile(e.getKey());
      } catch (PatternSyntaxException ex) {
        throw config.fail(field + " key '" + e.getKey() + "' is not a valid regular expression: "
            + ex.getDescription());
      }
      out.put(e.getKey(), v);
    }
    return out;
  }

  /** Ties go to the value seen first, so the choice is stable for a given module order. */
  private static <T> T mostCommon(Collection<T> values, T fallback) {
    Map<T, Long> counts = values.stream()
        .collect(Collectors.groupingBy(Function.identity(), LinkedHashMap::new, Collectors.counting()));
    T best = fallback;
    long bestCount = 0;
    for (Map.Entry<T, Long> e : counts.entrySet()) {
      if (e.getValue() > bestCount) {
        best = e.getKey();
        bestCount = e.getValue();
      }
    }
    return best;
  }

  /** Whole numbers as JSON integers, as a person (and PEFT) would write them. */
  private static NumericNode number(double v) {
    return v == Math.rint(v) && Math.abs(v) < 0x1p53
        ? JsonNodeFactory.instance.numberNode((long) v)
        : JsonNodeFactory.instance.numberNode(v);
  }
}
