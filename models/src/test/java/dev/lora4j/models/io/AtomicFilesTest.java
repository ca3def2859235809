package dev.lora4j.models.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Directory and file replacement: what may be replaced, what a killed writer leaves, what a failed rename leaves. */
class AtomicFilesTest {
  /** A kind like the real ones: a JSON manifest with a marker, plus one data file. */
  static final OutputKind KIND = OutputKind.of("a test output",
      OutputKind.jsonObject(m -> m.path("tool").asText("").equals("lora4j-test")), "manifest.json", "data.bin");

  @TempDir Path dir;

  static void writeOutput(Path target, String data, boolean overwrite) {
    AtomicFiles.writeDirectory(target, KIND, overwrite, tmp -> {
      Files.writeString(tmp.resolve("manifest.json"), "{\"tool\": \"lora4j-test\"}");
      Files.writeString(tmp.resolve("data.bin"), data);
    });
  }

  /** Every file under {@code root} with its bytes, to compare a tree before and after. */
  static Map<String, String> snapshot(Path root) throws IOException {
    Map<String, String> files = new TreeMap<>();
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.toList()) {
        files.put(root.relativize(p).toString(), Files.isDirectory(p) ? "<dir>"
            : new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1));
      }
    }
    return files;
  }

  /** Names in {@code dir}, hidden ones included: what a write left beside its target. */
  static TreeSet<String> names(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return new TreeSet<>(s.map(p -> p.getFileName().toString()).toList());
    }
  }

  @Test
  void aForeignDirectoryIsRefusedAndLeftByteIdentical() throws Exception {
    Path target = dir.resolve("out");
    Files.createDirectories(target.resolve("photos"));
    Files.writeString(target.resolve("thesis.tex"), "years of work");
    Files.write(target.resolve("photos/a.jpg"), new byte[] {(byte) 0xff, (byte) 0xd8, 0, 1});
    Map<String, String> before = snapshot(target);

    Lora4jException e = assertThrows(Lora4jException.class, () -> writeOutput(target, "new", false));
    assertTrue(e.getMessage().startsWith(target + " is a directory that is not a test output (it has no "
        + "manifest.json; it holds photos, thesis.tex)"), e.getMessage());
    assertTrue(e.getMessage().contains("--overwrite replaces it"), e.getMessage());
    assertEquals(before, snapshot(target));
    assertEquals(new TreeSet<>(List.of("out")), names(dir), "no temporary left beside it");
  }

  @Test
  void aPlainFileIsRefusedAndKept() throws Exception {
    Path target = Files.writeString(dir.resolve("out"), "a file the user had");
    Lora4jException e = assertThrows(Lora4jException.class, () -> writeOutput(target, "new", false));
    assertTrue(e.getMessage().startsWith(target + " is a file, not a test output;"), e.getMessage());
    assertEquals("a file the user had", Files.readString(target));
    assertEquals(new TreeSet<>(List.of("out")), names(dir));
  }

  @Test
  void anEarlierOutputOfTheSameKindIsReplaced() throws Exception {
    Path target = dir.resolve("out");
    writeOutput(target, "first", false);
    writeOutput(target, "second", false);
    assertEquals("second", Files.readString(target.resolve("data.bin")));
    assertEquals(new TreeSet<>(List.of("out")), names(dir), "the old copy is gone");
  }

  @Test
  void anEmptyDirectoryIsFilled() throws Exception {
    Path target = Files.createDirectory(dir.resolve("out"));
    writeOutput(target, "first", false);
    assertEquals("first", Files.readString(target.resolve("data.bin")));
  }

  @Test
  void anEarlierOutputWithAFileOfTheUsersIsRefused() throws Exception {
    Path target = dir.resolve("out");
    writeOutput(target, "first", false);
    Files.writeString(target.resolve("notes.txt"), "mine");
    Lora4jException e = assertThrows(Lora4jException.class, () -> writeOutput(target, "second", false));
    assertTrue(e.getMessage().startsWith(target + " is a test output that also holds notes.txt, which lora4j did "
        + "not write"), e.getMessage());
    assertEquals("mine", Files.readString(target.resolve("notes.txt")));
    assertEquals("first", Files.readString(target.resolve("data.bin")));
  }

  @Test
  void aManifestLora4jDidNotWriteMakesTheDirectoryForeign() throws Exception {
    Path target = Files.createDirectory(dir.resolve("out"));
    Files.writeString(target.resolve("manifest.json"), "{\"tool\": \"someone else\"}");
    Lora4jException e = assertThrows(Lora4jException.class, () -> writeOutput(target, "new", false));
    assertTrue(e.getMessage().contains("its manifest.json is not one lora4j wrote"), e.getMessage());
    Files.writeString(target.resolve("manifest.json"), "not json at all");
    assertThrows(Lora4jException.class, () -> writeOutput(target, "new", false));
    assertEquals("not json at all", Files.readString(target.resolve("manifest.json")));
  }

  @Test
  void overwriteReplacesAForeignDirectoryAndAFile() throws Exception {
    Path target = dir.resolve("out");
    Files.createDirectories(target.resolve("sub"));
    Files.writeString(target.resolve("sub/thesis.tex"), "x");
    writeOutput(target, "new", true);
    assertEquals(new TreeSet<>(List.of("data.bin", "manifest.json")), names(target));
    Path file = Files.writeString(dir.resolve("file"), "x");
    writeOutput(file, "new", true);
    assertEquals("new", Files.readString(file.resolve("data.bin")));
    assertEquals(new TreeSet<>(List.of("file", "out")), names(dir));
  }

  @Test
  void aSymbolicLinkIsRefusedAndItsTargetUntouched() throws Exception {
    Path real = Files.createDirectory(dir.resolve("real"));
    Files.writeString(real.resolve("keep.txt"), "x");
    Path link = Files.createSymbolicLink(dir.resolve("out"), real);
    Lora4jException e = assertThrows(Lora4jException.class, () -> writeOutput(link, "new", false));
    assertTrue(e.getMessage().startsWith(link + " is a symbolic link"), e.getMessage());
    assertEquals("x", Files.readString(real.resolve("keep.txt")));
  }

  @Test
  void aFailedFinalRenamePutsThePreviousDirectoryBack() throws Exception {
    Path target = dir.resolve("out");
    writeOutput(target, "previous", false);
    AtomicInteger renames = new AtomicInteger();
    AtomicFiles.Renamer failSecond = (from, to) -> {
      if (renames.incrementAndGet() == 2) {
        throw new IOException("injected: disk full");
      }
      Files.move(from, to);
    };
    Lora4jException e = assertThrows(Lora4jException.class, () -> AtomicFiles.writeDirectory(target, KIND, false,
        tmp -> {
          Files.writeString(tmp.resolve("manifest.json"), "{\"tool\": \"lora4j-test\"}");
          Files.writeString(tmp.resolve("data.bin"), "new");
        }, failSecond));
    assertEquals(2, renames.get(), "target moved aside, then the new directory's rename failed");
    assertTrue(e.getMessage().contains("injected: disk full"), e.getMessage());
    assertEquals("previous", Files.readString(target.resolve("data.bin")));
    assertEquals(new TreeSet<>(List.of("out")), names(dir), "neither the new nor the old copy is left hidden");
  }

  @Test
  void aFailedWriterLeavesTheTargetAndNoTemporary() throws Exception {
    Path target = dir.resolve("out");
    writeOutput(target, "previous", false);
    assertThrows(IllegalStateException.class, () -> AtomicFiles.writeDirectory(target, KIND, false, tmp -> {
      Files.writeString(tmp.resolve("data.bin"), "half");
      throw new IllegalStateException("writer failed");
    }));
    assertEquals("previous", Files.readString(target.resolve("data.bin")));
    assertEquals(new TreeSet<>(List.of("out")), names(dir));
  }

  /** A process that has exited: its pid names no process (unless reused within these milliseconds). */
  static long deadPid() throws Exception {
    Process p = new ProcessBuilder("true").start();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    return p.pid();
  }

  static String id(long pid, long startMillis) {
    return pid + "-" + Long.toHexString(startMillis) + "-" + "abc123";
  }

  @Test
  void staleTemporariesOfDeadWritersAreRemovedAndLiveWritersKept() throws Exception {
    Process sleeper = new ProcessBuilder("sleep", "60").start();
    try {
      long liveStart = sleeper.info().startInstant().map(Instant::toEpochMilli).orElseThrow();
      long dead = deadPid();
      String deadId = id(dead, liveStart);
      Path target = dir.resolve("out");
      writeOutput(target, "previous", false);
      List<String> stale = List.of(".out." + deadId, ".out." + deadId + ".tmp", ".out.old." + deadId,
          // the sleeper's pid, but a start an hour off: the pid was reused, the writer is gone
          ".out." + id(sleeper.pid(), liveStart - 3_600_000));
      List<String> kept = List.of(".out." + id(sleeper.pid(), liveStart), ".out.old." + id(sleeper.pid(), liveStart),
          ".out." + AtomicFiles.writerId() + "-ff", // this very process, maybe another thread
          ".out.notes", ".out." + deadId + ".bak", ".other." + deadId, "out." + deadId, ".out.x" + deadId);
      for (String n : stale) {
        Files.createDirectories(dir.resolve(n).resolve("inner"));
        Files.writeString(dir.resolve(n).resolve("inner/big.onnx"), "466 MB once");
      }
      for (String n : kept) {
        Files.createDirectories(dir.resolve(n));
      }

      writeOutput(target, "next", false);

      TreeSet<String> expected = new TreeSet<>(kept);
      expected.add("out");
      assertEquals(expected, names(dir));
      assertEquals("next", Files.readString(target.resolve("data.bin")));
    } finally {
      sleeper.destroyForcibly();
    }
  }

  /** Started in its own JVM: begins writing {@code args[0]} and hangs until killed. */
  public static final class HangingWriter {
    public static void main(String[] args) {
      AtomicFiles.writeDirectory(Path.of(args[0]), KIND, false, tmp -> {
        Files.writeString(tmp.resolve("data.bin"), "partial");
        try {
          Thread.sleep(120_000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
    }
  }

  @Test
  void aWriterInAnotherProcessIsLeftAloneWhileAliveAndCleanedUpAfterKill9() throws Exception {
    Path target = dir.resolve("out");
    Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), HangingWriter.class.getName(), target.toString())
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    try {
      String temp = null;
      for (int i = 0; i < 600 && temp == null; i++) {
        temp = names(dir).stream().filter(n -> n.startsWith(".out." + child.pid() + "-")).findFirst().orElse(null);
        if (temp == null) {
          Thread.sleep(100);
        }
      }
      assertTrue(temp != null, "the child started writing");
      writeOutput(target, "mine", false);
      assertEquals(new TreeSet<>(List.of(temp, "out")), names(dir), "a live writer's temporary is kept");

      child.destroyForcibly(); // SIGKILL: nothing of the child's runs any more
      assertTrue(child.waitFor(30, TimeUnit.SECONDS));
      writeOutput(target, "again", false);
      assertEquals(new TreeSet<>(List.of("out")), names(dir), "the killed writer's temporary is removed");
      assertEquals("again", Files.readString(target.resolve("data.bin")));
    } finally {
      child.destroyForcibly();
    }
  }

  /** Makes everything under {@code p} look last changed {@code hours} ago. */
  static void age(Path p, int hours) throws IOException {
    java.nio.file.attribute.FileTime then = java.nio.file.attribute.FileTime.from(Instant.now().minusSeconds(hours * 3600L));
    try (Stream<Path> s = Files.walk(p)) {
      for (Path f : s.toList()) {
        Files.setLastModifiedTime(f, then);
      }
    }
  }

  @Test
  void temporariesOfTheEarlierNamingAreRemovedOnlyOnceUntouchedForADay() throws Exception {
    Path target = dir.resolve("out");
    writeOutput(target, "previous", false);
    List<String> stale = List.of(".out.3f2a9c4e1b7d6a05", ".out.3f2a9c4e1b7d6a0.tmp", ".out.old.12345678901234567890");
    List<String> kept = List.of(".out.cafe", ".out.old.1234", ".out.3f2a9c4e1b7d6a06");
    for (String n : List.of(stale, kept).stream().flatMap(List::stream).toList()) {
      Files.createDirectories(dir.resolve(n).resolve("graphs"));
      Files.writeString(dir.resolve(n).resolve("graphs/base.multi.onnx"), "x");
      age(dir.resolve(n), 25);
    }
    // one file written an hour ago: its writer may still be at work
    Files.setLastModifiedTime(dir.resolve(".out.3f2a9c4e1b7d6a06/graphs/base.multi.onnx"),
        java.nio.file.attribute.FileTime.from(Instant.now().minusSeconds(3600)));

    writeOutput(target, "next", false);

    TreeSet<String> expected = new TreeSet<>(kept);
    expected.add("out");
    assertEquals(expected, names(dir));
  }

  @Test
  void aSingleFileWriteRemovesStaleTemporariesToo() throws Exception {
    String deadId = id(deadPid(), 1);
    Files.writeString(dir.resolve(".f.json." + deadId + ".tmp"), "half");
    AtomicFiles.write(dir.resolve("f.json"), "{}".getBytes(StandardCharsets.UTF_8));
    assertEquals(new TreeSet<>(List.of("f.json")), names(dir));
  }

  @Test
  void aWriterKilledBetweenItsRenamesGetsThePreviousDirectoryBack() throws Exception {
    String deadId = id(deadPid(), 1);
    Path old = dir.resolve(".out.old." + deadId);
    Files.createDirectories(old);
    Files.writeString(old.resolve("data.bin"), "previous");
    Path half = Files.createDirectories(dir.resolve(".out." + deadId));
    Files.writeString(half.resolve("data.bin"), "new");
    AtomicFiles.removeStale(dir.resolve("out"));
    assertEquals("previous", Files.readString(dir.resolve("out/data.bin")));
    assertEquals(new TreeSet<>(List.of("out")), names(dir));
  }

  @Test
  void writtenFilesReplaceAtomicallyAndAWriterMayCloseItsStream() throws Exception {
    Path f = dir.resolve("a.txt");
    AtomicFiles.write(f, "one".getBytes(StandardCharsets.UTF_8));
    AtomicFiles.write(f, out -> {
      out.write("two".getBytes(StandardCharsets.UTF_8));
      out.close();
    });
    assertArrayEquals("two".getBytes(StandardCharsets.UTF_8), Files.readAllBytes(f));
    assertFalse(names(dir).stream().anyMatch(n -> n.startsWith(".")), names(dir).toString());
  }
}
