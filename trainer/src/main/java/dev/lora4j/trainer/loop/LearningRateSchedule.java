package dev.lora4j.trainer.loop;

/**
 * Linear warm-up to the peak rate over the first {@code warmupSteps}, then linear decay to zero at
 * {@code totalSteps} (the schedule BERT fine-tuning uses).
 */
record LearningRateSchedule(long totalSteps, long warmupSteps) {

  public static LearningRateSchedule of(long totalSteps, double warmupRatio) {
    return new LearningRateSchedule(totalSteps, (long) Math.ceil(totalSteps * warmupRatio));
  }

  /** Multiplier of the peak rate for the step that has {@code step} steps before it. */
  public double factor(long step) {
    if (step < warmupSteps) {
      return (step + 1.0) / warmupSteps;
    }
    return Math.max(0, (double) (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
  }
}
