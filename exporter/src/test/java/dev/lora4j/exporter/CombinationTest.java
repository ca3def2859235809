package dev.lora4j.exporter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.exporter.Combination.Method;
import dev.lora4j.exporter.Combination.Part;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.tensor.Matrix;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Combination's rules beyond PEFT parity: DARE's statistics, heads, gated inputs, and every refusal. */
class CombinationTest {
  static final String Q0 = "encoder.layer.0.attention.self.query";
  static final String V1 = "encoder.layer.1.attention.self.value";
  static final List<String> LABELS = List.of("neg", "pos");

  static Adapter lora(String name, long seed, int rank, double scaling, List<String> labels, String... modules) {
    Random rnd = new Random(seed);
    List<LowRankModule> ms = new java.util.ArrayList<>();
    for (String m : modules) {
      ms.add(LowRankModule.lora(m, TestAdapters.random(rnd, rank, 16, 0.3), TestAdapters.random(rnd, 12, rank, 0.3),
          scaling));
    }
    TaskHead head = labels == null ? TaskHead.embeddings(TaskHead.Pooling.MEAN)
        : TaskHead.classifier(TaskHead.Pooling.MEAN, TestAdapters.random(rnd, labels.size(), 16, 1),
            new float[] {(float) rnd.nextGaussian(), (float) rnd.nextGaussian()}, labels);
    return new Adapter(name, new BaseModelRef("tiny", "sha"), Adapter.byName(ms), head, Provenance.of("lora"));
  }

  static Combination of(Method method, Double density, Integer rank, double wa, double wb) {
    return new Combination("ab", List.of(new Part("a", wa), new Part("b", wb)), method, density, rank, 7);
  }

  static Lora4jException refused(Runnable r) {
    return assertThrows(Lora4jException.class, r::run);
  }

  // ---- DARE ----

  /**
   * Random pruning keeps each entry with probability d: over n = 200,000 entries the kept count is
   * Binomial(n, d), standard deviation sqrt(n d (1 - d)) ~ 205 for d = 0.3; 5 standard deviations
   * (~0.5 % of n) fail a correct pruner once in ~3.5 million seeds and catch keeping 1 - d, or d^2.
   * Survivors are the input divided by d exactly as float division rounds it.
   */
  @Test
  void dareKeepsTheDensityFractionAndRescalesSurvivorsByExactlyOneOverDensity() {
    double d = 0.3;
    int n = 200_000;
    float[] t = new float[n];
    Random rnd = new Random(1);
    for (int i = 0; i < n; i++) {
      t[i] = (float) rnd.nextGaussian() + 0.01f; // never exactly zero
    }
    float[] pruned = TaskArithmetic.randomPrune(t, d, new SplittableRandom(42));
    int kept = 0;
    for (int i = 0; i < n; i++) {
      if (pruned[i] != 0f) {
        kept++;
        assertEquals((float) (t[i] / d), pruned[i], 0f, "survivor " + i + " rescaled by 1/d");
      }
    }
    double sd = Math.sqrt(n * d * (1 - d));
    assertTrue(Math.abs(kept - n * d) < 5 * sd, "kept " + kept + " of " + n + " at density " + d);
    assertEquals(java.util.Arrays.toString(pruned),
        java.util.Arrays.toString(TaskArithmetic.randomPrune(t, d, new SplittableRandom(42))), "same seed, same mask");
  }

  /**
   * Through the whole combination: with b weighted 0, dare_linear's A is sqrt(w s) · prune(A_a) / d,
   * so every entry is either 0 or the scaled survivor, and the kept fraction over all A entries
   * (2 modules x 64 x 16 = 2,048) is within 5 standard deviations (~5.4 %) of the density.
   */
  @Test
  void dareLinearThroughTheCombinationKeepsAboutDensityAndIsSeeded() {
    double d = 0.5;
    Adapter a = lora("a", 1, 64, 2.0, LABELS, Q0, V1);
    Adapter b = lora("b", 2, 64, 2.0, LABELS, Q0, V1);
    Adapter c = of(Method.DARE_LINEAR, d, null, 0.8, 0).apply(List.of(a, b));
    double wa = Math.sqrt(0.8 * 2.0);
    int kept = 0;
    int n = 0;
    for (String m : List.of(Q0, V1)) {
      float[] in = a.modules().get(m).a().data();
      float[] out = c.modules().get(m).a().data();
      for (int i = 0; i < in.length; i++, n++) {
        if (out[i] != 0f) {
          kept++;
          assertEquals(wa * in[i] / d, out[i], 1e-6 * Math.abs(out[i]) + 1e-7, m + " A[" + i + "]");
        }
      }
    }
    assertTrue(Math.abs(kept - n * d) < 5 * Math.sqrt(n * d * (1 - d)), "kept " + kept + " of " + n);
    Adapter again = of(Method.DARE_LINEAR, d, null, 0.8, 0).apply(List.of(a, b));
    assertEquals(c.modules(), again.modules(), "the default seed reproduces the export");
    Adapter other = new Combination("ab", List.of(new Part("a", 0.8), new Part("b", 0)), Method.DARE_LINEAR, d, null,
        8).apply(List.of(a, b));
    assertNotEquals(c.modules(), other.modules(), "another seed draws another mask");
  }

