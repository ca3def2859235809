package dev.lora4j.models.adapter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.models.adapter.safetensors.SafeTensor;
import dev.lora4j.models.adapter.safetensors.Safetensors;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.models.testing.HalfReference;
import dev.lora4j.models.testing.ReferenceEncoder;
import dev.lora4j.models.testing.TinyBert;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What real PEFT makes of an adapter lora4j wrote. The adapter below, for {@link TinyBert} seed
 * {@value #BASE_SEED}, is committed as {@code peft/lora4j-written/}, and that base's weights under
 * their PyTorch names as {@code peft/tiny-base.safetensors}; {@code peft/make_fixtures.py} loads
 * the adapter with PEFT 0.21 onto a BertModel holding those weights, as docs/EXPORT.md tells PEFT
 * users to, and records what PEFT saw in {@code lora4j-written.peft-load.json} and
 * {@code lora4j-written/expected_deltas.safetensors}. Python never runs in the build: when the
 * writer changes on purpose, regenerate both by hand (see {@link #theFixtureIsWhatLora4jWritesToday}).
 */
class PeftLoadsWhatLora4jWritesTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** The built-in base's ONNX SHA-256, as the catalog pins it. */
  private static final String MINILM_SHA = "759c3cd2b7fe7e93933ad23c4c9181b7396442a2ed746ec7c1d46192c469c46e";
  private static final List<String> PEFT_FILES = List.of("adapter_config.json", "adapter_model.safetensors");
  private static final long BASE_SEED = 5;
  /** The same adapter written with {@code AdapterDtype.FP16}, checked by PEFT the same way. */
  private static final String FP16_DIR = "lora4j-written-fp16";

  @TempDir Path tmp;

  /**
   * The fixture PEFT checked is byte for byte what the writer produces now, so PEFT's verdict
   * below is about today's writer. To regenerate after an intended change: run this test with
   * {@code -Dlora4j.peft.fixture=<repo>/models/src/test/resources/peft}, then
   * {@code python models/src/test/resources/peft/make_fixtures.py --lora4j-only}, and commit all.
   */
  @Test
  void theFixtureIsWhatLora4jWritesToday() throws IOException {
    String regenerate = System.getProperty("lora4j.peft.fixture");
    if (regenerate != null) {
      PeftAdapters.write(adapter(), Path.of(regenerate, "lora4j-written"), true);
      PeftAdapters.write(adapter(), Path.of(regenerate, FP16_DIR), true, AdapterDtype.FP16);
      Map<String, SafeTensor> weights = new LinkedHashMap<>();
      EncoderDescription.of(TinyBert.model(BASE_SEED)).weights()
          .forEach((name, t) -> weights.put(name, SafeTensor.f32(t.shape(), t.data())));
      Safetensors.of(weights).write(Path.of(regenerate, "tiny-base.safetensors"));
    }
    Path dir = tmp.resolve("written");
    PeftAdapters.write(adapter(), dir);
    Path half = tmp.resolve("written-fp16");
    PeftAdapters.write(adapter(), half, false, AdapterDtype.FP16);
    for (String file : PEFT_FILES) {
      assertArrayEquals(resource("lora4j-written/" + file), Files.readAllBytes(dir.resolve(file)),
          file + " differs from the committed fixture PEFT checked; regenerate it (see this test's comment)");
      assertArrayEquals(resource(FP16_DIR + "/" + file), Files.readAllBytes(half.resolve(file)),
          "fp16 " + file + " differs from the committed fixture PEFT checked; regenerate it (see this test's comment)");
    }
  }

  /**
   * {@code export --adapter-dtype fp16 --format peft}: PEFT loads the F16 factors into its float32
   * LoRA layers without a warning, holds exactly the file's values, and its deltas are those of the
   * adapter's A and B rounded to float16 by plain Java ({@link HalfReference}), not the float32 ones.
   */
  @Test
  void peftLoadsTheFp16AdapterAndItsDeltasAreTheRoundedAdapters() throws IOException {
    JsonNode seen = JSON.readTree(resource(FP16_DIR + ".peft-load.json"));
    assertEquals(List.of(), strings(seen.get("warnings")), "PEFT and transformers warned while loading");
    assertEquals(List.of(), strings(seen.get("lora_tensors_unlike_the_file")));
    assertEquals(List.of("torch.float16"), strings(seen.get("file_lora_dtypes")));
    Adapter original = adapter();
    Safetensors deltas = Safetensors.read(fixture(FP16_DIR).resolve("expected_deltas.safetensors"));
    assertEquals(original.modules().keySet(), deltas.tensors().keySet());
    double roundingShows = 0;
    for (Map.Entry<String, SafeTensor> e : deltas.tensors().entrySet()) {
      Matrix peft = e.getValue().toMatrix();
      // the file holds A and B as given, the scaling stays in the config: PEFT multiplies s · B16 · A16
      LowRankModule m = original.modules().get(e.getKey());
      Matrix rounded = LowRankModule.lora(m.module(), HalfReference.round(m.a()), HalfReference.round(m.b()),
          m.scaling()).delta();
      double diff = peft.maxAbsDifference(rounded);
      // float32 products of rank <= 3 with entries below 1: a few float32 roundings apart at most
      assertTrue(diff < 1e-6, e.getKey() + " differs from the rounded adapter's delta by " + diff);
      roundingShows = Math.max(roundingShows, peft.maxAbsDifference(original.modules().get(e.getKey()).delta()));
    }
    assertTrue(roundingShows > 1e-5, "PEFT's deltas are within " + roundingShows + " of the float32 ones: the"
        + " check could not tell an fp16 file from a float32 one");
  }

  @Test
  void peftLoadsItWithoutAWarning() throws IOException {
    JsonNode seen = peftLoad();
    assertEquals("0.21.0", seen.get("peft_version").textValue());
    assertEquals(List.of(), strings(seen.get("warnings")), "PEFT and transformers warned while loading");
  }

  @Test
  void theConfigHoldsOnlyKeysPeftsLoraConfigKnows() throws IOException {
    Path dir = tmp.resolve("written");
    PeftAdapters.write(adapter(), dir);
    JsonNode known = JSON.readTree(resource("lora_config_fields.json"));
    TreeSet<String> unknown = new TreeSet<>();
    JSON.readTree(dir.resolve("adapter_config.json").toFile()).fieldNames().forEachRemaining(unknown::add);
    unknown.removeAll(strings(known.get("fields")));
    assertEquals(new TreeSet<>(), unknown, "keys PEFT " + known.get("peft_version").textValue() + " does not know");
  }

  @Test
  void peftLoadsEveryLoraTensorAndTheirDeltasAreLora4js() throws IOException {
    Adapter adapter = adapter();
    JsonNode seen = peftLoad();
    List<String> expected = new ArrayList<>();
    for (String m : adapter.modules().keySet()) {
      expected.add("base_model.model." + m + ".lora_A.default.weight");
      expected.add("base_model.model." + m + ".lora_B.default.weight");
    }
    assertEquals(expected.stream().sorted().toList(), strings(seen.get("loaded_lora_tensors")));
    assertEquals(List.of(), strings(seen.get("lora_tensors_unlike_the_file")));

    Safetensors deltas = Safetensors.read(fixture().resolve("expected_deltas.safetensors"));
    assertEquals(adapter.modules().keySet(), deltas.tensors().keySet());
    deltas.tensors().forEach((module, delta) -> {
      double diff = delta.toMatrix().maxAbsDifference(adapter.modules().get(module).delta());
      // float32 products of rank <= 3 with entries below 1: a few float32 roundings apart at most
      assertTrue(diff < 1e-6, module + " differs from PEFT's delta by " + diff);
    });
  }

  @Test
  void peftSeesTheDropoutTrainingUsedAndTheBasesHubId() throws IOException {
    JsonNode seen = peftLoad();
    assertEquals(0.1, seen.get("config").get("lora_dropout").doubleValue());
    assertEquals(0.1, seen.get("dropout_module_p").doubleValue(), "PEFT built its Dropout with that p");
    assertEquals("sentence-transformers/all-MiniLM-L6-v2", seen.get("config").get("base_model_name_or_path").textValue());
  }

  @Test
  void theDocumentedLoaderGivesLora4jsLogits() throws IOException {
    Adapter adapter = adapter();
    JsonNode run = peftLoad().get("documented_loader");
    assertEquals(List.of("negative", "positive"), strings(run.get("labels")));
    assertEquals("mean", run.get("pooling").textValue());

    EncoderDescription base = EncoderDescription.of(TinyBert.model(BASE_SEED));
    Map<String, Matrix> deltas = new LinkedHashMap<>();
    adapter.modules().forEach((name, m) -> deltas.put(name, m.delta()));
    ReferenceEncoder withAdapter = new ReferenceEncoder(base, deltas);
    ReferenceEncoder without = new ReferenceEncoder(base, Map.of());
    JsonNode sentences = run.get("input_ids");
    assertEquals(3, sentences.size());
    double worst = 0;
    double adapterEffect = 0;
    for (int s = 0; s < sentences.size(); s++) {
      long[] ids = unpadded(sentences.get(s));
      double[] expected = logits(adapter.head(), withAdapter.forward(ids));
      double[] plain = logits(adapter.head(), without.forward(ids));
      for (int k = 0; k < expected.length; k++) {
        double peft = run.get("logits").get(s).get(k).doubleValue();
        worst = Math.max(worst, Math.abs(peft - expected[k]));
        adapterEffect = Math.max(adapterEffect, Math.abs(plain[k] - expected[k]));
      }
    }
    System.out.printf("documented PEFT loader vs lora4j: worst |logit difference| %.2e, adapter moves logits by %.2e%n",
        worst, adapterEffect);
    // PyTorch runs in float32, the reference in double: two layers of hidden 32 stay within ~1e-6
    assertTrue(worst < 1e-5, "PEFT + the documented loader differ from lora4j by " + worst);
    assertTrue(adapterEffect > 1e-2, "the adapter moves the logits by " + adapterEffect + " only: the check"
        + " would not see an adapter PEFT failed to load");
  }

  private static long[] unpadded(JsonNode ids) {
    List<Long> out = new ArrayList<>();
    ids.forEach(n -> {
      if (n.longValue() != 0) {
        out.add(n.longValue());
      }
    });
    return out.stream().mapToLong(Long::longValue).toArray();
  }

  /** Mean pooling, then the head's one linear layer: lora4j's classifier. */
  private static double[] logits(TaskHead head, double[][] hidden) {
    double[] pooled = ReferenceEncoder.meanPool(hidden);
    Matrix w = head.weight();
    double[] out = new double[w.rows()];
    for (int k = 0; k < out.length; k++) {
      double z = head.bias()[k];
      for (int j = 0; j < pooled.length; j++) {
        z += (double) w.data()[k * w.cols() + j] * pooled[j];
      }
      out[k] = z;
    }
    return out;
  }

  /** Four kinds of module over both layers of TinyBert (hidden 32, intermediate 64). */
  static Adapter adapter() {
    String l0 = "encoder.layer.0.";
    String l1 = "encoder.layer.1.";
    int h = TinyBert.HIDDEN;
    int inter = TinyBert.INTERMEDIATE;
    List<LowRankModule> modules = List.of(
        LowRankModule.lora(l0 + "attention.self.query", small(2, h, 1), small(h, 2, 2), 2.0),
        LowRankModule.lora(l0 + "attention.self.value", small(2, h, 3), small(h, 2, 4), 2.0),
        LowRankModule.lora(l0 + "intermediate.dense", small(3, h, 5), small(inter, 3, 6), 4.0 / 3),
        LowRankModule.lora(l1 + "attention.self.query", small(2, h, 7), small(h, 2, 8), 2.0),
        LowRankModule.lora(l1 + "output.dense", small(1, inter, 9), small(h, 1, 10), 4.0));
    TaskHead head = TaskHead.classifier(TaskHead.Pooling.MEAN, small(2, h, 11), new float[] {0.25f, -0.25f},
        List.of("negative", "positive"));
    Map<String, Object> hyper = new LinkedHashMap<>();
    hyper.put("method", "lora");
    hyper.put("rank", 2);
    hyper.put("alpha", 4.0);
    hyper.put("dropout", 0.1);
    Provenance provenance = new Provenance("lora", hyper, Map.of("train", "sst2/train.tsv"), 13,
        Map.of("dev_accuracy", 0.5), "2026-11-29T00:00:00Z", "lora4j test");
    return new Adapter("sst2-tiny", new BaseModelRef("minilm-l6", MINILM_SHA), Adapter.byName(modules), head,
        provenance);
  }

  private static Matrix small(int rows, int cols, long seed) {
    Matrix m = PeftAdaptersTest.random(rows, cols, seed);
    float[] d = m.data();
    for (int i = 0; i < d.length; i++) {
      d[i] *= 0.25f;
    }
    return m;
  }

  private static JsonNode peftLoad() throws IOException {
    return JSON.readTree(resource("lora4j-written.peft-load.json"));
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.textValue()));
    return out;
  }

  private static byte[] resource(String name) throws IOException {
    try (InputStream in = PeftLoadsWhatLora4jWritesTest.class.getResourceAsStream("/peft/" + name)) {
      if (in == null) {
        throw new IllegalStateException("test resource /peft/" + name + " is missing");
      }
      return in.readAllBytes();
    }
  }

  private Path fixture() {
    return fixture("lora4j-written");
  }

  private Path fixture(String name) {
    try {
      return Path.of(getClass().getResource("/peft/" + name).toURI());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
