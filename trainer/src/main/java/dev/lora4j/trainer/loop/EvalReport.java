package dev.lora4j.trainer.loop;

import java.util.Map;

/**
 * After each evaluation on the dev set.
 *
 * @param best whether this is the best evaluation so far (and kept, with keep-best)
 */
public record EvalReport(long step, int epoch, double accuracy, double loss, int examples, double seconds,
    Map<String, Integer> activeRanks, boolean best) {

  public int activeRankTotal() {
    return total(activeRanks);
  }

  /** Live ranks over all modules. */
  static int total(Map<String, Integer> activeRanks) {
    return activeRanks.values().stream().mapToInt(Integer::intValue).sum();
  }
}
