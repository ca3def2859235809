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
    assertTrue(export.out().contains("int8 without --calibration"), "the hint for an uncalibrated int8 base");
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

  /**
   * --calibration: the int8 multi graph of a calibrated export records it and smooths the quantized
   * products (a Mul before each); the run still answers as the float32 graph does, within int8 noise.
   * Refused without --quantize int8, and for a missing file, before anything is written.
   */
  @Test
  void exportCalibratedInt8(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2", AtomicFiles.sha256(base.resolve("model.onnx")),
        new float[] {0.45f, -0.1f});
    Path texts = Files.writeString(dir.resolve("calibration.tsv"),
        "sentence\tlabel\nthe film was great .\t1\na boring , tedious mess\t0\ni loved the acting\t1\n");
    Path out = dir.resolve("export");
    MainTest.Run export = MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", out.toString(), "--format", "multi", "--quantize", "int8", "--calibration", texts.toString());
    assertEquals(0, export.code(), export.err());
    assertTrue(export.out().contains("int8 calibration") && export.out().contains("3 texts"), export.out());
    assertFalse(export.out().contains("int8 without --calibration"), export.out());
    dev.lora4j.models.onnx.OnnxModel q = dev.lora4j.models.onnx.OnnxModel.read(out.resolve("base.multi.int8.onnx"));
    assertTrue(q.proto().getMetadataPropsList().stream().anyMatch(p -> p.getKey().equals("lora4j.int8_smoothing")
        && p.getValue().contains("3 texts")), q.proto().getMetadataPropsList().toString());
    long smoothing = q.nodes().stream().filter(n -> n.getOpType().equals("Mul") && n.getName().endsWith("/Smooth")).count();
    assertEquals(3 * TinyBert.LAYERS, smoothing, "q/k/v, intermediate and output per layer");

    List<String> sentences = List.of("a good movie", "boring", "the plot was dull");
    MainTest.Run r = MainTest.run(Stream.concat(Stream.of("run", "--base", out.toString(), "--adapter", "sst2",
        "--device", "cpu", "--int8"), sentences.stream()).toArray(String[]::new));
    assertEquals(0, r.code(), r.err());
    MainTest.Run f = MainTest.run(Stream.concat(Stream.of("run", "--base", out.toString(), "--adapter", "sst2",
        "--device", "cpu"), sentences.stream()).toArray(String[]::new));
    List<String> a = r.out().lines().toList();
    List<String> b = f.out().lines().toList();
    for (int i = 0; i < sentences.size(); i++) {
      Matcher mi = LINE.matcher(a.get(i));
      Matcher mf = LINE.matcher(b.get(i));
      assertTrue(mi.matches() && mf.matches(), a.get(i) + " / " + b.get(i));
      // as the uncalibrated int8 run above: a few hundredths on the tiny random BERT
      assertEquals(Double.parseDouble(mf.group(3)), Double.parseDouble(mi.group(3)), 0.05, a.get(i));
    }

    MainTest.Run noInt8 = MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", dir.resolve("export2").toString(), "--calibration", texts.toString());
    assertNotEquals(0, noInt8.code());
    assertTrue(noInt8.err().contains("--calibration") && noInt8.err().contains("--quantize int8"), noInt8.err());
    MainTest.Run missing = MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", dir.resolve("export3").toString(), "--quantize", "int8", "--calibration", dir.resolve("nope.tsv").toString());
    assertNotEquals(0, missing.code());
    assertTrue(missing.err().contains("nope.tsv"), missing.err());
    assertFalse(Files.exists(dir.resolve("export2")) || Files.exists(dir.resolve("export3")));
  }
}
