package dev.lora4j.models.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lora4j.models.Lora4jException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An output never is, contains or lies inside an input; inputs say what they really are. */
class OutputTargetsTest {
  @TempDir Path dir;

  @Test
  void anOutputThatIsContainsOrLiesInsideAnInputIsRefused() throws Exception {
    Path in = Files.createDirectories(dir.resolve("adapter"));
    Files.writeString(in.resolve("adapter_config.json"), "{}");
    String tail = "; write the output elsewhere (an input is never replaced, not even with --overwrite)";
    assertEquals("--out " + in + " is the input --adapter " + in + tail,
        assertThrows(Lora4jException.class, () -> OutputTargets.requireApart(in, "--out", in, "--adapter")).getMessage());
    assertEquals("--out " + dir + " contains the input --adapter " + in + tail,
        assertThrows(Lora4jException.class, () -> OutputTargets.requireApart(dir, "--out", in, "--adapter")).getMessage());
    Path inside = in.resolve("not-yet/export");
    assertEquals("--out " + inside + " is inside the input --adapter " + in + tail,
        assertThrows(Lora4jException.class, () -> OutputTargets.requireApart(inside, "--out", in, "--adapter"))
            .getMessage());
    OutputTargets.requireApart(dir.resolve("adapter2"), "--out", in, "--adapter"); // a shared prefix is not inside
  }

  @Test
  void anInputReachedThroughALinkOrDotsIsStillTheInput() throws Exception {
    Path in = Files.createDirectories(dir.resolve("adapter"));
    Path link = Files.createSymbolicLink(dir.resolve("link"), in);
    assertThrows(Lora4jException.class, () -> OutputTargets.requireApart(link, "--out", in, "--adapter"));
    Path dotted = dir.resolve("x/../adapter");
    assertThrows(Lora4jException.class, () -> OutputTargets.requireApart(dotted, "--out", in, "--adapter"));
    // through a link, ".." is the parent of where the link points, not of the link: dir/deep/sub/../../adapter
    Files.createDirectories(dir.resolve("deep/sub"));
    Path deepLink = Files.createSymbolicLink(dir.resolve("deeplink"), dir.resolve("deep/sub"));
    assertThrows(Lora4jException.class,
        () -> OutputTargets.requireApart(deepLink.resolve("../../adapter"), "--out", in, "--adapter"));
    Path file = Files.writeString(in.resolve("train.tsv"), "sentence\tlabel\n");
    assertThrows(Lora4jException.class, () -> OutputTargets.requireApart(link, "--out", file, "--train"));
  }

  @Test
  void aDirectoryOrDeviceGivenAsAnInputFileSaysWhatItIs() throws Exception {
    Path d = Files.createDirectories(dir.resolve("data"));
    assertEquals(d + ": is a directory, expected a data file",
        assertThrows(Lora4jException.class, () -> InputFiles.requireRegularFile(d, "data file")).getMessage());
    Path missing = dir.resolve("nope.tsv");
    assertEquals(missing + ": no such file",
        assertThrows(Lora4jException.class, () -> InputFiles.requireRegularFile(missing, "data file")).getMessage());
    Path device = Path.of("/dev/urandom");
    if (Files.exists(device)) {
      assertEquals("/dev/urandom: not a regular file (a device, pipe or socket), expected a data file",
          assertThrows(Lora4jException.class, () -> InputFiles.requireRegularFile(device, "data file")).getMessage());
    }
    Path file = Files.writeString(dir.resolve("f"), "x");
    assertEquals(file + ": is a file, not a directory (export directory)",
        assertThrows(Lora4jException.class, () -> InputFiles.requireDirectory(file, "export directory")).getMessage());
  }
}
