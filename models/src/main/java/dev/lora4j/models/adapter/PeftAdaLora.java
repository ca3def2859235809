package dev.lora4j.models.adapter;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How a PEFT AdaLoRA config ({@code peft_type: ADALORA}) gives each module's rank and scaling.
 *
 * <p>PEFT 0.21's AdaLoRA layer computes {@code delta W = B · (A ⊙ E) · scaling / (ranknum + 1e-5)}
 * with {@code E (r x 1)} the learnt singular values, {@code scaling = lora_alpha} (or the layer's
 * rank when {@code lora_alpha <= 0}) and {@code ranknum = init_r}, a buffer it does not save. After
 * rank allocation the config's {@code rank_pattern} maps {@code <module>.lora_E} to a boolean mask
 * over the {@code init_r} ranks, and {@code save_pretrained} stores only the kept ones; on loading,
 * PEFT resizes each module to the mask's count but keeps {@code ranknum = init_r}, so pruning does
 * not change the scale of the ranks left. {@code r}, {@code use_rslora} and {@code alpha_pattern}
 * are LoraConfig fields AdaLoRA's layers ignore, and so does lora4j.
 *
 * @param rankPattern per PEFT module name (without {@code .lora_E}), the allocator's mask
 */
record PeftAdaLora(int initR, double loraAlpha, Map<String, boolean[]> rankPattern) {
  /** AdaLoraConfig's and LoraConfig's defaults. */
  static final int DEFAULT_INIT_R = 12;
  static final double DEFAULT_ALPHA = 8;
  private static final String E_SUFFIX = ".lora_E";

  static PeftAdaLora parse(JsonFields config) {
    Map<String, boolean[]> masks = new LinkedHashMap<>();
    JsonFields o = config.object("rank_pattern");
    int initR = config.positiveInt("init_r", DEFAULT_INIT_R);
    if (o != null) {
      for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        String key = e.getKey();
        if (!key.endsWith(E_SUFFIX)) {
          throw config.fail("rank_pattern key '" + key + "' does not name a lora_E vector; AdaLoRA's rank_pattern"
              + " maps <module>.lora_E to a boolean mask");
        }
        masks.put(key.substring(0, key.length() - E_SUFFIX.length()), mask(config, key, e.getValue(), initR));
      }
    }
    return new PeftAdaLora(initR, config.number("lora_alpha", DEFAULT_ALPHA), masks);
  }

  private static boolean[] mask(JsonFields config, String key, JsonNode v, int initR) {
    if (!v.isArray() || v.size() != initR) {
      throw config.fail("rank_pattern value for '" + key + "' must be a list of " + initR
          + " booleans (one per init_r rank), not " + v);
    }
    boolean[] out = new boolean[initR];
    for (int i = 0; i < initR; i++) {
      if (!v.get(i).isBoolean()) {
        throw config.fail("rank_pattern value for '" + key + "' must hold booleans, not " + v.get(i));
      }
      out[i] = v.get(i).booleanValue();
    }
    return out;
  }

  /** The mask for a module, or null when rank allocation left it at init_r. */
  boolean[] maskFor(String peftModule) {
    return rankPattern.get(peftModule);
  }

  /** The rank PEFT gives a module on loading: the mask's count, else init_r. */
  int rankFor(String peftModule) {
    boolean[] mask = maskFor(peftModule);
    if (mask == null) {
      return initR;
    }
    int n = 0;
    for (boolean b : mask) {
      n += b ? 1 : 0;
    }
    return n;
  }

  /**
   * {@code scaling / (ranknum + 1e-5)} as PEFT computes it: ranknum is a float32 buffer, so the
   * denominator is a float32 sum; lora4j folds the quotient into B.
   */
  double scalingFor(String peftModule) {
    double scaling = loraAlpha > 0 ? loraAlpha : rankFor(peftModule);
    float ranknum = (float) initR;
    float denominator = ranknum + 1e-5f;
    return scaling / denominator;
  }
}
