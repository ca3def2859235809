package dev.lora4j.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.Lora4jException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A damaged checkpoint is refused by name before anything is allocated or resumed. */
class CheckpointReaderTest {
  @TempDir Path dir;

  private Path tensors() {
    return dir.resolve(Checkpoint.TENSORS);
  }

  private String refusal() {
    return assertThrows(Lora4jException.class, () -> Checkpoint.read(dir)).getMessage();
  }

  /** The first tensor's length field: after the magic, the count and the first name. */
  private int firstLengthOffset() {
    return 8 + 2 + CheckpointCorpusTest.valid().tensors().keySet().iterator().next().length();
  }

  private void setInt(int offset, int value) throws Exception {
    byte[] b = Files.readAllBytes(tensors());
    ByteBuffer.wrap(b).putInt(offset, value);
    Files.write(tensors(), b);
  }

  @Test
  void aValidCheckpointReadsBack() {
    Checkpoint c = CheckpointCorpusTest.valid();
    c.write(dir);
    Checkpoint back = Checkpoint.read(dir);
    assertEquals(c.meta().get("step"), back.meta().get("step"));
    c.tensors().forEach((k, v) -> assertArrayEquals(v, back.tensor(k), k));
  }

  @Test
  void tensorLengthsBeyondTheFileAreRefusedBeforeAllocating() throws Exception {
    CheckpointCorpusTest.valid().write(dir);
    setInt(firstLengthOffset(), 0x7fffffff);
    assertEquals(tensors() + ": tensor 'q.lora_A' says it holds 2147483647 values, but only ",
        refusal().replaceAll("only \\d+ bytes follow.*", "only "));
    setInt(firstLengthOffset(), -1);
    assertEquals(tensors() + ": tensor 'q.lora_A' says it holds -1 values, but only ",
        refusal().replaceAll("only \\d+ bytes follow.*", "only "));
  }

  @Test
  void aTensorCountBeyondTheFileIsRefused() throws Exception {
    CheckpointCorpusTest.valid().write(dir);
    setInt(4, Integer.MAX_VALUE);
    assertEquals(tensors() + ": says it holds 2147483647 tensors, which ", refusal().replaceAll("which .*", "which "));
  }

  @Test
  void aTruncatedTensorFileIsNamedNotNull() throws Exception {
    CheckpointCorpusTest.valid().write(dir);
    byte[] b = Files.readAllBytes(tensors());
    Files.write(tensors(), java.util.Arrays.copyOf(b, b.length - 3));
    assertEquals(tensors() + ": tensor 'best/q.lora_A' says it holds 12 values, but only 45 bytes follow"
        + " (corrupt length)", refusal());
    for (int n = 0; n < b.length; n++) {
      Files.write(tensors(), java.util.Arrays.copyOf(b, n));
      String m = refusal();
      assertEquals(true, m.startsWith(tensors() + ": ") && !m.contains("null"), m);
    }
  }

  private void editMeta(Consumer<ObjectNode> change) throws Exception {
    ObjectMapper om = new ObjectMapper();
    ObjectNode meta = (ObjectNode) om.readTree(dir.resolve(Checkpoint.META).toFile());
    change.accept(meta);
    om.writeValue(dir.resolve(Checkpoint.META).toFile(), meta);
  }

  @Test
  void negativeEpochOrStepIsRefused() throws Exception {
    CheckpointCorpusTest.valid().write(dir);
    editMeta(m -> m.put("epoch", -1));
    assertEquals(dir.resolve(Checkpoint.META) + ": epoch is -1; it must be between 0 and 2147483647", refusal());
    editMeta(m -> m.put("epoch", 1).put("step", -1));
    assertEquals(dir.resolve(Checkpoint.META) + ": step is -1; it must be between 0 and 9223372036854775807",
        refusal());
    editMeta(m -> m.put("step", 3).remove("next_batch"));
    assertEquals(dir.resolve(Checkpoint.META) + ": next_batch is missing", refusal());
  }

  @Test
  void nonFiniteValuesAreRefused() throws Exception {
    CheckpointCorpusTest.valid().write(dir);
    int firstValue = firstLengthOffset() + 4;
    byte[] b = Files.readAllBytes(tensors());
    ByteBuffer.wrap(b).putFloat(firstValue, Float.NaN);
    Files.write(tensors(), b);
    assertEquals(tensors() + ": tensor 'q.lora_A' holds NaN at index 0; a checkpoint holds finite values only",
        refusal());
  }
}
