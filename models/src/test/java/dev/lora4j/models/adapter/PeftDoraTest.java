package dev.lora4j.models.adapter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.safetensors.SafeTensor;
import dev.lora4j.models.adapter.safetensors.Safetensors;
import dev.lora4j.models.tensor.Matrix;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DoRA adapters (PEFT's use_dora) read with their magnitudes and merged as PEFT merges them. The
 * fixture {@code peft/bert-dora} is what PEFT 0.21 saved for TinyBert seed 5 (tiny-base.safetensors)
 * with magnitudes pushed away from their initial norms; merged_weights.safetensors is PEFT's own
 * merge_and_unload() of it.
 */
class PeftDoraTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  /**
   * float32 on PEFT's side against double here: weights are O(0.1..1) and each row sums 32 products
   * and a norm, so rounding stays near 1e-7; 1e-5 leaves room but is far below DoRA's effect (~0.1).
   */
  private static final double TOLERANCE = 1e-5;

  @TempDir Path tmp;

  @Test
  void mergesADoraAdapterAsPeftDoes() throws Exception {
    Adapter a = PeftAdapters.read(fixture("bert-dora"));
    Map<String, Matrix> base = baseWeights();
    Map<String, SafeTensor> peftMerged = Safetensors.read(fixture("bert-dora").resolve("merged_weights.safetensors"))
        .tensors();

    assertTrue(a.usesDora());
    assertEquals(peftMerged.keySet(), a.modules().keySet());
    for (Map.Entry<String, SafeTensor> e : peftMerged.entrySet()) {
      LowRankModule m = a.modules().get(e.getKey());
      assertTrue(m.isDora(), e.getKey());
      double diff = m.mergedWeight(base.get(e.getKey())).maxAbsDifference(e.getValue().toMatrix());
      assertTrue(diff <= TOLERANCE, e.getKey() + " differs from PEFT's merged weight by " + diff);
    }
  }

  /** Guards the fixture and the reader: read as plain LoRA, the merged weights would be far off PEFT's. */
  @Test
  void aDoraAdapterIsNotPlainLora() throws Exception {
    Adapter a = PeftAdapters.read(fixture("bert-dora"));
    Map<String, Matrix> base = baseWeights();
    Map<String, SafeTensor> peftMerged = Safetensors.read(fixture("bert-dora").resolve("merged_weights.safetensors"))
        .tensors();
    for (LowRankModule m : a.modules().values()) {
      LowRankModule plain = new LowRankModule(m.module(), m.a(), m.b(), m.scaling(), null, null);
      double diff = plain.mergedWeight(base.get(m.module())).maxAbsDifference(peftMerged.get(m.module()).toMatrix());
      assertTrue(diff > 100 * TOLERANCE, m.module() + ": plain LoRA's merge is only " + diff + " from DoRA's");
      assertTrue(m.delta().maxAbsDifference(Matrix.zeros(m.outFeatures(), m.inFeatures())) > 1e-3,
          m.module() + ": B is zero, the fixture would not test the low-rank part");
    }
  }

  @Test
  void keepsTheMagnitudesAsStored() throws Exception {
    Path dir = fixture("bert-dora");
    Adapter a = PeftAdapters.read(dir);
    Map<String, SafeTensor> stored = Safetensors.read(dir.resolve(PeftAdapters.WEIGHTS_FILE)).tensors();
    for (LowRankModule m : a.modules().values()) {
      float[] want = stored.get("base_model.model." + m.module() + ".lora_magnitude_vector").toFloats();
      assertArrayEquals(want, m.magnitude(), m.module());
      assertArrayEquals(want, m.compact().magnitude(), m.module() + " compacted");
    }
    assertTrue(a.compact().usesDora());
  }

  @Test
  void writesADoraAdapterBackWithUseDoraAndItsMagnitudes() throws Exception {
    Adapter a = PeftAdapters.read(fixture("bert-dora")).compact();
    Path out = tmp.resolve("copy");
    PeftAdapters.write(a, out);

    assertTrue(JSON.readTree(out.resolve(PeftAdapters.CONFIG_FILE).toFile()).path("use_dora").asBoolean());
    Adapter back = PeftAdapters.read(out);
    assertEquals(a.modules(), back.modules());
  }

  @Test
  void refusesDoraWithoutMagnitudesAndMagnitudesWithoutDora() throws Exception {
    Path dir = copyOfFixture("no-magnitude");
    String q = "base_model.model.encoder.layer.0.attention.self.query.lora_magnitude_vector";
    Safetensors weights = Safetensors.read(dir.resolve(PeftAdapters.WEIGHTS_FILE));
    Map<String, SafeTensor> fewer = new LinkedHashMap<>(weights.tensors());
    fewer.remove(q);
    new Safetensors(fewer, weights.metadata()).write(dir.resolve(PeftAdapters.WEIGHTS_FILE));
    assertEquals(dir.resolve(PeftAdapters.WEIGHTS_FILE) + ": module encoder.layer.0.attention.self.query has no"
        + " tensor '" + q + "', but adapter_config.json says use_dora is true",
        assertThrows(Lora4jException.class, () -> PeftAdapters.read(dir)).getMessage());

    Path off = copyOfFixture("use-dora-off");
    ObjectNode config = (ObjectNode) JSON.readTree(off.resolve(PeftAdapters.CONFIG_FILE).toFile());
    config.put("use_dora", false);
    JSON.writeValue(off.resolve(PeftAdapters.CONFIG_FILE).toFile(), config);
    String message = assertThrows(Lora4jException.class, () -> PeftAdapters.read(off)).getMessage();
    assertTrue(message.endsWith("lora_magnitude_vector' is a DoRA magnitude, but adapter_config.json does not say"
        + " use_dora is true"), message);
  }

  @Test
  void consumersWithoutTheBaseWeightRefuseADoraAdapter() throws Exception {
    Adapter a = PeftAdapters.read(fixture("bert-dora"));
    assertEquals("adapter 'bert-dora' is a DoRA adapter (use_dora: a magnitude vector per module), which the"
        + " multi-adapter graph cannot apply; export it as a merged or factored graph (--format merged / factored),"
        + " which apply the magnitudes",
        assertThrows(Lora4jException.class, () -> a.requireNoDora("the multi-adapter graph")).getMessage());
    String message = assertThrows(Lora4jException.class,
        () -> MixedBatchStacks.pack(java.util.List.of(a), layoutFor(a))).getMessage();
    assertTrue(message.startsWith("adapter 'bert-dora' is a DoRA adapter (use_dora: a magnitude vector per module),"
        + " which the mixed-batch graph cannot apply"), message);
    message = assertThrows(Lora4jException.class,
        () -> dev.lora4j.models.adapter.ortformat.MultiAdapterParameters.of(a)).getMessage();
    assertTrue(message.startsWith("adapter 'bert-dora' is a DoRA adapter (use_dora: a magnitude vector per module),"
        + " which an .onnx_adapter file"), message);
  }

  @Test
  void refusesUseDoraInAnAdaLoraConfig() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("ada"));
    for (String f : new String[] {PeftAdapters.CONFIG_FILE, PeftAdapters.WEIGHTS_FILE}) {
      Files.copy(fixture("bert-adalora").resolve(f), dir.resolve(f));
    }
    ObjectNode config = (ObjectNode) JSON.readTree(dir.resolve(PeftAdapters.CONFIG_FILE).toFile());
    config.put("use_dora", true);
    JSON.writeValue(dir.resolve(PeftAdapters.CONFIG_FILE).toFile(), config);
    assertEquals(dir.resolve(PeftAdapters.CONFIG_FILE) + ": use_dora is true in an ADALORA config; PEFT has no DoRA"
        + " variant of AdaLoRA", assertThrows(Lora4jException.class, () -> PeftAdapters.read(dir)).getMessage());
  }

  @Test
  void aPlainAdapterIsNotDora() {
    LowRankModule m = LowRankModule.lora("encoder.layer.0.attention.self.query", PeftAdaptersTest.random(2, 4, 1),
        PeftAdaptersTest.random(4, 2, 2), 1.0);
    assertFalse(m.isDora());
    Matrix w = PeftAdaptersTest.random(4, 4, 3);
    // without a magnitude the merge is W + delta W
    assertTrue(m.mergedWeight(w).maxAbsDifference(w.add(m.delta())) < 1e-6);
  }

  private static MixedBatchStacks.Layout layoutFor(Adapter a) {
    java.util.List<MixedBatchStacks.ModuleShape> shapes = a.modules().values().stream()
        .map(m -> new MixedBatchStacks.ModuleShape(m.module(), m.inFeatures(), m.outFeatures())).toList();
    return new MixedBatchStacks.Layout(32, shapes);
  }

  private Path copyOfFixture(String name) throws Exception {
    Path dir = Files.createDirectories(tmp.resolve(name));
    for (String f : new String[] {PeftAdapters.CONFIG_FILE, PeftAdapters.WEIGHTS_FILE}) {
      Files.copy(fixture("bert-dora").resolve(f), dir.resolve(f));
    }
    return dir;
  }

  /** TinyBert seed 5's weights under their PyTorch names (out x in), as the fixture script loaded them. */
  private Map<String, Matrix> baseWeights() throws Exception {
    Map<String, Matrix> out = new LinkedHashMap<>();
    Safetensors.read(fixture("tiny-base.safetensors")).tensors().forEach((k, v) -> {
      if (k.endsWith(".weight") && v.shape().length == 2) {
        out.put(k.substring(0, k.length() - ".weight".length()), v.toMatrix());
      }
    });
    return out;
  }

  private Path fixture(String name) throws Exception {
    return Path.of(getClass().getResource("/peft/" + name).toURI());
  }
}
