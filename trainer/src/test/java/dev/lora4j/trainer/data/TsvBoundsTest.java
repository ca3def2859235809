package dev.lora4j.trainer.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lora4j.models.Lora4jException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What is not a text file is refused as such, not reported missing, and never read whole. */
class TsvBoundsTest {
  @TempDir Path dir;

  private String refusal(Path file) {
    return assertThrows(Lora4jException.class, () -> TsvDataset.read(file)).getMessage();
  }

  @Test
  void aDirectoryOrADeviceIsNotReportedAsMissing() throws Exception {
    assertEquals(dir + ": is a directory, expected a data file (tab-separated text)", refusal(dir));
    Path random = Files.createSymbolicLink(dir.resolve("r.tsv"), Path.of("/dev/urandom"));
    assertEquals(random + ": not a regular file (a device, pipe or socket), expected a data file (tab-separated text)",
        refusal(random));
  }

  @Test
  void aFileWithoutLineBreaksIsRefusedAtTheLineLimit() throws Exception {
    Path sparse = dir.resolve("zeros.tsv");
    try (RandomAccessFile f = new RandomAccessFile(sparse.toFile(), "rw")) {
      f.setLength(3L << 30); // NUL bytes, no line break: one 3 GiB "line" if read naively
    }
    assertEquals(sparse + ":1: line is longer than 1048576 characters (not a text file?)", refusal(sparse));
  }
}
