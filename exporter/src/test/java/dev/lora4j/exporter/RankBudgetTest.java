package dev.lora4j.exporter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.exporter.TestAdapters.Kind;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterDtype;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.export.AdapterFiles;
import dev.lora4j.models.export.ExportManifest;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link RankBudget}: the SVD re-factoring is exact at full rank, truncation keeps exactly the top
 * singular values (Eckart–Young), the allocation is global over modules, and the limits bound what
 * the export writes. Expected values come from plain loops over factors this test builds, never
 * from the code under test.
 */
class RankBudgetTest {
  private static final String Q0 = "encoder.layer.0.attention.self.query";
  private static final String V1 = "encoder.layer.1.attention.self.value";
  private static final String I0 = "encoder.layer.0.intermediate.dense";
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;
  BaseModelFiles files;
  EncoderDescription base;

  @BeforeEach
  void base() throws Exception {
    Path b = TinyBert.writeBaseModel(dir.resolve("base"), 5);
    Path model = b.resolve("model.onnx");
    files = new BaseModelFiles("tiny", model, b.resolve("tokenizer.json"), AtomicFiles.sha256(model));
    base = EncoderDescription.of(OnnxModel.read(model));
  }

  private Adapter random(Kind kind, long seed) {
    Map<String, Integer> ranks = new LinkedHashMap<>();
    ranks.put(Q0, 4);
    ranks.put(I0, 6);
    ranks.put(V1, 7);
    return TestAdapters.adapter(base, "sst2", ranks, kind,
        TestAdapters.classifier(TinyBert.HIDDEN, 2, TaskHead.Pooling.MEAN, seed), seed);
  }

  @Test
  void theSvdPathAtFullRankEqualsTheOriginalDelta() {
    for (Kind kind : Kind.values()) {
      Adapter a = random(kind, 11);
      Adapter full = new RankBudget(1000, null).apply(a).adapter();
      assertEquals(a.compact().ranks(), full.ranks(), kind + ": full rank keeps every live rank");
      for (LowRankModule m : a.modules().values()) {
        Matrix expected = Expected.delta(m); // s · B · T · diag(g) · A, plain loops
        double diff = product(full.modules().get(m.module())).maxAbsDifference(expected);
        // float32 factors of entries below ~1 and rank <= 7: a few float32 roundings, far below 1e-5
        assertTrue(diff < 1e-5, kind + " " + m.module() + ": B'A' differs from the original by " + diff);
        assertTrue(maxAbs(expected) > 1e-2, "the check must see a real update in " + m.module());
      }
    }
  }

  @Test
  void keepingKGivesExactlyTheTopKSingularValues() {
    double[] sigma = {5, 3, 2, 1, 0.5};
    Random rnd = new Random(7);
    Known known = Known.of(rnd, Q0, TinyBert.HIDDEN, TinyBert.HIDDEN, sigma);
    Adapter a = adapterOf(known.module());

    assertArrayEquals(sigma, ModuleSvd.of(known.module().compact()).singularValues(), 1e-5,
        "singular values of B·A from the QR + SVD path");
    for (int k = 1; k <= sigma.length; k++) {
      Adapter kept = new RankBudget(k, null).apply(a).adapter();
      LowRankModule m = kept.modules().get(Q0);
      assertEquals(k, m.rank());
      double diff = product(m).maxAbsDifference(known.truncated(k));
      // Eckart–Young: the best rank-k approximation is U_k S_k V_k^T (singular values distinct);
      // float32 factors of a delta with entries below ~1: 1e-5 leaves two orders of headroom
      assertTrue(diff < 1e-5, "k=" + k + ": kept product is not the top-" + k + " truncation (" + diff + ")");
    }
  }

  @Test
  void theAllocationKeepsTheLargestSingularValuesOverAllModules() {
    Random rnd = new Random(9);
    Known x = Known.of(rnd, Q0, TinyBert.HIDDEN, TinyBert.HIDDEN, new double[] {10, 4, 1});
    Known y = Known.of(rnd, I0, TinyBert.INTERMEDIATE, TinyBert.HIDDEN, new double[] {7, 3, 0.5});
    Known z = Known.of(rnd, V1, TinyBert.HIDDEN, TinyBert.HIDDEN, new double[] {0.2, 0.1});
    Adapter a = adapterOf(x.module(), y.module(), z.module());

    // global order 10 (x) 7 (y) 4 (x) 3 (y) 1 (x) 0.5 (y) 0.2 (z) 0.1 (z)
    Map<Integer, Map<String, Integer>> expected = new LinkedHashMap<>();
    expected.put(1, Map.of(Q0, 1));
    expected.put(2, Map.of(Q0, 1, I0, 1));
    expected.put(3, Map.of(Q0, 2, I0, 1));
    expected.put(4, Map.of(Q0, 2, I0, 2));
    expected.put(5, Map.of(Q0, 3, I0, 2));
    expected.put(7, Map.of(Q0, 3, I0, 3, V1, 1));
    expected.forEach((budget, ranks) -> {
      Adapter kept = new RankBudget(budget, null).apply(a).adapter();
      assertEquals(ranks, kept.ranks(), "rank budget " + budget);
    });
    Adapter four = new RankBudget(4, null).apply(a).adapter();
    assertFalse(four.modules().containsKey(V1), "a module keeping no rank is dropped");
    assertTrue(product(four.modules().get(Q0)).maxAbsDifference(x.truncated(2)) < 1e-5);
    assertTrue(product(four.modules().get(I0)).maxAbsDifference(y.truncated(2)) < 1e-5);
  }

