package dev.lora4j.models.adapter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
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
