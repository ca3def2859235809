package dev.lora4j.exporter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.safetensors.SafeTensor;
import dev.lora4j.models.adapter.safetensors.Safetensors;
import dev.lora4j.models.tensor.Matrix;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * lora4j's combinations against PEFT 0.21's own {@code add_weighted_adapter} on two adapters PEFT
 * saved ({@code models/src/test/resources/peft/combine}, made by make_fixtures.py --combine-only):
 * a (query, value; r 4, alpha 8) and b (query, value, key; r 4, alpha 4), so the scalings differ
 * and key exists in b only. The expected files hold PEFT's get_delta_weight of the combined adapter.
 */
class CombinationPeftParityTest {
  /**
   * Both sides sum a few float products (rank 4, 8 or the weighted pair) in different orders and
   * PEFT rounds each float32 step; |delta| stays below 0.73 here. Measured worst differences:
   * linear 9e-8, cat 6e-8, ties 3e-8, svd 2.1e-7; a wrong sign, scaling or pruning is off by >1e-2.
   */
  static final double TOLERANCE = 1e-5;

  @TempDir static Path dir;
  private final JsonNode fixture;
  private final List<Adapter> inputs;

  @BeforeAll
  static void fixtureFiles() throws Exception {
    copyFixture(dir);
  }

  CombinationPeftParityTest() throws Exception {
    fixture = new ObjectMapper().readTree(dir().resolve("combinations.json").toFile()).path("combinations");
    inputs = List.of(PeftAdapters.read(dir().resolve("a")).withName("a"),
        PeftAdapters.read(dir().resolve("b")).withName("b"));
  }

  @Test
  void linearMatchesPeft() {
    assertMatches("linear", null, null);
  }

  @Test
  void catMatchesPeft() {
    Adapter c = assertMatches("cat", null, null);
    assertEquals(8, c.modules().get("encoder.layer.0.attention.self.query").rank(), "ranks add up");
    assertEquals(4, c.modules().get("encoder.layer.0.attention.self.key").rank(), "only b has key");
  }

  @Test
  void tiesMatchesPeftWithANegativeWeight() {
    assertMatches("ties", fixture.path("ties").path("density").asDouble(), null);
  }

  /**
   * PEFT's svd and lora4j's (EJML, double) both return the best rank-3 approximation of the same
   * weighted sum. The factors differ by the singular vectors' signs, the product does not; it is
   * unique when sigma_3 > sigma_4, which the fixture's singular values show. Two checks: (1) the
   * products agree to float32 SVD accuracy, eps_f32 · sigma_1 / (sigma_3 - sigma_4) (perturbation
   * of the kept subspace) times a factor 10 for the rounding of the sum; (2) the dropped part
   * ||full - delta||_F equals the root sum of squares of the dropped singular values PEFT's
   * torch.linalg.svdvals reported, to 1e-5 relative.
   */
  @Test
  void svdMatchesPeftWithinTheTruncationItDrops() throws Exception {
    JsonNode svd = fixture.path("svd");
    int rank = svd.path("svd_rank").asInt();
    Adapter c = assertMatches("svd", null, rank);
    double[] w = {svd.path("weights").get(0).asDouble(), svd.path("weights").get(1).asDouble()};
    Map<String, SafeTensor> expected = expected("svd");
    for (String module : expected.keySet()) {
      LowRankModule m = c.modules().get(module);
      assertEquals(rank, m.rank(), module);
      Matrix full = null;
      for (int i = 0; i < 2; i++) {
        LowRankModule in = inputs.get(i).modules().get(module);
        if (in != null) {
          Matrix d = in.b().multiply(in.a()).scale(in.scaling() * w[i]);
          full = full == null ? d : full.add(d);
        }
      }
      double dropped = 0;
      List<Double> sigma = new ArrayList<>();
      svd.path("singular_values").path(module).forEach(v -> sigma.add(v.asDouble()));
      for (int k = rank; k < sigma.size(); k++) {
        dropped += sigma.get(k) * sigma.get(k);
      }
      assertEquals(Math.sqrt(dropped), frobenius(full, m.delta()), 1e-5 * sigma.get(0), module + ": truncation");
      double bound = 10 * 1.2e-7 * sigma.get(0) / (sigma.get(rank - 1) - sigma.get(rank));
      double diff = expected.get(module).toMatrix().maxAbsDifference(m.delta());
      assertTrue(diff <= Math.max(bound, TOLERANCE), module + ": differs from PEFT by " + diff + " (bound " + bound + ")");
    }
  }

  /** Combines as the fixture's entry says and compares every module's delta W with PEFT's. */
  private Adapter assertMatches(String name, Double density, Integer rank) {
    JsonNode entry = fixture.path(name);
    JsonNode weights = entry.path("weights");
    List<Combination.Part> parts = List.of(new Combination.Part("a", weights.get(0).asDouble()),
        new Combination.Part("b", weights.get(1).asDouble()));
    Combination.Method method = Combination.Method.parse(entry.path("combination_type").asText());
    Adapter c = new Combination(name, parts, method, density, rank, 0).apply(inputs);

    Map<String, SafeTensor> expected = expected(name);
    assertEquals(expected.keySet(), c.modules().keySet(), name + ": modules PEFT combined");
    for (Map.Entry<String, SafeTensor> e : expected.entrySet()) {
      LowRankModule m = c.modules().get(e.getKey());
      assertEquals(entry.path("rank").asInt() == 8 && e.getKey().endsWith("key") ? 4 : entry.path("rank").asInt(),
          m.rank(), e.getKey());
      if (method != Combination.Method.SVD) {
        double diff = e.getValue().toMatrix().maxAbsDifference(m.delta());
        assertTrue(diff < TOLERANCE, name + " " + e.getKey() + " differs from PEFT's delta W by " + diff);
      }
    }
    return c;
  }

  private static double frobenius(Matrix x, Matrix y) {
    double s = 0;
    for (int i = 0; i < x.data().length; i++) {
      double d = (double) x.data()[i] - y.data()[i];
      s += d * d;
    }
    return Math.sqrt(s);
  }

  private Map<String, SafeTensor> expected(String name) {
    return Safetensors.read(dir().resolve("expected_" + name + ".safetensors")).tensors();
  }

  private Path dir() {
    return dir;
  }

  /** The fixture files, copied out of the models test jar (a class path resource, not a directory). */
  private static void copyFixture(Path out) throws Exception {
    List<String> files = new ArrayList<>(List.of("combinations.json"));
    for (String m : List.of("linear", "cat", "svd", "ties")) {
      files.add("expected_" + m + ".safetensors");
    }
    for (String a : List.of("a", "b")) {
      files.add(a + "/" + PeftAdapters.CONFIG_FILE);
      files.add(a + "/" + PeftAdapters.WEIGHTS_FILE);
    }
    for (String f : files) {
      try (InputStream in = CombinationPeftParityTest.class.getResourceAsStream("/peft/combine/" + f)) {
        Files.createDirectories(out.resolve(f).getParent());
        Files.copy(in, out.resolve(f));
      }
    }
  }
}
