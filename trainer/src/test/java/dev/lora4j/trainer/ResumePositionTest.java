package dev.lora4j.trainer;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.trainer.loop.TrainingListener;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A checkpoint whose positions are each plausible but do not fit the run is refused, not indexed past. */
class ResumePositionTest {
  @TempDir Path dir;

  @Test
  void aCheckpointPositionPastTheEpochsBatchesIsRefused() throws Exception {
    TinyTask task = TinyTask.open(dir, 64, 16);
    TrainingConfig config = TrainerTest.tiny().targets("value").epochs(1).checkpointEvery(2).build();
    Path run = dir.resolve("run");
    TrainingRun first = task.run(config, run, false, "p");
    Trainer.train(first, TrainingListener.NONE);
    Path meta = first.checkpointDirectory().resolve("checkpoint.json");
    ObjectMapper om = new ObjectMapper();
    ObjectNode json = (ObjectNode) om.readTree(meta.toFile());
    json.put("next_batch", 999); // used to end in IndexOutOfBoundsException inside the training loop
    om.writeValue(meta.toFile(), json);
    Lora4jException e = assertThrows(Lora4jException.class,
        () -> Trainer.train(task.run(config, run, true, "p"), TrainingListener.NONE));
    assertTrue(e.getMessage().startsWith("cannot resume: the checkpoint's position (epoch "), e.getMessage());
    assertTrue(e.getMessage().contains("batch 999"), e.getMessage());
  }
}
