package dev.lora4j.trainer.method;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.DoubleSupplier;

/**
 * Picks an export rank per module for a nested-rank adapter ({@code --export-rank auto}): the
 * smallest rank per module whose dev accuracy stays within {@code tolerance} of the untruncated
 * adapter. Modules are fixed one after the other, each searched with the earlier ones already cut, so
 * the final choice as a whole is within the tolerance (on the scored examples), not each module alone.
 * Each module's search is a binary search — it assumes accuracy grows with rank, which nested-rank
 * training aims for — so a sweep costs about {@code sum log2(cap)} evaluations instead of
 * {@code sum cap}.
 */
final class RankSweep {
  private RankSweep() {}

  /**
   * @param caps the most ranks per module, in the order to fix them; the model must be at these now
   * @param setRank sets one module's rank in the model that {@code score} measures
   * @param score accuracy of the model as set now
   * @return the chosen rank per module (also left set in the model)
   */
  public static Map<String, Integer> choose(Map<String, Integer> caps, double tolerance,
      java.util.function.BiConsumer<String, Integer> setRank, DoubleSupplier score) {
    double floor = score.getAsDouble() - tolerance;
    Map<String, Integer> chosen = new LinkedHashMap<>(caps);
    for (Map.Entry<String, Integer> e : caps.entrySet()) {
      String module = e.getKey();
      int lo = 1;
      int hi = e.getValue();
      // invariant: the model with this module at hi (earlier modules fixed) scores >= floor
      while (lo < hi) {
        int mid = (lo + hi) >>> 1;
        setRank.accept(module, mid);
        if (score.getAsDouble() >= floor - 1e-12) {
          hi = mid;
        } else {
          lo = mid + 1;
        }
      }
      setRank.accept(module, hi);
      chosen.put(module, hi);
    }
    return chosen;
  }

}
