package dev.lora4j.trainer.method;

import dev.lora4j.models.Lora4jException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The training methods lora4j knows, by id. */
public final class Methods {
  private static final Map<String, TrainingMethod> METHODS = new LinkedHashMap<>();

  static {
    for (TrainingMethod m : List.of(new LoraMethod(), new SoraMethod(), new SaloraMethod(), new MtloraMethod(),
        NestedRankMethod.dylora(), NestedRankMethod.erat(), new ProbeMethod())) {
      METHODS.put(m.id(), m);
    }
  }

  private Methods() {}

  public static TrainingMethod byId(String id) {
    TrainingMethod m = METHODS.get(id.trim().toLowerCase(java.util.Locale.ROOT));
    if (m == null) {
      throw new Lora4jException("unknown method '" + id + "'; known: " + String.join(", ", METHODS.keySet()));
    }
    return m;
  }

  public static List<TrainingMethod> all() {
    return List.copyOf(METHODS.values());
  }
}
