package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.export.AdapterFiles;
import dev.lora4j.models.export.ExportManifest;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.models.testing.ReferenceEncoder;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.models.text.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code export --rank-budget / --max-size} end to end on TinyBert, checked in ONNX Runtime. */
class ExportBudgetCommandTest {
  private static final List<String> TEXTS = List.of("a good movie", "the plot was bad", "fine");

  @Test
  void aBudgetedExportsMergedGraphComputesTheBudgetedAdaptersDelta(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    // ranks 3 + 5 as given
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2", AtomicFiles.sha256(base.resolve("model.onnx")));
    Path out = dir.resolve("export");
    MainTest.Run r = MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", out.toString(), "--format", "all", "--rank-budget", "4");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().lines().anyMatch(l -> l.startsWith("budget sst2 ") && l.contains("8 -> 4 ranks")), r.out());
    assertTrue(r.out().contains("as trained -> after pruning and budget"), r.out());

    Adapter budgeted = AdapterFiles.read(out.resolve("sst2.onnx_adapter"));
    assertEquals(4, budgeted.modules().values().stream().mapToInt(LowRankModule::rank).sum());
    assertEquals(budgeted.ranks(), PeftAdapters.read(out.resolve("sst2.peft")).ranks(), "PEFT holds the same ranks");
    Map<String, Object> record = ExportManifest.read(out).adapters().get(0).budget();
    assertEquals(4, record.get("rank_budget"));
    assertEquals(4, record.get("ranks_kept"));
    byte[] png = Files.readAllBytes(out.resolve("sst2.ranks.png"));
    assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));

    EncoderDescription description = EncoderDescription.of(OnnxModel.read(base.resolve("model.onnx")));
    Adapter original = AdapterFiles.read(adapter);
    float[][] merged = MergedGraph.logits(out, "sst2", TEXTS);
    double worst = 0;
    double budgetEffect = 0;
    try (Tokenizer tok = Tokenizer.open(out.resolve("tokenizer.json"))) {
      for (int i = 0; i < TEXTS.size(); i++) {
        long[] ids = tok.encode(List.of(TEXTS.get(i))).rowIds(0);
        double[] expected = logits(description, budgeted, ids);
        double[] unbudgeted = logits(description, original, ids);
        for (int k = 0; k < expected.length; k++) {
          worst = Math.max(worst, Math.abs(merged[i][k] - expected[k]));
          budgetEffect = Math.max(budgetEffect, Math.abs(unbudgeted[k] - expected[k]));
        }
      }
    }
    System.out.print(r.out());
    System.out.printf("budgeted merged graph vs plain-Java delta: worst |logit difference| %.2e; the budget moves"
        + " logits by %.2e%n", worst, budgetEffect);
    // ONNX Runtime in float32 against a double reference over two layers of hidden 32: ~1e-6 apart
    assertTrue(worst < 1e-4, "merged graph vs the budgeted adapter's delta: " + worst);
    assertTrue(budgetEffect > 1e-3, "the budget moves the logits by " + budgetEffect + " only: the check would not"
        + " tell the budgeted adapter from the original");
  }

  @Test
  void maxSizeBoundsTheOnnxAdapterFile(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2", AtomicFiles.sha256(base.resolve("model.onnx")));
    long given = Files.size(adapter);
    Path out = dir.resolve("export");
    String kib = String.valueOf(given * 0.6 / 1024);
    MainTest.Run r = MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", out.toString(), "--format", "multi", "--max-size", kib);
    assertEquals(0, r.code(), r.err());
    long written = Files.size(out.resolve("sst2.onnx_adapter"));
    assertTrue(written <= (long) Math.floor(given * 0.6), written + " bytes for --max-size " + kib + " KiB");
    assertTrue(written < given, "the file shrank");
  }

  @Test
  void badBudgetsAreOneLineNamingTheFlagAndWriteNothing(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2", AtomicFiles.sha256(base.resolve("model.onnx")));
    Path out = dir.resolve("export");
    Map<List<String>, String> cases = new LinkedHashMap<>();
    cases.put(List.of("--rank-budget", "0"), "lora4j export: --rank-budget must be at least 1");
    cases.put(List.of("--rank-budget", "-2"), "lora4j export: --rank-budget must be at least 1");
    cases.put(List.of("--rank-budget", "99999999999"), "lora4j export: --rank-budget needs a whole number");
    cases.put(List.of("--max-size", "0"), "lora4j export: --max-size must be a positive number of KiB");
    cases.put(List.of("--max-size", "lots"), "lora4j export: --max-size needs a number");
    cases.put(List.of("--max-size", ""), "lora4j export: --max-size needs a number");
    cases.put(List.of("--max-size", "1e309"), "lora4j export: --max-size must be a positive number of KiB, not Infinity");
    cases.put(List.of("--max-size", "NaN"), "lora4j export: --max-size must be a positive number of KiB, not NaN");
    cases.put(List.of("--max-size", "0.05"), "lora4j export: --max-size allows 51 bytes (0.0498 KiB), less than "
        + "adapter 'sst2' needs without any rank");
    cases.put(List.of("--max-size", "0.05", "--rank-budget", "3"), "lora4j export: --max-size allows 51 bytes");
    cases.forEach((flags, message) -> {
      List<String> all = new java.util.ArrayList<>(List.of("export", "--base", base.toString(), "--adapter",
          adapter.toString(), "--out", out.toString()));
      all.addAll(flags);
      MainTest.Run r = MainTest.run(all.toArray(String[]::new));
      assertEquals(2, r.code(), flags + ": " + r.err());
      assertEquals(1, r.err().lines().count(), r.err());
      assertTrue(r.err().startsWith(message), flags + ": " + r.err());
      assertFalse(Files.exists(out));
    });
  }

  /** Mean pooling and the head over the reference encoder, with each module's B·A by plain loops. */
  private static double[] logits(EncoderDescription base, Adapter adapter, long[] ids) {
    Map<String, Matrix> deltas = new LinkedHashMap<>();
    for (LowRankModule m : adapter.modules().values()) {
      int out = m.outFeatures();
      int in = m.inFeatures();
      float[] d = new float[out * in];
      for (int o = 0; o < out; o++) {
        for (int i = 0; i < in; i++) {
          double v = 0;
          for (int j = 0; j < m.rank(); j++) {
            v += (double) m.b().get(o, j) * m.a().get(j, i);
          }
          d[o * in + i] = (float) (v * m.scaling());
        }
      }
      deltas.put(m.module(), new Matrix(out, in, d));
    }
    double[] pooled = ReferenceEncoder.meanPool(new ReferenceEncoder(base, deltas).forward(ids));
    TaskHead head = adapter.head();
    Matrix w = head.weight();
    double[] z = new double[w.rows()];
    for (int k = 0; k < z.length; k++) {
      z[k] = head.bias()[k];
      for (int j = 0; j < pooled.length; j++) {
        z[k] += (double) w.get(k, j) * pooled[j];
      }
    }
    return z;
  }
}
