package dev.lora4j.trainer;

import dev.lora4j.trainer.loop.EvalReport;
import dev.lora4j.trainer.loop.StepReport;
import dev.lora4j.trainer.loop.TrainingListener;
import dev.lora4j.trainer.loop.TrainingPlan;
import dev.lora4j.trainer.loop.TrainingSummary;
import java.nio.file.Path;

/** Combines listeners. */
public final class Listeners {
  private Listeners() {}

  public static TrainingListener both(TrainingListener a, TrainingListener b) {
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