  @Test
  void gatesAreFoldedBeforeTheSvdSoAStrongGateWins() {
    Random rnd = new Random(3);
    // the same factors in two modules; one module's gate is 10x the other's
    Matrix a = TestAdapters.random(rnd, 2, TinyBert.HIDDEN, 0.2);
    Matrix b = TestAdapters.random(rnd, TinyBert.HIDDEN, 2, 0.2);
    Adapter gated = adapterOf(new LowRankModule(Q0, a, b, 1.0, new float[] {0.1f, 0.1f}, null),
        new LowRankModule(V1, a, b, 1.0, new float[] {1f, 1f}, null));
    assertEquals(Map.of(V1, 2), new RankBudget(2, null).apply(gated).adapter().ranks());
  }

  @Test
  void rankBudgetBoundsTheTotalRankWritten() throws Exception {
    Path out = dir.resolve("export");
    ExportBundle.export(ExportRequest.of(files, List.of(random(Kind.GATED, 4)), EnumSet.of(ExportFormat.MULTI), out)
        .withBudget(RankBudget.of(5, null)), l -> { });
    Adapter written = AdapterFiles.read(out.resolve("sst2.onnx_adapter"));
    assertEquals(5, written.modules().values().stream().mapToInt(LowRankModule::rank).sum());
  }

  @Test
  void maxSizeBoundsTheWrittenOnnxAdapterAndKeepsAsMuchAsFits() throws Exception {
    Adapter a = random(Kind.LORA, 5);
    Path whole = dir.resolve("whole");
    ExportBundle.export(ExportRequest.of(files, List.of(a), EnumSet.of(ExportFormat.MULTI), whole), l -> { });
    long full = Files.size(whole.resolve("sst2.onnx_adapter"));
    for (double fraction : new double[] {0.3, 0.6, 0.9}) {
      long limit = (long) (full * fraction);
      Path out = dir.resolve("max-" + fraction);
      ExportResult r = ExportBundle.export(ExportRequest.of(files, List.of(a), EnumSet.of(ExportFormat.MULTI), out)
          .withBudget(RankBudget.of(null, limit / 1024.0)), l -> { });
      long size = Files.size(out.resolve("sst2.onnx_adapter"));
      assertTrue(size <= limit, "written " + size + " bytes for --max-size " + limit + " bytes");
      int kept = r.adapters().get(0).ranksAfter().values().stream().mapToInt(Integer::intValue).sum();
      // as much as fits: one more rank (the same global order, by rank budget) no longer fits
      Path more = dir.resolve("more-" + fraction);
      ExportBundle.export(ExportRequest.of(files, List.of(a), EnumSet.of(ExportFormat.MULTI), more)
          .withBudget(RankBudget.of(kept + 1, null)), l -> { });
      assertTrue(Files.size(more.resolve("sst2.onnx_adapter")) > limit,
          "rank " + (kept + 1) + " would still fit in " + limit + " bytes, but only " + kept + " were kept");
    }
  }

  @Test
  void bothLimitsHoldTogether() {
    Adapter a = random(Kind.LORA, 6);
    long full = RankBudget.onnxAdapterBytes(a.compact(), AdapterDtype.FP32);
    RankBudget.Result bySize = RankBudget.of(null, full * 0.5 / 1024).apply(a);
    int sizeRanks = bySize.applied().ranksKept();
    assertEquals(sizeRanks - 2, RankBudget.of(sizeRanks - 2, full * 0.5 / 1024).apply(a).applied().ranksKept(),
        "the rank budget is the tighter one");
    assertEquals(sizeRanks, RankBudget.of(sizeRanks + 3, full * 0.5 / 1024).apply(a).applied().ranksKept(),
        "the size limit is the tighter one");
  }

