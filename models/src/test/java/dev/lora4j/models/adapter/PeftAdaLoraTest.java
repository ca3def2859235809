package dev.lora4j.models.adapter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.safetensors.SafeTensor;
import dev.lora4j.models.adapter.safetensors.Safetensors;
import dev.lora4j.models.tensor.Matrix;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** AdaLoRA adapters (peft_type ADALORA) read as plain low-rank modules. */
class PeftAdaLoraTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String Q0 = "encoder.layer.0.attention.self.query";
  private static final String P = "base_model.model." + Q0;

  @TempDir Path tmp;

  /**
   * The fixture is what PEFT 0.21 saved after a rank_pattern pruned the value modules, with some
   * query E entries exactly zero; expected_deltas is PEFT's own get_delta_weight after reloading it.
   * 1e-5: both sides sum rank-many float32 products in different orders (|delta| up to ~15).
   */
  @Test
  void readsAnAdaLoraAdapterPeftSavedWithPeftsOwnDeltas() throws Exception {
    Path dir = fixture("bert-adalora");
    Adapter a = PeftAdapters.read(dir);

    Safetensors stored = Safetensors.read(dir.resolve("adapter_model.safetensors"));
    Safetensors expected = Safetensors.read(dir.resolve("expected_deltas.safetensors"));
    assertEquals(expected.tensors().keySet(), a.modules().keySet());
    for (Map.Entry<String, SafeTensor> e : expected.tensors().entrySet()) {
      LowRankModule m = a.modules().get(e.getKey());
      int nonZero = 0;
      for (float v : stored.tensors().get("base_model.model." + e.getKey() + ".lora_E").toFloats()) {
        nonZero += v != 0f ? 1 : 0;
      }
      assertEquals(nonZero, m.rank(), e.getKey() + ": kept ranks");
      assertTrue(m.isCompact(), e.getKey() + " folded to a bare pair");
      double diff = e.getValue().toMatrix().maxAbsDifference(m.delta());
      assertTrue(diff < 1e-5, e.getKey() + " differs from PEFT's delta by " + diff);
    }
    // the values the fixture script set: one zero E per query, value masks keeping 2 and 3 of 4
    assertEquals(Map.of(Q0, 3, "encoder.layer.0.attention.self.value", 2,
        "encoder.layer.1.attention.self.query", 3, "encoder.layer.1.attention.self.value", 3), a.ranks());
  }

  /** A file saved without PEFT's resize holds all init_r ranks; the mask must still drop the pruned. */
  @Test
  void appliesTheRankPatternMaskToAnUnresizedFile() throws IOException {
    Matrix am = PeftAdaptersTest.random(4, 8, 1);
    Matrix bm = PeftAdaptersTest.random(8, 4, 2);
    float[] e = {0.5f, -2f, 1.5f, 0f};
    Path dir = handMade(am, bm, e, new boolean[] {true, false, true, true});

    LowRankModule m = PeftAdapters.read(dir).modules().get(Q0);

    assertEquals(2, m.rank()); // rank 1 masked out, rank 3 has E exactly zero
    double scaling = 6 / (4 + 1e-5);
    double worst = 0;
    for (int o = 0; o < 8; o++) {
      for (int i = 0; i < 8; i++) {
        double want = 0;
        for (int k : new int[] {0, 2}) {
          want += bm.get(o, k) * (double) e[k] * am.get(k, i) * scaling;
        }
        worst = Math.max(worst, Math.abs(want - m.delta().get(o, i)));
      }
    }
    assertTrue(worst < 1e-5, "differs from B diag(E) A alpha / (init_r + 1e-5) by " + worst);
  }

  @Test
  void refusesARankNeitherInitRNorTheMaskGives() throws IOException {
    Path dir = handMade(PeftAdaptersTest.random(3, 8, 1), PeftAdaptersTest.random(8, 3, 2), new float[] {1, 2, 3},
        new boolean[] {true, false, true, false});
    assertFails(dir, dir.resolve("adapter_config.json") + ": module " + Q0 + " has rank 3 in"
        + " adapter_model.safetensors but rank 2 by its rank_pattern mask");
  }

  @Test
  void refusesAMaskForAModuleTheFileDoesNotHold() throws IOException {
    Path dir = handMade(PeftAdaptersTest.random(4, 8, 1), PeftAdaptersTest.random(8, 4, 2), new float[] {1, 2, 3, 4},
        null);
    editConfig(dir, c -> ((ObjectNode) c.get("rank_pattern")).set("encoder.layer.1.attention.self.key.lora_E",
        JSON.valueToTree(new boolean[] {true, true, false, false})));
    assertFails(dir, dir.resolve("adapter_config.json") + ": rank_pattern names encoder.layer.1.attention.self.key"
        + ".lora_E, but adapter_model.safetensors holds no tensors of module encoder.layer.1.attention.self.key");
  }

  @Test
  void refusesMasksOfTheWrongLength() throws IOException {
    Path dir = handMade(PeftAdaptersTest.random(4, 8, 1), PeftAdaptersTest.random(8, 4, 2), new float[] {1, 2, 3, 4},
        new boolean[] {true, false});
    assertFails(dir, dir.resolve("adapter_config.json") + ": rank_pattern value for '" + Q0 + ".lora_E' must be a"
        + " list of 4 booleans (one per init_r rank), not [true,false]");
  }

  @Test
  void refusesAnAdapterWhoseRanksAreAllPruned() throws IOException {
    Path dir = handMade(PeftAdaptersTest.random(4, 8, 1), PeftAdaptersTest.random(8, 4, 2), new float[] {0, 2, 0, 4},
        new boolean[] {true, false, true, false});
    assertFails(dir, dir.resolve("adapter_model.safetensors") + ": every rank of every module is pruned (lora_E all"
        + " zero or masked out by rank_pattern); the adapter changes nothing");
  }

  @Test
  void refusesAModuleWithoutE() throws IOException {
    Path dir = handMade(PeftAdaptersTest.random(4, 8, 1), PeftAdaptersTest.random(8, 4, 2), null, null);
    assertFails(dir, dir.resolve("adapter_model.safetensors") + ": module " + Q0 + " has no tensor '" + P
        + ".lora_E'");
  }

  @Test
  void refusesAdaLoraTensorsInALoraFileAndLoraTensorsInAnAdaLoraFile() throws IOException {
    Path ada = handMade(PeftAdaptersTest.random(4, 8, 1), PeftAdaptersTest.random(8, 4, 2), new float[] {1, 2, 3, 4},
        null);
    editConfig(ada, c -> c.put("peft_type", "LORA"));
    assertFails(ada, ada.resolve("adapter_model.safetensors") + ": tensor '" + P + ".lora_A' is an AdaLoRA tensor,"
        + " but adapter_config.json says peft_type LORA");

    Path lora = tmp.resolve("lora");
    Files.createDirectories(lora);
    Files.writeString(lora.resolve("adapter_config.json"), "{\"peft_type\": \"ADALORA\", \"init_r\": 4}");
    new Safetensors(Map.of(P + ".lora_A.weight", SafeTensor.of(PeftAdaptersTest.random(4, 8, 1)),
        P + ".lora_B.weight", SafeTensor.of(PeftAdaptersTest.random(8, 4, 1))), Map.of("format", "pt"))
        .write(lora.resolve("adapter_model.safetensors"));
    assertFails(lora, lora.resolve("adapter_model.safetensors") + ": tensor '" + P + ".lora_A.weight' does not"
        + " belong in an ADALORA adapter, whose modules hold .lora_A, .lora_B and .lora_E");
  }

  // ---- helpers ----

  /** One query module as PEFT's AdaLoRA names it; e or mask null leaves that part out. */
  private Path handMade(Matrix a, Matrix b, float[] e, boolean[] mask) throws IOException {
    Path dir = tmp.resolve("ada");
    Files.createDirectories(dir);
    ObjectNode config = JSON.createObjectNode();
    config.put("peft_type", "ADALORA");
    config.put("init_r", 4);
    config.put("lora_alpha", 6);
    config.put("r", 8);
    ObjectNode pattern = config.putObject("rank_pattern");
    if (mask != null) {
      ArrayNode list = pattern.putArray(Q0 + ".lora_E");
      for (boolean m : mask) {
        list.add(m);
      }
    }
    JSON.writeValue(dir.resolve("adapter_config.json").toFile(), config);
    Map<String, SafeTensor> tensors = new LinkedHashMap<>();
    tensors.put(P + ".lora_A", SafeTensor.of(a));
    tensors.put(P + ".lora_B", SafeTensor.of(b));
    if (e != null) {
      tensors.put(P + ".lora_E", SafeTensor.of(new Matrix(e.length, 1, e.clone())));
    }
    new Safetensors(tensors, Map.of("format", "pt")).write(dir.resolve("adapter_model.safetensors"));
    return dir;
  }

  private static void editConfig(Path dir, Consumer<ObjectNode> edit) throws IOException {
    ObjectNode config = (ObjectNode) JSON.readTree(dir.resolve("adapter_config.json").toFile());
    edit.accept(config);
    JSON.writeValue(dir.resolve("adapter_config.json").toFile(), config);
  }

  private static void assertFails(Path dir, String message) {
    assertEquals(message, assertThrows(Lora4jException.class, () -> PeftAdapters.read(dir)).getMessage());
  }

  private Path fixture(String name) throws Exception {
    return Path.of(getClass().getResource("/peft/" + name).toURI());
  }
}