  /**
   * At density 1 nothing is pruned (PEFT's prune returns the tensor), so dare_ties must equal ties
   * and dare_linear linear; with a negative weight ties differs from linear, so a dare method wired
   * to the other merge fails here.
   */
  @Test
  void dareMethodsAtDensityOneAreTheirUnprunedTwins() {
    List<Adapter> in = List.of(lora("a", 1, 4, 2, LABELS, Q0), lora("b", 2, 4, 1, LABELS, Q0));
    Matrix ties = of(Method.TIES, 1.0, null, 0.7, -0.5).apply(in).modules().get(Q0).delta();
    Matrix linear = of(Method.LINEAR, null, null, 0.7, -0.5).apply(in).modules().get(Q0).delta();
    assertTrue(ties.maxAbsDifference(linear) > 1e-2, "ties and linear differ here");
    assertEquals(ties, of(Method.DARE_TIES, 1.0, null, 0.7, -0.5).apply(in).modules().get(Q0).delta());
    assertEquals(linear, of(Method.DARE_LINEAR, 1.0, null, 0.7, -0.5).apply(in).modules().get(Q0).delta());
  }

  /** TIES keeps int(d · n) largest magnitudes; at equal magnitudes the lower index (documented). */
  @Test
  void magnitudePruningKeepsTheLargestAndBreaksTiesByIndex() {
    float[] t = {3f, -1f, 2f, -2f, 0.5f};
    assertEquals("[3.0, 0.0, 2.0, -2.0, 0.0]", java.util.Arrays.toString(TaskArithmetic.magnitudePrune(t, 0.6)));
    assertEquals("[3.0, 0.0, 2.0, 0.0, 0.0]", java.util.Arrays.toString(TaskArithmetic.magnitudePrune(t, 0.4)));
    assertEquals("[0.0, 0.0, 0.0, 0.0, 0.0]", java.util.Arrays.toString(TaskArithmetic.magnitudePrune(t, 0.1)));
    assertEquals(java.util.Arrays.toString(t), java.util.Arrays.toString(TaskArithmetic.magnitudePrune(t, 1)));
  }

  // ---- heads ----

  @Test
  void combiningAdaptersWithDifferentLabelSetsIsRefused() {
    Adapter a = lora("a", 1, 4, 1, LABELS, Q0);
    Adapter b = lora("b", 2, 4, 1, List.of("neg", "neutral"), Q0);
    Lora4jException e = refused(() -> of(Method.LINEAR, null, null, 0.5, 0.5).apply(List.of(a, b)));
    assertEquals("--combine: 'a' and 'b' have different label sets (neg, pos, neg, neutral); only adapters with the "
        + "same labels combine", e.getMessage());
    Adapter cls = new Adapter("b", a.base(), a.modules(), new TaskHead(TaskHead.Pooling.CLS, a.head().weight(),
        a.head().bias(), LABELS), a.provenance());
    assertEquals("--combine: 'a' and 'b' pool differently (mean, cls); only adapters with the same task head combine",
        refused(() -> of(Method.LINEAR, null, null, 0.5, 0.5).apply(List.of(a, cls))).getMessage());
    Adapter embed = lora("b", 2, 4, 1, null, Q0);
    assertTrue(refused(() -> of(Method.CAT, null, null, 0.5, 0.5).apply(List.of(a, embed))).getMessage()
        .contains("different label sets"));
  }