  @Test
  void budgetsBelowWhatTheHeadNeedsOrNotPositiveAreOneMessageNamingTheFlag() {
    Adapter a = random(Kind.LORA, 1);
    Lora4jException head = assertThrows(Lora4jException.class, () -> RankBudget.of(null, 0.01).apply(a));
    assertTrue(head.getMessage().startsWith("--max-size allows 10 bytes (0.009766 KiB), less than adapter 'sst2' needs without any rank"),
        head.getMessage());
    assertTrue(head.getMessage().contains("head alone"), head.getMessage());
    long headOnly = RankBudget.onnxAdapterBytes(new Adapter("sst2", a.base(), Map.of(), a.head(), a.provenance()), AdapterDtype.FP32);
    Lora4jException noRank = assertThrows(Lora4jException.class,
        () -> RankBudget.of(null, (headOnly + 8) / 1024.0).apply(a));
    assertTrue(noRank.getMessage().contains("--max-size") && noRank.getMessage().contains("no rank"),
        noRank.getMessage());
    for (int n : new int[] {0, -3}) {
      Lora4jException e = assertThrows(Lora4jException.class, () -> RankBudget.of(n, null));
      assertEquals("--rank-budget must be at least 1 (the total rank kept over all modules), not " + n, e.getMessage());
    }
    for (double kib : new double[] {0, -1, Double.NaN, Double.POSITIVE_INFINITY}) {
      Lora4jException e = assertThrows(Lora4jException.class, () -> RankBudget.of(null, kib));
      assertTrue(e.getMessage().startsWith("--max-size must be a positive number of KiB"), e.getMessage());
    }
  }

  @Test
  void aRefusedBudgetWritesNothing() {
    Path out = dir.resolve("export");
    Lora4jException e = assertThrows(Lora4jException.class, () -> ExportBundle.export(
        ExportRequest.of(files, List.of(random(Kind.LORA, 1)), EnumSet.of(ExportFormat.MULTI), out)
            .withBudget(RankBudget.of(null, 0.01)), l -> { }));
    assertTrue(e.getMessage().contains("--max-size"), e.getMessage());
    assertFalse(Files.exists(out));
  }

  @Test
  void exportJsonAndProvenanceRecordTheBudget() throws Exception {
    Path out = dir.resolve("export");
    ExportBundle.export(ExportRequest.of(files, List.of(random(Kind.GATED_WITH_T, 2), random(Kind.LORA, 3)
            .withName("plain")), EnumSet.of(ExportFormat.MULTI, ExportFormat.PEFT), out)
        .withBudget(RankBudget.of(6, 400.0)), l -> { });
    ExportManifest m = ExportManifest.read(out);
    for (ExportManifest.AdapterEntry e : m.adapters()) {
      Map<String, Object> budget = e.budget();
      assertNotNull(budget, e.name());
      assertEquals(6, budget.get("rank_budget"));
      assertEquals(400 * 1024, ((Number) budget.get("max_size_bytes")).intValue());
      assertEquals(6, budget.get("ranks_kept"));
      assertEquals((int) Files.size(out.resolve(e.onnxAdapter())), ((Number) budget.get("onnx_adapter_bytes")).intValue());
      Adapter peft = PeftAdapters.read(out.resolve(e.peft()));
      assertEquals(budget, peft.provenance().hyperParameters().get("export_budget"), "provenance of " + e.name());
    }
    Path plain = dir.resolve("plain");
    ExportBundle.export(ExportRequest.of(files, List.of(random(Kind.LORA, 3)), EnumSet.of(ExportFormat.MULTI), plain),
        l -> { });
    assertNull(ExportManifest.read(plain).adapters().get(0).budget(), "no budget, no record");
  }

  @Test
  void theBudgetedPeftOutputCarriesItsRankPatternAndReadsBack() throws Exception {
    Adapter a = random(Kind.GATED, 8);
    Path out = dir.resolve("export");
    ExportBundle.export(ExportRequest.of(files, List.of(a), EnumSet.of(ExportFormat.PEFT), out)
        .withBudget(RankBudget.of(7, null)), l -> { });
    Adapter budgeted = new RankBudget(7, null).apply(a).adapter();
    assertTrue(budgeted.ranks().values().stream().distinct().count() > 1, "the case needs unequal ranks: "
        + budgeted.ranks());
    Path peft = out.resolve("sst2.peft");
    JsonNode config = JSON.readTree(peft.resolve(PeftAdapters.CONFIG_FILE).toFile());
    List<String> targets = new ArrayList<>();
    config.get("target_modules").forEach(t -> targets.add(t.textValue()));
    assertEquals(List.copyOf(budgeted.modules().keySet()), targets);
    // PEFT's rule: a rank_pattern key matching the module (whole or a dotted tail) wins, else r
    for (Map.Entry<String, Integer> e : budgeted.ranks().entrySet()) {
      JsonNode pattern = config.get("rank_pattern").get(e.getKey());
      int rank = pattern == null ? config.get("r").intValue() : pattern.intValue();
      assertEquals(e.getValue(), rank, e.getKey());
    }
    Adapter back = PeftAdapters.read(peft);
    assertEquals(budgeted.ranks(), back.ranks());
    for (LowRankModule m : budgeted.modules().values()) {
      assertEquals(m.a(), back.modules().get(m.module()).a());
      assertEquals(m.b(), back.modules().get(m.module()).b());
      assertEquals(1.0, back.modules().get(m.module()).scaling());
    }
  }

