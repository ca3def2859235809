package dev.lora4j.models.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lora4j.models.Lora4jException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InputFilesTest {
  @TempDir Path dir;

  private String refusal(Path file, long limit) {
    return assertThrows(Lora4jException.class, () -> InputFiles.readAll(file, limit, "JSON file")).getMessage();
  }

  @Test
  void aDirectoryIsRefusedAsADirectoryNotAsMissing() {
    assertEquals(dir + ": is a directory, expected a JSON file", refusal(dir, 100));
  }

  @Test
  void anEndlessDeviceIsRefusedBeforeReading() throws Exception {
    Path link = Files.createSymbolicLink(dir.resolve("a.json"), Path.of("/dev/zero"));
    assertEquals(link + ": not a regular file (a device, pipe or socket), expected a JSON file", refusal(link, 100));
  }

  @Test
  void aFileOverTheFormatsLimitIsRefusedBeforeAllocating() throws Exception {
    Path big = dir.resolve("big.json");
    try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
      f.setLength(3L << 30); // sparse: costs no disk, would cost 3 GiB of heap if read
    }
    assertEquals(big + ": is " + (3L << 30) + " bytes, over the 100-byte limit for a JSON file", refusal(big, 100));
  }

  @Test
  void aMissingFileAndABlankPathAreNamed() {
    assertEquals(dir.resolve("gone") + ": no such file", refusal(dir.resolve("gone"), 100));
    assertEquals("'" + Path.of("").toAbsolutePath() + "': is a directory, expected a JSON file",
        refusal(Path.of(""), 100));
  }

  @Test
  void aRegularFileWithinTheLimitIsReadWhole() throws Exception {
    Path f = Files.write(dir.resolve("ok.json"), new byte[] {1, 2, 3});
    assertArrayEquals(new byte[] {1, 2, 3}, InputFiles.readAll(f, 3, "JSON file"));
  }
}
