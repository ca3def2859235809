package dev.lora4j.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A checkpoint replaces the previous checkpoint, and nothing else. */
class CheckpointWriteTest {
  @TempDir Path dir;

  static Checkpoint at(long step) {
    // the fields every checkpoint holds, as TrainingLoop writes them (the reader refuses fewer)
    return new Checkpoint(Map.of("format", 1, "step", step, "epoch", 0, "next_batch", (int) step, "adam_steps", step,
        "config", Map.of("rank", 2)),
        Map.of("w", new float[] {step, 2}));
  }

  @Test
  void aCheckpointReplacesTheEarlierOne() {
    Path cp = dir.resolve("checkpoint");
    at(1).write(cp);
    at(2).write(cp);
    assertEquals(2, Checkpoint.read(cp).getLong("step"));
    assertArrayEquals(new float[] {2, 2}, Checkpoint.read(cp).tensor("w"));
  }

  @Test
  void aDirectoryThatIsNotACheckpointIsRefusedAndKept() throws Exception {
    Path cp = Files.createDirectories(dir.resolve("checkpoint"));
    Files.writeString(cp.resolve("checkpoint.json"), "{\"mine\": true}");
    Files.writeString(cp.resolve("tensors.bin"), "my data");
    Lora4jException e = assertThrows(Lora4jException.class, () -> at(1).write(cp));
    assertTrue(e.getMessage().startsWith(cp + " is a directory that is not a lora4j checkpoint directory (its "
        + "checkpoint.json is not one lora4j wrote)"), e.getMessage());
    assertEquals("my data", Files.readString(cp.resolve("tensors.bin")));
  }
}