  private Adapter adapterOf(LowRankModule... modules) {
    return new Adapter("sst2", new BaseModelRef("tiny", files.onnxSha256()), Adapter.byName(List.of(modules)),
        TestAdapters.classifier(TinyBert.HIDDEN, 2, TaskHead.Pooling.MEAN, 1), Provenance.of("lora"));
  }

  /** B·A of a compact pair, by plain loops in double. */
  private static Matrix product(LowRankModule m) {
    assertTrue(m.isCompact());
    int out = m.outFeatures();
    int in = m.inFeatures();
    float[] d = new float[out * in];
    for (int o = 0; o < out; o++) {
      for (int i = 0; i < in; i++) {
        double v = 0;
        for (int j = 0; j < m.rank(); j++) {
          v += (double) m.b().get(o, j) * m.a().get(j, i);
        }
        d[o * in + i] = (float) v;
      }
    }
    return new Matrix(out, in, d);
  }

  private static double maxAbs(Matrix m) {
    double x = 0;
    for (float v : m.data()) {
      x = Math.max(x, Math.abs(v));
    }
    return x;
  }

  /**
   * A module whose update is {@code U diag(sigma) V^T} with orthonormal U, V built here, stored as
   * factors that are not in SVD form: {@code B = 2 · U diag(sigma) Q}, {@code A = Q^T V^T}, scaling
   * 0.5, with Q a random rotation.
   */
  private record Known(LowRankModule module, double[][] u, double[] sigma, double[][] v) {
    static Known of(Random rnd, String name, int out, int in, double[] sigma) {
      int r = sigma.length;
      double[][] u = orthonormal(rnd, out, r);
      double[][] v = orthonormal(rnd, in, r);
      double[][] q = orthonormal(rnd, r, r);
      float[] b = new float[out * r];
      float[] a = new float[r * in];
      for (int o = 0; o < out; o++) {
        for (int j = 0; j < r; j++) {
          double x = 0;
          for (int k = 0; k < r; k++) {
            x += u[o][k] * sigma[k] * q[k][j];
          }
          b[o * r + j] = (float) (2 * x);
        }
      }
      for (int j = 0; j < r; j++) {
        for (int i = 0; i < in; i++) {
          double x = 0;
          for (int k = 0; k < r; k++) {
            x += q[k][j] * v[i][k];
          }
          a[j * in + i] = (float) x;
        }
      }
      return new Known(LowRankModule.lora(name, new Matrix(r, in, a), new Matrix(out, r, b), 0.5), u, sigma, v);
    }

    /** sum over the first k of sigma_j u_j v_j^T. */
    Matrix truncated(int k) {
      int out = u.length;
      int in = v.length;
      float[] d = new float[out * in];
      for (int o = 0; o < out; o++) {
        for (int i = 0; i < in; i++) {
          double x = 0;
          for (int j = 0; j < k; j++) {
            x += sigma[j] * u[o][j] * v[i][j];
          }
          d[o * in + i] = (float) x;
        }
      }
      return new Matrix(out, in, d);
    }

    /** k orthonormal columns of length n (Gram–Schmidt on Gaussian vectors), as rows [n][k]. */
    private static double[][] orthonormal(Random rnd, int n, int k) {
      double[][] cols = new double[k][n];
      for (int c = 0; c < k; c++) {
        for (int i = 0; i < n; i++) {
          cols[c][i] = rnd.nextGaussian();
        }
        for (int p = 0; p < c; p++) {
          double dot = 0;
          for (int i = 0; i < n; i++) {
            dot += cols[c][i] * cols[p][i];
          }
          for (int i = 0; i < n; i++) {
            cols[c][i] -= dot * cols[p][i];
          }
        }
        double norm = 0;
        for (int i = 0; i < n; i++) {
          norm += cols[c][i] * cols[c][i];
        }
        norm = Math.sqrt(norm);
        for (int i = 0; i < n; i++) {
          cols[c][i] /= norm;
        }
      }
      double[][] rows = new double[n][k];
      for (int i = 0; i < n; i++) {
        for (int c = 0; c < k; c++) {
          rows[i][c] = cols[c][i];
        }
      }
      return rows;
    }
  }
}
