package dev.lora4j.models.adapter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.safetensors.SafeTensor;
import dev.lora4j.models.adapter.safetensors.Safetensors;
import dev.lora4j.models.testing.corpus.HostileCorpus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the hostile-input corpus decided about PEFT directories, each pinned: the one defect it found
 * (an alpha whose scaling overflows lora_B loaded), and what PEFT accepts and so must load.
 */
class PeftDamageTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  /**
   * alpha 1e308 over rank 2 is a finite scaling, and lora_B is finite: only B' = scaling · B, what
   * exports and the runtime use, overflowed, after a load that looked fine.
   */
  @Test
  void aLoraAlphaWhoseScalingOverflowsLoraBIsRefusedNamingTheConfig() throws Exception {
    Path dir = tmp.resolve("a");
    PeftAdapters.write(PeftCorpusTest.valid(), dir, false, AdapterDtype.FP16);
    Path config = dir.resolve(PeftAdapters.CONFIG_FILE);
    ObjectNode c = (ObjectNode) JSON.readTree(config.toFile());
    c.put("lora_alpha", 1e308);
    JSON.writeValue(config.toFile(), c);
    Lora4jException e = assertThrows(Lora4jException.class, () -> PeftAdapters.read(dir));
    assertTrue(e.getMessage().startsWith(config + ": module ") && e.getMessage().contains("overflows float32"),
        e.getMessage());
  }

  /**
   * PEFT loads any magnitude of the right shape, and its DoRA layer divides by the weight norm, never
   * by the magnitude: zero and negative magnitudes are legal and must load as written.
   */
  @Test
  void zeroAndNegativeDoraMagnitudesLoadAsPeftLoadsThem() throws Exception {
    Path fixture = Path.of(PeftDamageTest.class.getResource("/peft/bert-dora").toURI());
    for (float sign : new float[] {0f, -1f}) {
      Path dir = tmp.resolve("dora" + sign);
      HostileCorpus.copyTree(fixture, dir);
      Path weights = dir.resolve(PeftAdapters.WEIGHTS_FILE);
      Safetensors valid = Safetensors.read(weights);
      String name = valid.tensors().keySet().stream().filter(k -> k.endsWith(".lora_magnitude_vector")).findFirst()
          .orElseThrow();
      float[] m = valid.tensors().get(name).toFloats();
      for (int i = 0; i < m.length; i++) {
        m[i] *= sign;
      }
      Map<String, SafeTensor> t = new LinkedHashMap<>(valid.tensors());
      t.put(name, SafeTensor.vector(m));
      new Safetensors(t, valid.metadata()).write(weights);
      Adapter read = PeftAdapters.read(dir);
      String module = name.substring("base_model.model.".length(), name.indexOf(".lora_"));
      assertArrayEquals(m, read.modules().get(module).magnitude(), "magnitudes times " + sign);
    }
  }

  /** PEFT applies a rank_pattern key only to modules it matches; one matching none changes nothing. */
  @Test
  void aRankPatternKeyMatchingNoModuleIsIgnoredAsPeftIgnoresIt() throws Exception {
    Path dir = tmp.resolve("p");
    PeftAdapters.write(PeftCorpusTest.valid(), dir);
    Adapter before = PeftAdapters.read(dir);
    Path config = dir.resolve(PeftAdapters.CONFIG_FILE);
    ObjectNode c = (ObjectNode) JSON.readTree(config.toFile());
    ((ObjectNode) c.get("rank_pattern")).put("encoder.layer.9.attention.self.query", 4);
    JSON.writeValue(config.toFile(), c);
    assertEquals(before.modules(), PeftAdapters.read(dir).modules());
  }
}
