package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12: {@code run} with a long text died with SIGSEGV on the caller's stack. In process, on a
 * thread with a 256 KB stack, texts at and far beyond the model's maximum length get the same
 * answers as on the test thread.
 */
class RunCommandSmallStackTest {
  @Test
  void runAnswersLongTextsFromASmallStackThread(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2", AtomicFiles.sha256(base.resolve("model.onnx")));
    Path out = dir.resolve("export");
    assertEquals(0, MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", out.toString(), "--format", "multi").code());
    String atMax = "a good movie ".repeat(20).strip(); // 60 words + 2 special tokens, near the 64 positions
    String beyond = "a good movie ".repeat(600).strip(); // truncated to 64 tokens
    String[] args = {"run", "--base", out.toString(), "--adapter", "sst2", "--device", "cpu", "--max-tokens",
        Integer.toString(TinyBert.MAX_POSITIONS), atMax, beyond};
    MainTest.Run here = MainTest.run(args);
    assertEquals(0, here.code(), here.err());
    assertEquals(2, here.out().lines().count(), here.out());
    assertTrue(here.out().lines().allMatch(l -> l.matches("(neg|pos) +p\\(neg\\)=0\\.\\d{3} p\\(pos\\)=0\\.\\d{3}  .*")),
        here.out());

    MainTest.Run[] small = new MainTest.Run[1];
    Thread t = new Thread(null, () -> small[0] = MainTest.run(args), "small-stack", 256 * 1024);
    t.start();
    t.join();
    assertEquals(0, small[0].code(), small[0].err());
    assertEquals(here.out(), small[0].out());
  }
}