  /**
   * Equal label sets in another order: b's rows are matched by label, then head = w_a · head_a +
   * w_b · head_b for every method (here ties, which prunes only the low-rank factors).
   */
  @Test
  void equalLabelSetsCombineTheHeadsWithTheWeights() {
    Adapter a = lora("a", 1, 4, 1, LABELS, Q0);
    Adapter b = lora("b", 2, 4, 1, List.of("pos", "neg"), Q0);
    TaskHead h = of(Method.TIES, 0.5, null, 0.7, -0.2).apply(List.of(a, b)).head();
    assertEquals(LABELS, h.labels());
    for (int row = 0; row < 2; row++) {
      int rowB = 1 - row;
      assertEquals(0.7 * a.head().bias()[row] - 0.2 * b.head().bias()[rowB], h.bias()[row], 1e-6);
      for (int j = 0; j < 16; j++) {
        assertEquals(0.7 * a.head().weight().get(row, j) - 0.2 * b.head().weight().get(rowB, j),
            h.weight().get(row, j), 1e-6, "weight " + row + "," + j);
      }
    }
  }

  // ---- modules ----

  /**
   * cat is exact: delta = sum of w_i · delta_i. Gated (SoRA) and transformed (MTLoRA) inputs fold
   * gate and T into B first; a module only b has comes out as w_b · delta_b.
   */
  @Test
  void catOfGatedInputsIsTheExactWeightedSumOfTheirDeltas() {
    Random rnd = new Random(5);
    LowRankModule gated = new LowRankModule(Q0, TestAdapters.random(rnd, 4, 16, 0.3),
        TestAdapters.random(rnd, 12, 4, 0.3), 1.5, new float[] {0.9f, 0f, 1.3f, 0f}, null);
    LowRankModule withT = new LowRankModule(Q0, TestAdapters.random(rnd, 3, 16, 0.3),
        TestAdapters.random(rnd, 12, 3, 0.3), 0.5, new float[] {1f, 0.4f, 2f},
        Matrix.identity(3).add(TestAdapters.random(rnd, 3, 3, 0.2)));
    LowRankModule onlyB = LowRankModule.lora(V1, TestAdapters.random(rnd, 2, 16, 0.3),
        TestAdapters.random(rnd, 12, 2, 0.3), 3);
    Adapter a = new Adapter("a", new BaseModelRef("tiny", "sha"), Adapter.byName(List.of(gated)),
        TaskHead.embeddings(TaskHead.Pooling.CLS), Provenance.of("sora"));
    Adapter b = new Adapter("b", new BaseModelRef("tiny", "sha"), Adapter.byName(List.of(withT, onlyB)),
        TaskHead.embeddings(TaskHead.Pooling.CLS), Provenance.of("mtlora"));
    Adapter c = of(Method.CAT, null, null, 0.6, -1.1).apply(List.of(a, b));
    assertEquals(List.of(Q0, V1), List.copyOf(c.modules().keySet()));
    assertEquals(2 + 3, c.modules().get(Q0).rank(), "a's two live ranks and b's three");
    Matrix want = gated.delta().scale(0.6).add(withT.delta().scale(-1.1));
    assertTrue(want.maxAbsDifference(c.modules().get(Q0).delta()) < 1e-6);
    assertTrue(onlyB.delta().scale(-1.1).maxAbsDifference(c.modules().get(V1).delta()) < 1e-6);
    assertEquals("combine", c.provenance().method());
  }

  /**
   * svd at full rank is the exact weighted sum too (rank 12 = min(12, 16) keeps every singular
   * value); the stacked rank 4 + 10 exceeds the 12 outputs, the case where the QR factors are wide.
   */
  @Test
  void svdAtFullRankIsTheExactWeightedSum() {
    Adapter a = lora("a", 1, 4, 2, LABELS, Q0);
    Adapter b = lora("b", 2, 10, 0.5, LABELS, Q0);
    Adapter c = of(Method.SVD, null, 12, 0.3, 0.9).apply(List.of(a, b));
    Matrix want = a.modules().get(Q0).delta().scale(0.3).add(b.modules().get(Q0).delta().scale(0.9));
    assertTrue(want.maxAbsDifference(c.modules().get(Q0).delta()) < 1e-5);
  }

  @Test
  void linearRefusesUnequalRanksAsPeftDoes() {
    Adapter a = lora("a", 1, 4, 1, LABELS, Q0);
    Adapter b = lora("b", 2, 6, 1, LABELS, Q0);
    assertEquals("--combine-method linear merges A and B entry by entry and needs equal ranks, as PEFT does, but "
        + "module " + Q0 + " has rank 4 in 'a' and 6 in 'b'; use cat or svd",
        refused(() -> of(Method.LINEAR, null, null, 1, 1).apply(List.of(a, b))).getMessage());
  }

