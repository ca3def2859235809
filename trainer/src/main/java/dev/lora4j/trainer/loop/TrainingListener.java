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

  /** Both listeners, {@code a} first, for every event. */
  static TrainingListener both(TrainingListener a, TrainingListener b) {
    return new TrainingListener() {
      @Override
      public void onStart(TrainingPlan plan) {
        a.onStart(plan);
        b.onStart(plan);
      }

      @Override
      public void onStep(StepReport step) {
        a.onStep(step);
        b.onStep(step);
      }

      @Override
      public void onEvaluation(EvalReport eval) {
        a.onEvaluation(eval);
        b.onEvaluation(eval);
      }

      @Override
      public void onCheckpoint(Path directory, long step) {
        a.onCheckpoint(directory, step);
        b.onCheckpoint(directory, step);
      }

      @Override
      public void onFinish(TrainingSummary summary) {
        a.onFinish(summary);
        b.onFinish(summary);
      }
    };
  }
}
