package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunCommandTest {
  @Test
  void classifiesArgumentsAndScoresATsvFile(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2", AtomicFiles.sha256(base.resolve("model.onnx")));
    Path out = dir.resolve("export");
    assertEquals(0, MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", out.toString(), "--format", "merged,multi").code());

    MainTest.Run r = MainTest.run("run", "--base", out.toString(), "--adapter", "sst2", "--device", "cpu",
        "a good movie", "boring");
    assertEquals(0, r.code(), r.err());
    assertEquals(2, r.out().lines().count(), r.out());
    assertTrue(r.out().lines().allMatch(l -> l.matches("(neg|pos) +p\\(neg\\)=0\\.\\d{3} p\\(pos\\)=0\\.\\d{3}  .*")),
        r.out());

    Path tsv = dir.resolve("dev.tsv");
    Files.writeString(tsv, "sentence\tlabel\na good movie\tpos\nboring\tneg\nthe plot\tpos\n");
    MainTest.Run eval = MainTest.run("run", "--base", out.toString(), "--adapter",
        out.resolve("sst2.onnx_adapter").toString(), "--device", "cpu", "--input", tsv.toString());
    assertEquals(0, eval.code(), eval.err());
    assertTrue(eval.out().matches("(?s)accuracy \\d+\\.\\d{2}% \\(\\d of 3\\) on .*dev\\.tsv with adapter sst2\\s*"),
        eval.out());

    Files.writeString(tsv, "sentence\tlabel\nonly one column\n");
    MainTest.Run bad = MainTest.run("run", "--base", out.toString(), "--adapter", "sst2", "--input", tsv.toString());
    assertEquals(2, bad.code());
    assertEquals("lora4j run: " + tsv + ":2: expected 2 tab-separated columns (sentence, label), found 1",
        bad.err().strip());
  }

  @Test
  void refusesAnUnknownAdapterClearly(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2", AtomicFiles.sha256(base.resolve("model.onnx")));
    Path out = dir.resolve("export");
    MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(), "--out", out.toString(),
        "--format", "multi");
    MainTest.Run r = MainTest.run("run", "--base", out.toString(), "--adapter", "imdb", "--device", "cpu", "fun");
    assertEquals(2, r.code());
    assertEquals("lora4j run: " + out.resolve("imdb.onnx_adapter").toAbsolutePath() + ": no such adapter file",
        r.err().strip());
  }
}
