package dev.lora4j.trainer.loop;

import java.nio.file.Path;

/**
 * Watches a training run (a progress bar, a log, a test). Called on the training thread; keep it
 * quick. Every method has a do-nothing default.
 */
public interface TrainingListener {
  TrainingListener NONE = new TrainingListener() {};

  default void onStart(TrainingPlan plan) {}

  default void onStep(StepReport step) {}

  default void onEvaluation(EvalReport eval) {}

  default void onCheckpoint(Path directory, long step) {}

  /** Training is over; the adapter is being assembled. */
  default void onFinish(TrainingSummary summary) {}
}
