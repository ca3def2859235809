package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.export.AdapterFiles;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code lora4j export --combine}: a combined adapter exported end to end, and its flags' refusals. */
class ExportCombineTest {
  static final String Q0 = "encoder.layer.0.attention.self.query";
  static final String I1 = "encoder.layer.1.intermediate.dense";
  static final String V1 = "encoder.layer.1.attention.self.value";
  static final List<String> TEXTS = List.of("a good movie", "boring", "the plot was dull", "i loved the characters");

  static Path write(Path dir, String name, String sha, List<LowRankModule> modules, TaskHead head) {
    Adapter a = new Adapter(name, new BaseModelRef("tiny", sha), Adapter.byName(modules), head, Provenance.of("lora"));
    Path file = dir.resolve(name + ExportLayout.onnxAdapter(""));
    AdapterFiles.writeOnnxAdapter(file, a, "tiny", sha);
    return file;
  }

  static Matrix random(Random r, int rows, int cols) {
    return ExportCommandTest.random(r, rows, cols).scale(3); // large enough to move the logits
  }

  /**
   * a (query 0, intermediate 1) and b (query 0, value 1, labels in the other order) combined
   * linearly with weights 0.6 and -0.4. The reference "ref" is built here by PEFT's formulas in plain
   * Java: on a shared module B = sqrt(0.6) B_a + sqrt(0.4) B_b and A = sqrt(0.6) A_a - sqrt(0.4) A_b
   * (the sign on A only), a module one input has alone is w · B · A, the head w_a · head_a + w_b ·
   * head_b with b's rows matched by label. Both go through the same export; their merged graphs in
   * ONNX Runtime must agree to float rounding (1e-4 on logits of size ~1, through 2 layers).
   */
  @Test
  void exportsALinearCombinationWhoseMergedGraphMatchesTheJavaReference(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    String sha = AtomicFiles.sha256(base.resolve("model.onnx"));
    Random r = new Random(11);
    Matrix qa = random(r, 3, 32);
    Matrix qb = random(r, 32, 3);
    Matrix ia = random(r, 4, 32);
    Matrix ib = random(r, 64, 4);
    Matrix ha = random(r, 2, 32);
    Matrix qa2 = random(r, 3, 32);
    Matrix qb2 = random(r, 32, 3);
    Matrix va = random(r, 2, 32);
    Matrix vb = random(r, 32, 2);
    Matrix hb = random(r, 2, 32); // rows: pos, neg
    Path in = dir.resolve("in");
    Path a = write(in, "a", sha, List.of(LowRankModule.lora(Q0, qa, qb, 1), LowRankModule.lora(I1, ia, ib, 1)),
        TaskHead.classifier(TaskHead.Pooling.MEAN, ha, new float[] {0.3f, -0.2f}, List.of("neg", "pos")));
    Path b = write(in, "b", sha, List.of(LowRankModule.lora(Q0, qa2, qb2, 1), LowRankModule.lora(V1, va, vb, 1)),
        TaskHead.classifier(TaskHead.Pooling.MEAN, hb, new float[] {0.5f, 0.1f}, List.of("pos", "neg")));

    double sa = Math.sqrt(0.6);
    double sb = Math.sqrt(0.4);
    float[] refHead = new float[64];
    for (int j = 0; j < 32; j++) {
      refHead[j] = (float) (0.6 * ha.get(0, j) - 0.4 * hb.get(1, j)); // neg
      refHead[32 + j] = (float) (0.6 * ha.get(1, j) - 0.4 * hb.get(0, j)); // pos
    }
    Path ref = write(in, "ref", sha, List.of(
        LowRankModule.lora(Q0, qa.scale(sa).add(qa2.scale(-sb)), qb.scale(sa).add(qb2.scale(sb)), 1),
        LowRankModule.lora(V1, va, vb, -0.4),
        LowRankModule.lora(I1, ia, ib, 0.6)),
        TaskHead.classifier(TaskHead.Pooling.MEAN, new Matrix(2, 32, refHead),
            new float[] {(float) (0.6 * 0.3 - 0.4 * 0.1), (float) (0.6 * -0.2 - 0.4 * 0.5)}, List.of("neg", "pos")));

    Path out = dir.resolve("export");
    MainTest.Run run = MainTest.run("export", "--base", base.toString(), "--adapter", a.toString(), "--adapter",
        b.toString(), "--adapter", ref.toString(), "--out", out.toString(), "--format", "all",
        "--combine", "ab=a:0.6,b:-0.4", "--combine-method", "linear");
    assertEquals(0, run.code(), run.err());
    assertTrue(run.out().contains("adapter ab             linear combination ab=a:0.6,b:-0.4"), run.out());
    for (String f : List.of("ab.merged.onnx", "ab.factored.onnx", "ab.onnx_adapter", "ab.peft/adapter_config.json",
        "ab.ranks.png")) {
      assertTrue(Files.exists(out.resolve(f)), f);
    }

    float[][] got = MergedGraph.logits(out, "ab", TEXTS);
    float[][] want = MergedGraph.logits(out, "ref", TEXTS);
    float[][] plainA = MergedGraph.logits(out, "a", TEXTS);
    for (int i = 0; i < TEXTS.size(); i++) {
      assertTrue(MergedGraph.maxAbsDiff(want[i], got[i]) < 1e-4, TEXTS.get(i) + ": " + MergedGraph.maxAbsDiff(want[i],
          got[i]));
      assertTrue(MergedGraph.maxAbsDiff(plainA[i], got[i]) > 1e-2, "the combination is not adapter a");
    }
    Adapter exported = AdapterFiles.read(out.resolve("ab.onnx_adapter"));
    assertEquals(3, exported.modules().get(Q0).rank());
    assertEquals("combine", exported.provenance().method());
  }

  @Test
  void combineFlagsWithoutCombineAreRefusedAndWriteNothing(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path a = ExportCommandTest.writeAdapter(dir.resolve("in"), "a", AtomicFiles.sha256(base.resolve("model.onnx")));
    Path out = dir.resolve("export");
    MainTest.Run r = MainTest.run("export", "--base", base.toString(), "--adapter", a.toString(), "--out",
        out.toString(), "--density", "0.5");
    assertEquals(2, r.code());
    assertEquals("lora4j export: --density applies to --combine, which was not given", r.err().strip());
    r = MainTest.run("export", "--base", base.toString(), "--adapter", a.toString(), "--out", out.toString(),
        "--combine", "x=a:1,z:1", "--combine-method", "cat");
    assertEquals(2, r.code());
    assertEquals("lora4j export: --combine names adapter 'z', which is not among the --adapter inputs [a]",
        r.err().strip());
    assertFalse(Files.exists(out));
  }
}
