package dev.lora4j.models.adapter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.safetensors.Safetensors;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What writing a PEFT directory may replace: its own earlier output, not someone's adapter or files. */
class PeftOutputTest {
  @TempDir Path tmp;

  @Test
  void anEarlierLora4jAdapterIsReplaced() {
    Path dir = tmp.resolve("sst2");
    PeftAdapters.write(PeftAdaptersTest.sample(), dir);
    Adapter renamed = PeftAdaptersTest.sample().withName("second");
    PeftAdapters.write(renamed, dir);
    assertEquals("second", PeftAdapters.read(dir).name());
  }

  @Test
  void aPeftAdapterWithWellFormedWeightsButNoLora4jSectionIsRefused() throws Exception {
    // what PEFT itself writes: a readable safetensors file whose metadata holds only "format"
    Path dir = tmp.resolve("from-hub");
    PeftAdapters.write(PeftAdaptersTest.sample(), dir);
    Path weights = dir.resolve(PeftAdapters.WEIGHTS_FILE);
    Safetensors ours = Safetensors.read(weights);
    new Safetensors(ours.tensors(), java.util.Map.of("format", "pt")).write(weights);
    byte[] before = Files.readAllBytes(weights);

    Lora4jException e = assertThrows(Lora4jException.class, () -> PeftAdapters.write(PeftAdaptersTest.sample(), dir));
    assertTrue(e.getMessage().contains("is not a lora4j adapter directory"), e.getMessage());
    assertArrayEquals(before, Files.readAllBytes(weights));
  }

  @Test
  void aPeftAdapterFromElsewhereIsRefusedUnlessOverwritten() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("from-hub"));
    byte[] config = "{\"peft_type\": \"LORA\", \"r\": 8}".getBytes();
    Files.write(dir.resolve(PeftAdapters.CONFIG_FILE), config);
    Files.write(dir.resolve(PeftAdapters.WEIGHTS_FILE), new byte[] {1, 2, 3});
    Lora4jException e = assertThrows(Lora4jException.class, () -> PeftAdapters.write(PeftAdaptersTest.sample(), dir));
    assertEquals(dir.toAbsolutePath() + " is a directory that is not a lora4j adapter directory (its "
        + "adapter_config.json is not one lora4j wrote); refusing to replace it (--overwrite replaces it, deleting "
        + "what is there)", e.getMessage());
    assertArrayEquals(config, Files.readAllBytes(dir.resolve(PeftAdapters.CONFIG_FILE)));
    assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(dir.resolve(PeftAdapters.WEIGHTS_FILE)));

    PeftAdapters.write(PeftAdaptersTest.sample(), dir, true);
    assertTrue(PeftAdapters.read(dir).modules().size() > 0);
  }
}
