package dev.lora4j.trainer.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RankSweepTest {
  @Test
  void picksTheSmallestRanksWhoseJointLossStaysWithinTolerance() {
    // accuracy = 0.9 minus a loss per module that vanishes at each module's "needed" rank
    Map<String, Integer> needed = Map.of("q", 2, "v", 5, "o", 1);
    Map<String, Integer> now = new LinkedHashMap<>(Map.of("q", 8, "v", 8, "o", 8));
    int[] calls = {0};
    Map<String, Integer> caps = new LinkedHashMap<>();
    caps.put("q", 8);
    caps.put("v", 8);
    caps.put("o", 8);
    Map<String, Integer> chosen = RankSweep.choose(caps, 0.004, now::put, () -> {
      calls[0]++;
      double acc = 0.9;
      for (var e : now.entrySet()) {
        acc -= 0.003 * Math.max(0, needed.get(e.getKey()) - e.getValue());
      }
      return acc;
    });
    // q may give up one rank (0.003 <= 0.004); then v has only 0.001 left, so it keeps all it needs
    assertEquals(Map.of("q", 1, "v", 5, "o", 1), chosen);
    assertEquals(chosen, now, "the model is left at the chosen ranks");
    assertTrue(calls[0] <= 1 + 3 * 3, "binary search: " + calls[0] + " evaluations");
  }
}