  // ---- validation: one message naming the flag ----

  @Test
  void refusesBadFlagsNamingTheFlag() {
    Adapter a = lora("a", 1, 4, 1, LABELS, Q0);
    Adapter b = lora("b", 2, 4, 1, LABELS, Q0);
    List<Adapter> in = List.of(a, b);
    assertEquals("--combine names adapter 'c', which is not among the --adapter inputs [a, b]",
        refused(() -> Combination.parse("ab=a:1,c:1", "linear", null, null, null).apply(in)).getMessage());
    assertEquals("--combine: the weight of 'b' is NaN, not a finite number",
        refused(() -> Combination.parse("ab=a:1,b:NaN", "linear", null, null, null)).getMessage());
    assertEquals("--combine: the weight of 'b' is Infinity, not a finite number",
        refused(() -> Combination.parse("ab=a:1,b:1e400", "linear", null, null, null)).getMessage());
    assertEquals("--combine weight of 'b' must be a number, not 'x'",
        refused(() -> Combination.parse("ab=a:1,b:x", "linear", null, null, null)).getMessage());
    for (String d : List.of("0", "-0.1", "1.5", "NaN")) {
      assertTrue(refused(() -> Combination.parse("ab=a:1,b:1", "ties", d, null, null)).getMessage()
          .startsWith("--density must be in (0, 1], not "), d);
    }
    assertTrue(refused(() -> Combination.parse("ab=a:1,b:1", "dare_ties", null, null, null)).getMessage()
        .startsWith("--density is required with --combine-method dare_ties"));
    assertTrue(refused(() -> Combination.parse("ab=a:1,b:1", "linear", "0.5", null, null)).getMessage()
        .startsWith("--density applies to"));
    assertTrue(refused(() -> Combination.parse("ab=a:1,b:1", "svd", null, null, null)).getMessage()
        .startsWith("--combine-rank is required with --combine-method svd"));
    assertEquals("--combine-rank must be at least 1, not 0",
        refused(() -> Combination.parse("ab=a:1,b:1", "svd", null, "0", null)).getMessage());
    assertEquals("--combine-rank must be a whole number, not 'four'",
        refused(() -> Combination.parse("ab=a:1,b:1", "svd", null, "four", null)).getMessage());
    assertEquals("--combine-rank 13 exceeds what module " + Q0 + " (12 x 16) can hold: at most 12",
        refused(() -> Combination.parse("ab=a:1,b:1", "svd", null, "13", null).apply(in)).getMessage());
    assertTrue(refused(() -> Combination.parse("ab=a:1,b:1", "cat", null, "3", null)).getMessage()
        .startsWith("--combine-rank applies to --combine-method svd only"));
    assertTrue(refused(() -> Combination.parse("ab=a:1,b:1", "linear", null, null, "3")).getMessage()
        .startsWith("--seed applies to dare_linear and dare_ties"));
    assertTrue(refused(() -> Combination.parse("ab=a:1,b:1", "average", null, null, null)).getMessage()
        .startsWith("--combine-method must be one of linear, cat, svd, ties, dare_linear, dare_ties"));
    assertTrue(refused(() -> Combination.parse("ab=a:1,b:1", null, null, null, null)).getMessage()
        .startsWith("--combine needs --combine-method"));
    assertEquals("--combine: the new adapter's name 'a' is already an input adapter's name; choose another",
        refused(() -> Combination.parse("a=a:1,b:1", "linear", null, null, null).apply(in)).getMessage());
    assertEquals("--combine names adapter 'a' twice",
        refused(() -> Combination.parse("ab=a:1,a:1", "linear", null, null, null)).getMessage());
    for (String bad : List.of("ab", "=a:1", "ab=", "ab=a", "ab=a:1,", "ab=:1")) {
      assertTrue(refused(() -> Combination.parse(bad, "linear", null, null, null)).getMessage().startsWith("--combine"),
          bad);
    }
    Adapter other = new Adapter("b", new BaseModelRef("other", "sha2"), b.modules(), b.head(), b.provenance());
    assertEquals("--combine: 'a' and 'b' were trained on different base models (tiny, other)",
        refused(() -> Combination.parse("ab=a:1,b:1", "linear", null, null, null).apply(List.of(a, other)))
            .getMessage());
  }
}
