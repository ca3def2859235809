package dev.lora4j.trainer.loop;

import java.util.Map;

/**
 * After every optimizer step.
 *
 * @param step optimizer steps completed (1 after the first)
 * @param loss task loss of this step's batch
 * @param gradNorm global gradient norm before clipping
 * @param activeRanks live ranks per adapted module
 * @param methodMetrics e.g. SoRA's current lambda
 * @param tokens real training tokens processed so far in this process (padding excluded)
 * @param tokensPerSecond over this process's training time (evaluation excluded)
 * @param etaSeconds estimated training time left, evaluations excluded
 */
public record StepReport(
    long step,
    long totalSteps,
    int epoch,
    double loss,
    double learningRate,
    double gradNorm,
    Map<String, Integer> activeRanks,
    int initialRanks,
    Map<String, Double> methodMetrics,
    long tokens,
    double tokensPerSecond,
    double etaSeconds) {

  public int activeRankTotal() {
    return activeRanks.values().stream().mapToInt(Integer::intValue).sum();
  }
}
