package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code export --quantize int8} and {@code run --int8} from the command line. */
class Int8CommandLineTest {
  private static final Pattern LINE = Pattern.compile("(\\S+)\\s+p\\(neg\\)=([0-9.]+) p\\(pos\\)=([0-9.]+)  (.*)");

  @Test
  void exportQuantizeInt8AndRunInt8(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2", AtomicFiles.sha256(base.resolve("model.onnx")),
        new float[] {0.45f, -0.1f});
    Path out = dir.resolve("export");
    MainTest.Run export = MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", out.toString(), "--format", "merged,multi", "--quantize", "int8");
    assertEquals(0, export.code(), export.err());
    assertTrue(Files.isRegularFile(out.resolve("base.multi.int8.onnx")));
    assertTrue(Files.isRegularFile(out.resolve("sst2.merged.int8.onnx")));

    List<String> texts = List.of("a good movie", "boring", "the plot was dull", "i loved the characters");
    MainTest.Run r = MainTest.run(Stream.concat(Stream.of("run", "--base", out.toString(), "--adapter", "sst2",
        "--device", "cpu", "--int8"), texts.stream()).toArray(String[]::new));
    assertEquals(0, r.code(), r.err());
    float[][] f32 = MergedGraph.logits(out, "sst2", texts);
    List<String> lines = r.out().lines().toList();
    assertEquals(texts.size(), lines.size(), r.out());
    for (int i = 0; i < texts.size(); i++) {
      Matcher m = LINE.matcher(lines.get(i));
      assertTrue(m.matches(), lines.get(i));
      // int8 noise on the tiny random BERT moves probabilities by a few hundredths, not more
      assertEquals(RunCommandTest.softmax(f32[i])[1], Double.parseDouble(m.group(3)), 0.05, lines.get(i));
      assertEquals(texts.get(i), m.group(4));
    }
  }

  @Test
  void runInt8OnAnExportWithoutInt8GraphsIsRefused(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2", AtomicFiles.sha256(base.resolve("model.onnx")));
    Path out = dir.resolve("export");
    assertEquals(0, MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", out.toString(), "--format", "multi").code());
    MainTest.Run r = MainTest.run("run", "--base", out.toString(), "--adapter", "sst2", "--device", "cpu", "--int8",
        "a good movie");
    assertNotEquals(0, r.code());
    assertTrue(r.err().contains("no int8 base for base.multi.onnx") && r.err().contains("--quantize int8"), r.err());
  }

  @Test
  void quantizeOtherThanInt8IsRefusedBeforeAnythingIsWritten(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2", AtomicFiles.sha256(base.resolve("model.onnx")));
    MainTest.Run r = MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", dir.resolve("export").toString(), "--quantize", "int4");
    assertNotEquals(0, r.code());
    assertTrue(r.err().contains("--quantize int4 is not supported"), r.err());
    assertFalse(Files.exists(dir.resolve("export")));
  }
}
