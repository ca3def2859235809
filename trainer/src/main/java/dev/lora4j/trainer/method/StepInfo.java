package dev.lora4j.trainer.method;

/**
 * Where training stands when a method hook runs.
 *
 * @param step optimizer steps completed before this one (0 for the first)
 * @param totalSteps optimizer steps of the whole run
 * @param learningRate the adapter learning rate of this step after warm-up / decay
 */
public record StepInfo(long step, long totalSteps, int epoch, double learningRate) {

  /** Progress in [0, 1]. */
  public double progress() {
    return totalSteps <= 1 ? 1 : Math.min(1, (double) step / (totalSteps - 1));
  }
}
