package dev.lora4j.trainer;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.trainer.loop.TrainingListener;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A learning rate that blows the weights up stops training with a message, instead of exporting 1e30 weights. */
class DivergenceTest {
  @TempDir Path dir;

  @Test
  void aTrainingRunWithLr1e30StopsWithTheDivergenceMessage() throws Exception {
    // 16 examples, batch 16, one epoch: a single step, whose loss is finite (it is computed before the
    // update), so only a check of the parameters after the step can notice
    TinyTask task = TinyTask.open(dir, 16, 8);
    TrainingConfig config = TrainingConfig.builder().device(DeviceChoice.CPU).targets("all").rank(4).alpha(8)
        .batchSize(16).maxLength(32).learningRate(1e30).headLearningRate(5e-2).epochs(1).logEvery(1).build();
    Path runDir = dir.resolve("run");
    Lora4jException e = assertThrows(Lora4jException.class,
        () -> Trainer.train(task.run(config, runDir, false, "diverged"), new TrainingListener() { }));
    assertTrue(e.getMessage().startsWith("training diverged at step 1") && e.getMessage().contains("lower --lr"),
        e.getMessage());
    // it failed before its first checkpoint: nothing to resume from, so the run directory it made is gone
    assertFalse(Files.exists(runDir), "left behind: " + runDir);
  }
}
