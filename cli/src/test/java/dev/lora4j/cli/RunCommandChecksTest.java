package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code run} refuses what it cannot answer truthfully, with the flag or file and line in the message. */
class RunCommandChecksTest {
  @TempDir static Path dir;
  static Path base;
  static Path out;

  @BeforeAll
  static void export() throws Exception {
    base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2",
        AtomicFiles.sha256(base.resolve("model.onnx")));
    out = dir.resolve("export");
    assertEquals(0, MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", out.toString(), "--format", "multi,peft").code());
  }

  @Test
  void runInputRefusesLabelsOutsideTheAdaptersLabelSetAsEvalDoes() throws Exception {
    Path tsv = dir.resolve("numeric.tsv");
    Files.writeString(tsv, "sentence\tlabel\na good movie\t1\nboring\t0\n"); // SST-2's labels, adapter has neg/pos
    String expected = tsv + ":2: label '1' is not one of the training labels [neg, pos]";
    MainTest.Run run = MainTest.run("run", "--base", out.toString(), "--adapter", "sst2", "--device", "cpu",
        "--input", tsv.toString());
    assertEquals(2, run.code(), run.out());
    assertEquals("lora4j run: " + expected, run.err().strip());
    assertEquals("", run.out(), "no accuracy printed");

    MainTest.Run eval = MainTest.run("eval", "--base", base.toString(), "--adapter",
        out.resolve("sst2.onnx_adapter").toString(), "--device", "cpu", "--data", tsv.toString());
    assertEquals(2, eval.code(), eval.out());
    assertEquals("lora4j eval: " + expected, eval.err().strip());
  }

  /** Thousands of threads hung ONNX Runtime (it makes them all when a session opens) instead of failing. */
  @Test
  void threadsOutOfRangeNamesTheFlagAndItsRange() {
    for (String n : new String[] {"1025", "100000"}) {
      MainTest.Run r = MainTest.run("run", "--base", out.toString(), "--adapter", "sst2", "--device", "cpu",
          "--threads", n, "fun");
      assertEquals(2, r.code(), r.out());
      assertEquals("lora4j run: --threads must be between 0 (one per core) and 1024, not " + n, r.err().strip());
    }
  }

  /** Zero runs used to end, after minutes of export and timing, in an index error at the first median. */
  @Test
  void benchRefusesZeroRunsBeforeItStarts() {
    for (String mode : new String[] {"--runs", "--overhead"}) {
      MainTest.Run r = mode.equals("--runs") ? MainTest.run("bench", "--runs", "0")
          : MainTest.run("bench", "--overhead", "--runs", "0");
      assertEquals(2, r.code(), r.out());
      assertEquals("lora4j bench: --runs must be at least 1, not 0", r.err().strip());
      assertEquals("", r.out(), "nothing exported or timed");
    }
    MainTest.Run threads = MainTest.run("bench", "--overhead", "--threads", "5000");
    assertEquals(2, threads.code(), threads.out());
    assertEquals("lora4j bench: --threads must be between 0 (one per core) and 1024, not 5000", threads.err().strip());
    assertEquals("", threads.out(), "nothing exported or timed");
  }

  @Test
  void maxTokensOutOfRangeNamesTheFlagAndItsRange() {
    for (String n : new String[] {"1", "2", "100000"}) {
      MainTest.Run r = MainTest.run("run", "--base", out.toString(), "--adapter", "sst2", "--device", "cpu",
          "--max-tokens", n, "fun");
      assertEquals(2, r.code(), r.out());
      assertEquals("lora4j run: --max-tokens must be between 3 and 8192 (special tokens included), not " + n,
          r.err().strip());
    }
  }
}
