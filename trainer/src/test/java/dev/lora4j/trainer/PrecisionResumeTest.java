package dev.lora4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.trainer.loop.TrainingListener;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The precision is part of what a checkpoint must be resumed with; checkpoints older than the option were fp32. */
class PrecisionResumeTest {
  @TempDir Path dir;

  @Test
  void aCheckpointWithoutPrecisionResumesAsFp32AndRefusesBf16() throws Exception {
    TinyTask task = TinyTask.open(dir, 64, 16);
    TrainingConfig fp32 = TrainerTest.tiny().targets("value").epochs(1).checkpointEvery(2).build();
    Path run = dir.resolve("run");
    TrainingRun first = task.run(fp32, run, false, "p");
    Trainer.train(first, TrainingListener.NONE);
    Path meta = first.checkpointDirectory().resolve("checkpoint.json");
    ObjectMapper om = new ObjectMapper();
    ObjectNode json = (ObjectNode) om.readTree(meta.toFile());
    assertEquals("fp32", json.path("config").path("precision").asText());
    ((ObjectNode) json.get("config")).remove("precision"); // as written before --precision existed
    om.writeValue(meta.toFile(), json);

    TrainingConfig bf16 = fp32.toBuilder().precision(Precision.BF16).build();
    Lora4jException e = assertThrows(Lora4jException.class,
        () -> Trainer.train(task.run(bf16, run, true, "p"), TrainingListener.NONE));
    assertEquals("cannot resume: the checkpoint was made with other options (--precision fp32 -> bf16)",
        e.getMessage());
    Trainer.train(task.run(fp32, run, true, "p"), TrainingListener.NONE);
  }
}
