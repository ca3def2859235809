package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.export.AdapterFiles;
import dev.lora4j.models.export.ExportManifest;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExportCommandTest {
  static Matrix random(Random r, int rows, int cols) {
    float[] v = new float[rows * cols];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) r.nextGaussian() * 0.1f;
    }
    return new Matrix(rows, cols, v);
  }

  /** An adapter as an .onnx_adapter + sidecar pair, the way an export directory holds it. */
  static Path writeAdapter(Path dir, String name, String baseSha) {
    return writeAdapter(dir, name, baseSha, new float[] {0.1f, -0.1f});
  }

  /** The same adapter with another head bias (neg, pos). */
  static Path writeAdapter(Path dir, String name, String baseSha, float[] bias) {
    Random r = new Random(3);
    List<LowRankModule> modules = List.of(
        LowRankModule.lora("encoder.layer.0.attention.self.query", random(r, 3, 32), random(r, 32, 3), 1),
        LowRankModule.lora("encoder.layer.1.intermediate.dense", random(r, 5, 32), random(r, 64, 5), 1));
    Adapter a = new Adapter(name, new BaseModelRef("tiny", baseSha), Adapter.byName(modules),
        TaskHead.classifier(TaskHead.Pooling.MEAN, random(r, 2, 32), bias, List.of("neg", "pos")),
        Provenance.of("lora"));
    Path file = dir.resolve(name + ".onnx_adapter");
    AdapterFiles.writeOnnxAdapter(file, a, "tiny", baseSha);
    return file;
  }

  @Test
  void exportsEveryFormatWithASummaryAndARankPlot(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = writeAdapter(dir.resolve("in"), "sst2", AtomicFiles.sha256(base.resolve("model.onnx")));
    Path out = dir.resolve("export");
    MainTest.Run r = MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", out.toString(), "--format", "all", "--name", "movies");
    assertEquals(0, r.code(), r.err());
    for (String stage : List.of("base", "compact movies", "merged movies", "factored movies", "adapter movies",
        "multi", "mixed", "manifest")) {
      assertTrue(r.out().lines().anyMatch(l -> l.startsWith(stage + " ")), "progress line for " + stage + ":\n" + r.out());
    }
    assertTrue(r.out().lines().anyMatch(l -> l.matches("  0 +3 -> 3 +- +- +- +- +-")), r.out());
    assertTrue(r.out().lines().anyMatch(l -> l.matches("  1 +- +- +- +- +5 -> 5 +-")), r.out());
    assertTrue(r.out().contains("parameters 738 -> 738 (100% kept)"), r.out());
    assertTrue(r.out().contains("movies.merged.onnx"), r.out());
    ExportManifest m = ExportManifest.read(out);
    assertEquals("movies", m.adapters().get(0).name());
    byte[] png = Files.readAllBytes(out.resolve("movies.ranks.png"));
    assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
  }

  @Test
  void adapterDtypeFp16WritesAHalfFileAndInspectShowsIt(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = writeAdapter(dir.resolve("in"), "sst2", AtomicFiles.sha256(base.resolve("model.onnx")));
    Path out = dir.resolve("export");
    MainTest.Run r = MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", out.toString(), "--format", "multi", "--adapter-dtype", "fp16");
    assertEquals(0, r.code(), r.err());
    assertEquals("fp16", ExportManifest.read(out).adapters().get(0).adapterDtype());
    MainTest.Run shown = MainTest.run("inspect", out.resolve("sst2.onnx_adapter").toString());
    assertEquals(0, shown.code(), shown.err());
    assertTrue(shown.out().contains("Factor dtype fp16 (head float32)"), shown.out());
    assertTrue(shown.out().lines().anyMatch(l -> l.matches("  encoder.layer.0.attention.self.query +3")), shown.out());
  }

  @Test
  void anUnknownAdapterDtypeIsOneLineAndWritesNothing(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = writeAdapter(dir.resolve("in"), "sst2", AtomicFiles.sha256(base.resolve("model.onnx")));
    Path out = dir.resolve("export");
    MainTest.Run r = MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", out.toString(), "--adapter-dtype", "bf16");
    assertEquals(2, r.code());
    assertEquals("lora4j export: --adapter-dtype: 'bf16' is not an adapter dtype (expected fp32, fp16, int8)",
        r.err().strip());
    assertFalse(Files.exists(out));
  }

  /** A gated adapter in PEFT layout, as the trainer saves one. */
  static Path writePeft(Path dir, String baseSha) {
    Random r = new Random(4);
    List<LowRankModule> modules = List.of(
        new LowRankModule("encoder.layer.0.attention.self.query", random(r, 4, 32), random(r, 32, 4), 2.0,
            new float[] {0.5f, 0f, 1.2f, 0f}, null),
        new LowRankModule("encoder.layer.1.attention.self.value", random(r, 4, 32), random(r, 32, 4), 2.0,
            new float[] {0f, 0f, 0f, 0f}, null));
    Adapter a = new Adapter("sst2-sora", new BaseModelRef("tiny", baseSha), Adapter.byName(modules),
        TaskHead.classifier(TaskHead.Pooling.CLS, random(r, 2, 32), new float[] {0.1f, -0.1f}, List.of("neg", "pos")),
        Provenance.of("sora"));
    PeftAdapters.write(a, dir);
    return dir;
  }

  @Test
  void exportsAPeftDirectoryAndShowsWhatPruningRemoved(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = writePeft(dir.resolve("adapters").resolve("sst2-sora"), AtomicFiles.sha256(base.resolve("model.onnx")));
    Path out = dir.resolve("export");
    MainTest.Run r = MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", out.toString(), "--format", "merged,multi");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().lines().anyMatch(l -> l.matches("  0 +4 -> 2 +- +- +- +- +-")), r.out());
    assertTrue(r.out().lines().anyMatch(l -> l.matches("  1 +- +- +4 -> 0 +- +- +-")), r.out());
    // 2 modules x 4 ranks x 64 + 8 gates + head 66 before; 2 ranks x 64 + head after
    assertTrue(r.out().contains("parameters 586 -> 194 (33% kept)"), r.out());
    assertTrue(Files.exists(out.resolve("sst2-sora.merged.onnx")));
    assertTrue(Files.exists(out.resolve("sst2-sora.onnx_adapter")));
  }

  @Test
  void aCorruptSafetensorsFileIsOneLineAndWritesNothing(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = writePeft(dir.resolve("sst2-sora"), AtomicFiles.sha256(base.resolve("model.onnx")));
    Path weights = adapter.resolve(PeftAdapters.WEIGHTS_FILE);
    byte[] bytes = Files.readAllBytes(weights);
    Files.write(weights, Arrays.copyOf(bytes, bytes.length - 100));
    Path out = dir.resolve("export");
    MainTest.Run r = MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", out.toString());
    assertEquals(2, r.code(), r.err());
    assertEquals(1, r.err().lines().count(), r.err());
    assertTrue(r.err().startsWith("lora4j export: " + weights + ": tensor '"), r.err());
    assertTrue(r.err().contains("past the end of the"), r.err());
    assertFalse(Files.exists(out));
  }

  @Test
  void anAdapterForAnotherBaseIsOneLineAndWritesNothing(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = writeAdapter(dir.resolve("in"), "sst2", "0".repeat(64));
    Path out = dir.resolve("export");
    MainTest.Run r = MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", out.toString());
    assertEquals(2, r.code());
    assertEquals(1, r.err().lines().count(), r.err());
    assertTrue(r.err().startsWith("lora4j export: adapter 'sst2' was trained on base model tiny (ONNX sha256 000000000000…)"),
        r.err());
    assertFalse(Files.exists(out));
  }
}
