package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.testing.TinyBert;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
  record Run(int code, String out, String err) {}

  static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Main.standard().run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void inspectDescribesABaseModelDirectory(@TempDir Path dir) throws Exception {
    TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Run r = run("inspect", dir.resolve("tiny").toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("layers                 2"), r.out());
    assertTrue(r.out().contains("attention heads        4 (head size 8)"), r.out());
    assertTrue(r.out().contains("Adaptable linear modules (12)"), r.out());
    assertTrue(r.out().contains("encoder.layer.1.intermediate.dense         64x32"), r.out());
  }

  @Test
  void inspectNamesAMissingModel(@TempDir Path dir) {
    Run r = run("inspect", dir.resolve("nowhere").toString());
    assertEquals(2, r.code());
    assertTrue(r.err().startsWith("lora4j inspect: "), r.err());
    assertTrue(r.err().contains("nowhere"), r.err());
    assertTrue(!r.err().contains("\tat "), "no stack trace for a user mistake: " + r.err());
  }

  @Test
  void everyCommandExplainsItself() {
    for (Command c : Main.standard().commands().values()) {
      Run r = run(c.name(), "--help");
      assertEquals(0, r.code(), c.name());
      assertTrue(r.out().startsWith("usage: lora4j " + c.name()), r.out());
      assertTrue(r.out().contains("--help"), r.out());
    }
    Run overview = run("--help");
    assertEquals(0, overview.code());
    assertTrue(overview.out().contains("inspect"), overview.out());
  }

  @Test
  void unknownCommandsAndOptionsAreUsageErrors() {
    Run r = run("fly");
    assertEquals(2, r.code());
    assertTrue(r.err().startsWith("lora4j: unknown command 'fly'"), r.err());
    Run bad = run("inspect", "--colour");
    assertEquals(2, bad.code());
    assertTrue(bad.err().contains("Unrecognized option: --colour"), bad.err());
  }
}
