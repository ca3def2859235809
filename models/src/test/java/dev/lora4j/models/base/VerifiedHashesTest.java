package dev.lora4j.models.base;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.AtomicFiles;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VerifiedHashesTest {
  @TempDir Path tmp;

  @Test
  void stampIsTrustedWhileSizeTimeAndInodeMatch() throws IOException {
    Path file = Files.writeString(tmp.resolve("model.onnx"), "original");
    FileTime old = FileTime.from(Instant.now().minusSeconds(600));
    Files.setLastModifiedTime(file, old);
    VerifiedHashes hashes = new VerifiedHashes(tmp.resolve("hashes"));
    String original = hashes.sha256(file);
    assertEquals(AtomicFiles.sha256(file), original);
    assertEquals(1, stamps());

    overwriteInPlace(file, "ORIGINAL");
    Files.setLastModifiedTime(file, old);
    // Not re-read: this is the documented blind spot, and proof that the stamp saves the hashing.
    assertEquals(original, hashes.sha256(file));

    Files.setLastModifiedTime(file, FileTime.from(Instant.now().minusSeconds(300)));
    String changed = hashes.sha256(file);
    assertNotEquals(original, changed);
    assertEquals(AtomicFiles.sha256(file), changed);
  }

  @Test
  void sizeChangeIsNoticed() throws IOException {
    Path file = Files.writeString(tmp.resolve("f"), "abc");
    FileTime old = FileTime.from(Instant.now().minusSeconds(600));
    Files.setLastModifiedTime(file, old);
    VerifiedHashes hashes = new VerifiedHashes(tmp.resolve("hashes"));
    hashes.sha256(file);
    Files.writeString(file, "abcd");
    Files.setLastModifiedTime(file, old);
    assertEquals(AtomicFiles.sha256(file), hashes.sha256(file));
  }

  @Test
  void freshlyWrittenFilesGetNoStamp() throws IOException {
    Path file = Files.writeString(tmp.resolve("f"), "just written");
    VerifiedHashes hashes = new VerifiedHashes(tmp.resolve("hashes"));
    assertEquals(AtomicFiles.sha256(file), hashes.sha256(file));
    assertEquals(0, stamps());
  }

  @Test
  void unwritableStampDirectoryOnlyCostsRehashing() throws IOException {
    Path file = Files.writeString(tmp.resolve("f"), "abc");
    Files.setLastModifiedTime(file, FileTime.from(Instant.now().minusSeconds(600)));
    Path notADirectory = Files.writeString(tmp.resolve("hashes"), "in the way");
    VerifiedHashes hashes = new VerifiedHashes(notADirectory);
    assertEquals(AtomicFiles.sha256(file), hashes.sha256(file));
    assertEquals(AtomicFiles.sha256(file), hashes.sha256(file));
  }

  @Test
  void missingFileIsNamed() {
    VerifiedHashes hashes = new VerifiedHashes(tmp.resolve("hashes"));
    Lora4jException e = assertThrows(Lora4jException.class, () -> hashes.sha256(tmp.resolve("gone.onnx")));
    assertEquals(tmp.resolve("gone.onnx") + ": no such file", e.getMessage());
  }

  private long stamps() throws IOException {
    Path dir = tmp.resolve("hashes");
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.count();
    }
  }

  private static void overwriteInPlace(Path file, String text) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.seek(0);
      f.write(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
  }
}
