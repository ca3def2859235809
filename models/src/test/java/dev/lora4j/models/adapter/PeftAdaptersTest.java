package dev.lora4j.models.adapter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.safetensors.SafeTensor;
import dev.lora4j.models.adapter.safetensors.Safetensors;
import dev.lora4j.models.tensor.Matrix;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PeftAdaptersTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String Q0 = "encoder.layer.0.attention.self.query";
  private static final String V0 = "encoder.layer.0.attention.self.value";
  private static final String Q1 = "encoder.layer.1.attention.self.query";
  private static final String OUT1 = "encoder.layer.1.output.dense";
  private static final String Q10 = "encoder.layer.10.attention.self.query";

  @TempDir Path tmp;

  // ---- round trips ----

  @Test
  void roundTripsEverythingAnAdapterHolds() {
    Adapter adapter = sample();
    Path dir = tmp.resolve("sst2");
    PeftAdapters.write(adapter, dir);

    Adapter read = PeftAdapters.read(dir);

    assertEquals(adapter, read);
    assertEquals(List.copyOf(adapter.modules().keySet()), List.copyOf(read.modules().keySet()), "model order kept");
    assertEquals(Map.of(Q0, 4, V0, 4, Q1, 2, OUT1, 4, Q10, 3), read.ranks());
    assertEquals(adapter.provenance().hyperParameters(), read.provenance().hyperParameters());
  }

  @Test
  void writesWhatPeftReads() throws IOException {
    Path dir = tmp.resolve("sst2");
    PeftAdapters.write(sample(), dir);

    JsonNode config = JSON.readTree(dir.resolve("adapter_config.json").toFile());
    List<String> keys = new ArrayList<>();
    config.fieldNames().forEachRemaining(keys::add);
    assertEquals(List.of("alpha_pattern", "base_model_name_or_path", "bias", "fan_in_fan_out", "inference_mode",
        "lora_alpha", "lora_dropout", "modules_to_save", "peft_type", "r", "rank_pattern",
        "target_modules", "task_type", "use_rslora"), keys, "PEFT's keys, sorted as PEFT writes them");
    assertEquals("LORA", config.get("peft_type").textValue());
    assertEquals("FEATURE_EXTRACTION", config.get("task_type").textValue());
    assertEquals("minilm-l6", config.get("base_model_name_or_path").textValue(), "no Hub id known for this hash");
    assertEquals(4, config.get("r").intValue());
    assertTrue(config.get("lora_alpha").isIntegralNumber(), "whole alphas are written as integers");
    assertEquals(8, config.get("lora_alpha").intValue());
    assertEquals(JSON.readTree("{\"" + Q1 + "\": 2, \"" + Q10 + "\": 3}"), config.get("rank_pattern"));
    assertEquals(JSON.readTree("{\"" + Q1 + "\": 1.5, \"" + Q10 + "\": 1}"), config.get("alpha_pattern"));
    assertEquals(JSON.valueToTree(List.of(Q0, V0, Q1, OUT1, Q10)), config.get("target_modules"));
    assertTrue(config.get("modules_to_save").isNull(), "a BertModel has no classifier for PEFT to restore");
    assertFalse(config.get("use_rslora").booleanValue());
    assertEquals("none", config.get("bias").textValue());

    Safetensors weights = Safetensors.read(dir.resolve("adapter_model.safetensors"));
    assertEquals(Set.of("format", "lora4j"), weights.metadata().keySet());
    assertEquals("pt", weights.metadata().get("format"));
    assertEquals("sst2", JSON.readTree(weights.metadata().get("lora4j")).get("name").textValue());
    List<String> expected = new ArrayList<>();
    for (String m : List.of(Q0, V0, Q1, OUT1, Q10)) {
      expected.add("base_model.model." + m + ".lora_A.weight");
      expected.add("base_model.model." + m + ".lora_B.weight");
    }
    expected.add("base_model.model." + Q0 + ".lora_gate");
    expected.add("base_model.model." + Q0 + ".lora_T.weight");
    expected.add("base_model.model.classifier.weight");
    expected.add("base_model.model.classifier.bias");
    assertEquals(expected.stream().sorted().toList(), List.copyOf(weights.tensors().keySet()));
    assertEquals(List.of(4L, 8L), shape(weights, "base_model.model." + Q0 + ".lora_A.weight"));
    assertEquals(List.of(8L, 4L), shape(weights, "base_model.model." + Q0 + ".lora_B.weight"));
    assertEquals(List.of(4L), shape(weights, "base_model.model." + Q0 + ".lora_gate"));
  }

  @Test
  void writesTheDropoutTrainingUsed() throws IOException {
    Adapter plain = sample();
    Map<String, Object> hyper = new LinkedHashMap<>(plain.provenance().hyperParameters());
    hyper.put("dropout", 0.1);
    Provenance p = plain.provenance();
    Path dir = tmp.resolve("dropout");
    PeftAdapters.write(new Adapter("sst2", plain.base(), plain.modules(), plain.head(),
        new Provenance(p.method(), hyper, p.data(), p.seed(), p.metrics(), p.created(), p.tool())), dir);
    assertEquals(0.1, JSON.readTree(config(dir).toFile()).get("lora_dropout").doubleValue());

    PeftAdapters.write(plain, dir, true);
    assertEquals(0.0, JSON.readTree(config(dir).toFile()).get("lora_dropout").doubleValue(),
        "none recorded: PEFT's default");
  }

  @Test
  void writesTheBuiltInBasesHubId() throws IOException {
    Adapter plain = sample();
    Path dir = tmp.resolve("hub");
    PeftAdapters.write(new Adapter("sst2", new BaseModelRef("minilm-l6",
        "759c3cd2b7fe7e93933ad23c4c9181b7396442a2ed746ec7c1d46192c469c46e"), plain.modules(), plain.head(),
        plain.provenance()), dir);
    assertEquals("sentence-transformers/all-MiniLM-L6-v2",
        JSON.readTree(config(dir).toFile()).get("base_model_name_or_path").textValue());
    assertEquals(new BaseModelRef("minilm-l6", "759c3cd2b7fe7e93933ad23c4c9181b7396442a2ed746ec7c1d46192c469c46e"),
        PeftAdapters.read(dir).base(), "lora4j still reads its own id and hash");
  }

  @Test
  void keepsScalingsThatNoAlphaOverRReproduces() throws IOException {
    // 1.9 * 3 rounds to a double that no alpha / 3 maps back to 1.9 exactly
    LowRankModule m = new LowRankModule(Q0, random(3, 8, 1), random(8, 3, 2), 1.9, null, null);
    Adapter adapter = new Adapter("odd", new BaseModelRef("b", "00"), Adapter.byName(List.of(m)),
        TaskHead.embeddings(TaskHead.Pooling.MEAN), Provenance.of("lora"));
    Path dir = tmp.resolve("odd");
    PeftAdapters.write(adapter, dir);

    assertEquals(adapter, PeftAdapters.read(dir));
    JsonNode config = JSON.readTree(dir.resolve("adapter_config.json").toFile());
    double peftScaling = config.get("lora_alpha").doubleValue() / 3;
    assertTrue(Math.abs(peftScaling - 1.9) <= Math.ulp(1.9), "PEFT sees the scaling one rounding off at most");
    JsonNode section = JSON.readTree(Safetensors.read(weights(dir)).metadata().get("lora4j"));
    assertEquals(1.9, section.get("exact_scalings").get(Q0).doubleValue());
  }

  // ---- adapters PEFT wrote ----

  @Test
  void readsAHandMadePeftAdapterWithPatternsRsloraAndTheBertPrefix() throws IOException {
    Path dir = tmp.resolve("from-hub");
    Files.createDirectories(dir);
    // As PEFT 0.21 writes it for BertForSequenceClassification with task_type None (trimmed of null options)
    Files.writeString(dir.resolve("adapter_config.json"), """
        {
          "alpha_pattern": {
            "layer.0.attention.self.query": 12,
            "output.dense": 5
          },
          "base_model_name_or_path": "google-bert/bert-base-uncased",
          "bias": "none",
          "fan_in_fan_out": false,
          "inference_mode": true,
          "init_lora_weights": true,
          "layers_to_transform": null,
          "lora_alpha": 8,
          "lora_dropout": 0.1,
          "modules_to_save": null,
          "peft_type": "LORA",
          "r": 4,
          "rank_pattern": {
            "bert.encoder.layer.1.attention.self.query": 2,
            "value": 3
          },
          "target_modules": ["query", "value", "output.dense"],
          "task_type": null,
          "use_dora": false,
          "use_rslora": true
        }
        """);
    Map<String, Integer> ranks = new LinkedHashMap<>();
    ranks.put("encoder.layer.0.attention.self.query", 4);
    ranks.put("encoder.layer.0.attention.self.value", 3);
    ranks.put("encoder.layer.0.attention.output.dense", 4);
    ranks.put("encoder.layer.1.attention.self.query", 2);
    ranks.put("encoder.layer.1.attention.self.value", 3);
    ranks.put("encoder.layer.1.output.dense", 4);
    Map<String, SafeTensor> tensors = new LinkedHashMap<>();
    int seed = 0;
    for (Map.Entry<String, Integer> e : ranks.entrySet()) {
      int in = e.getKey().endsWith("output.dense") && !e.getKey().contains("attention") ? 16 : 8;
      String name = "base_model.model.bert." + e.getKey();
      tensors.put(name + ".lora_A.weight", SafeTensor.of(random(e.getValue(), in, seed++)));
      tensors.put(name + ".lora_B.weight", SafeTensor.of(random(8, e.getValue(), seed++)));
    }
    Files.write(dir.resolve("adapter_model.safetensors"), new Safetensors(tensors, Map.of("format", "pt")).encode());

    Adapter a = PeftAdapters.read(dir);

    assertEquals(ranks, a.ranks());
    assertEquals(List.of("encoder.layer.0.attention.output.dense", "encoder.layer.0.attention.self.query",
        "encoder.layer.0.attention.self.value", "encoder.layer.1.attention.self.query",
        "encoder.layer.1.attention.self.value", "encoder.layer.1.output.dense"), List.copyOf(a.modules().keySet()));
    assertEquals(12 / Math.sqrt(4), a.modules().get("encoder.layer.0.attention.self.query").scaling());
    assertEquals(8 / Math.sqrt(3), a.modules().get("encoder.layer.0.attention.self.value").scaling());
    assertEquals(5 / Math.sqrt(4), a.modules().get("encoder.layer.0.attention.output.dense").scaling());
    assertEquals(8 / Math.sqrt(2), a.modules().get("encoder.layer.1.attention.self.query").scaling());
    assertEquals(5 / Math.sqrt(4), a.modules().get("encoder.layer.1.output.dense").scaling());
    Matrix a0 = tensors.get("base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight").toMatrix();
    assertEquals(a0, a.modules().get("encoder.layer.0.attention.self.query").a());

    assertEquals("from-hub", a.name());
    assertEquals(new BaseModelRef("google-bert/bert-base-uncased", ""), a.base());
    assertEquals(TaskHead.embeddings(TaskHead.Pooling.MEAN), a.head());
    assertEquals("peft", a.provenance().method());
    assertEquals(4, a.provenance().hyperParameters().get("r"));
    assertEquals(0.1, a.provenance().hyperParameters().get("lora_dropout"));
    Path back = tmp.resolve("back");
    PeftAdapters.write(a, back);
    JsonNode written = JSON.readTree(config(back).toFile());
    assertEquals(0.1, written.get("lora_dropout").doubleValue(), "an import keeps the dropout it was trained with");
    assertEquals("google-bert/bert-base-uncased", written.get("base_model_name_or_path").textValue());
  }

  @Test
  void matchesPatternKeysAsPeftDoes() {
    List<String> keys = List.of("query", "layer.1.attention.self.value", "layer\\.[23]\\..*key");
    assertEquals("query", PeftScaling.matchingKey(keys, "bert.encoder.layer.0.attention.self.query"));
    assertEquals("query", PeftScaling.matchingKey(keys, "query"));
    assertEquals("layer.1.attention.self.value", PeftScaling.matchingKey(keys, "encoder.layer.1.attention.self.value"));
    assertEquals(null, PeftScaling.matchingKey(keys, "encoder.layer.11.attention.self.value"), "dot boundary");
    assertEquals(null, PeftScaling.matchingKey(keys, "encoder.layer.1.attention.self.xquery"), "dot boundary");
    assertEquals("layer\\.[23]\\..*key", PeftScaling.matchingKey(keys, "encoder.layer.3.attention.self.key"));
    assertEquals(null, PeftScaling.matchingKey(keys, "encoder.layer.4.attention.self.key"));
    assertEquals("value", PeftScaling.matchingKey(List.of("value", "layer.1.attention.self.value"),
        "encoder.layer.1.attention.self.value"), "the first key in file order wins");
  }

  @Test
  void readsAnAdapterPeftSavedForAWrappedModelWithPeftsOwnDeltas() {
    Path dir = fixture("bert-wrapped-rslora");
    Adapter a = PeftAdapters.read(dir);

    assertEquals(8, a.modules().size());
    assertEquals(2, a.modules().get("encoder.layer.1.attention.self.query").rank());
    assertEquals(3, a.modules().get("encoder.layer.0.attention.self.value").rank());
    assertEquals(new BaseModelRef("tiny-bert", ""), a.base());
    assertDeltasMatch(dir, a);
  }

  @Test
  void readsABfloat16AdapterPeftSaved() {
    Path dir = fixture("bert-bf16");
    Adapter a = PeftAdapters.read(dir);

    assertEquals(Map.of("encoder.layer.0.attention.self.key", 2, "encoder.layer.1.attention.self.key", 2), a.ranks());
    assertEquals(3.0, a.modules().get("encoder.layer.0.attention.self.key").scaling());
    assertDeltasMatch(dir, a);
  }

  @Test
  void refusesAPeftSequenceClassificationHead() {
    Path dir = fixture("bert-seq-cls");
    assertFails(dir, dir.resolve("adapter_model.safetensors") + ": tensor 'base_model.model.classifier.weight' is a"
        + " PEFT classifier head, which lora4j cannot use: it sits on BERT's pooler, and there is no lora4j"
        + " section saying how to pool");
  }

  // ---- broken directories ----

  @Test
  void namesMissingDirectoriesAndFiles() throws IOException {
    Path dir = written();
    assertFails(tmp.resolve("nope"), tmp.resolve("nope") + ": no such adapter directory");

    Files.move(weights(dir), dir.resolve("adapter_model.bin"));
    assertFails(dir, weights(dir) + ": missing; adapter_model.bin (PyTorch pickle) is not read, save the adapter"
        + " with safe_serialization=True");
    Files.delete(dir.resolve("adapter_model.bin"));
    assertFails(dir, weights(dir) + ": missing");

    Files.delete(config(dir));
    assertFails(dir, config(dir) + ": missing; a PEFT adapter directory holds adapter_config.json and"
        + " adapter_model.safetensors");
  }

  @Test
  void refusesAConfigThatIsNotAJsonObject() throws IOException {
    Path dir = written();
    Files.writeString(config(dir), "{\"r\": 8,");
    String message = assertThrows(Lora4jException.class, () -> PeftAdapters.read(dir)).getMessage();
    assertTrue(message.startsWith(config(dir) + ": invalid JSON: "), message);

    Files.writeString(config(dir), "[]");
    assertFails(dir, config(dir) + ": not a JSON object");
  }

  @Test
  void refusesOtherPeftTypesAndOptionsThatChangeTheWeights() {
    assertConfigFails(c -> c.put("peft_type", "IA3"), "peft_type is 'IA3'; lora4j reads LORA and ADALORA adapters"
        + " only");
    assertConfigFails(c -> c.remove("peft_type"), "peft_type is missing");
    assertConfigFails(c -> c.put("fan_in_fan_out", true),
        "fan_in_fan_out is true; lora4j reads adapters of nn.Linear layers only");
    assertConfigFails(c -> c.put("bias", "all"),
        "bias is 'all'; lora4j reads adapters with bias 'none' only (it does not load trained base-model biases)");
    assertConfigFails(c -> c.put("r", "8"), "r must be a positive integer, not \"8\"");
    assertConfigFails(c -> c.with("rank_pattern").put("(", 2),
        "rank_pattern key '(' is not a valid regular expression: Unclosed group");
    assertConfigFails(c -> c.with("alpha_pattern").put("query", "high"),
        "alpha_pattern value for 'query' must be a number, not \"high\"");
  }

  @Test
  void refusesARankTheConfigDoesNotGive() {
    assertConfigFails(c -> c.put("r", 5), "module " + Q0 + " has rank 4 in adapter_model.safetensors but rank 5"
        + " by r / rank_pattern");
    assertConfigFails(c -> c.with("rank_pattern").put(Q10, 8), "module " + Q10 + " has rank 3 in"
        + " adapter_model.safetensors but rank 8 by r / rank_pattern");
  }

  @Test
  void refusesAWithoutBAndBWithoutA() {
    String a = "base_model.model." + V0 + ".lora_A.weight";
    String b = "base_model.model." + V0 + ".lora_B.weight";
    assertTensorsFail(t -> t.remove(b), "tensor '" + a + "' has no matching '" + b + "'");
    assertTensorsFail(t -> t.remove(a), "tensor '" + b + "' has no matching '" + a + "'");
  }

  @Test
  void refusesInconsistentShapes() {
    String a = "base_model.model." + V0 + ".lora_A.weight";
    String b = "base_model.model." + V0 + ".lora_B.weight";
    assertTensorsFail(t -> t.put(b, SafeTensor.of(random(8, 3, 9))),
        "tensor '" + a + "' is 4x8 but '" + b + "' is 8x3: A has 4 rows, B has 3 columns");
    assertTensorsFail(t -> t.put(a, SafeTensor.f32(new long[] {32}, new float[32])),
        "tensor '" + a + "' has shape [32], not a matrix");
    assertTensorsFail(t -> t.put(a, SafeTensor.i64(new long[] {4, 8}, new long[32])),
        "tensor '" + a + "' has dtype I64; adapter weights are floats");
    String gate = "base_model.model." + Q0 + ".lora_gate";
    assertTensorsFail(t -> t.put(gate, SafeTensor.vector(new float[3])),
        "tensor '" + gate + "' has shape [3], expected [4]");
  }

  @Test
  void refusesNonFiniteWeights() {
    Matrix nan = random(4, 8, 1);
    nan.data()[5] = Float.NaN;
    assertTensorsFail(t -> t.put("base_model.model." + Q0 + ".lora_A.weight", SafeTensor.of(nan)),
        "tensor " + Q0 + ".lora_A contains NaN or infinite values");
  }

  @Test
  void refusesTensorsItDoesNotKnow() {
    String odd = "base_model.model." + Q0 + ".lora_embedding_A";
    assertTensorsFail(t -> t.put(odd, SafeTensor.vector(new float[8])), "tensor '" + odd + "' is not a LoRA A / B"
        + " matrix, a DoRA magnitude, an AdaLoRA A / B / E tensor, a lora4j gate or T matrix, or the classifier head,"
        + " and lora4j does not know what to do with it");
    String dora = "base_model.model." + Q0 + ".lora_magnitude_vector";
    assertTensorsFail(t -> t.put(dora, SafeTensor.vector(new float[8])), "tensor '" + dora + "' is a DoRA magnitude,"
        + " but adapter_config.json does not say use_dora is true");
    assertTensorsFail(t -> t.remove("base_model.model.classifier.bias"),
        "holds base_model.model.classifier.weight without base_model.model.classifier.bias");
    String llama = "base_model.model.model.layers.0.self_attn.q_proj";
    assertTensorsFail(t -> {
      t.put(llama + ".lora_A.weight", SafeTensor.of(random(4, 8, 1)));
      t.put(llama + ".lora_B.weight", SafeTensor.of(random(8, 4, 1)));
    }, "module 'model.layers.0.self_attn.q_proj' is not inside a BERT-family encoder (expected encoder.layer.<i>...,"
        + " optionally under a wrapper such as bert.)");
  }

  @Test
  void refusesLora4jSectionsItCannotTrust() {
    assertSectionFails(c -> c.put("colour", "blue"), "__metadata__.lora4j.colour is not a field lora4j knows"
        + " (known: base_model, exact_scalings, format_version, head, modules, name, provenance)");
    assertSectionFails(c -> c.put("format_version", 2),
        "__metadata__.lora4j.format_version is 2, newer than this lora4j reads (1); upgrade lora4j");
    assertSectionFails(c -> c.withArray("modules").remove(1),
        "__metadata__.lora4j.modules does not list " + V0 + ", which adapter_model.safetensors holds");
    assertSectionFails(c -> c.withArray("modules").add("encoder.layer.5.output.dense"),
        "__metadata__.lora4j.modules lists encoder.layer.5.output.dense, which has no tensors in"
            + " adapter_model.safetensors");
    assertSectionFails(c -> c.with("head").put("type", "embeddings"),
        "__metadata__.lora4j.head.type is embeddings but adapter_model.safetensors holds"
            + " base_model.model.classifier.weight");
    assertSectionFails(c -> c.with("head").put("pooling", "max"),
        "__metadata__.lora4j.head.pooling: pooling must be mean or cls, not 'max'");
    assertSectionFails(c -> c.with("head").withArray("labels").remove(0),
        "__metadata__.lora4j.head.labels names 2 labels but base_model.model.classifier.weight in"
            + " adapter_model.safetensors has 3 rows");
  }

  @Test
  void refusesALora4jSectionThatIsNotJson() {
    Path dir = written();
    Safetensors file = Safetensors.read(weights(dir));
    new Safetensors(file.tensors(), Map.of("format", "pt", "lora4j", "{\"name\": ")).write(weights(dir));
    Lora4jException e = assertThrows(Lora4jException.class, () -> PeftAdapters.read(dir));
    assertTrue(e.getMessage().startsWith(weights(dir) + ": __metadata__.lora4j is not valid JSON: "), e.getMessage());
  }

  // ---- adapters lora4j wrote before the section moved to the weights' metadata ----

  @Test
  void readsAdaptersThatKeepTheSectionInTheConfig() throws IOException {
    Adapter adapter = sample();
    Path dir = writtenTheOldWay();

    assertEquals(adapter, PeftAdapters.read(dir));
    assertConfigFails(dir, c -> c.with("lora4j").withArray("modules").remove(1),
        "lora4j.modules does not list " + V0 + ", which adapter_model.safetensors holds");
  }

  @Test
  void replacesAnAdapterDirectoryWrittenTheOldWay() {
    Path dir = writtenTheOldWay();
    PeftAdapters.write(sample(), dir);
    assertEquals(sample(), PeftAdapters.read(dir));
  }

  @Test
  void refusesASectionInBothPlaces() throws IOException {
    Path dir = written();
    ObjectNode config = (ObjectNode) JSON.readTree(config(dir).toFile());
    config.set("lora4j", JSON.readTree(Safetensors.read(weights(dir)).metadata().get("lora4j")));
    JSON.writeValue(config(dir).toFile(), config);
    assertFails(dir, config(dir) + ": holds a lora4j section, and so does the __metadata__ of"
        + " adapter_model.safetensors; which one holds is not clear, remove one");
  }

  // ---- writes that fail ----

  @Test
  void leavesNothingBehindWhenAWriteFails() throws IOException {
    Adapter adapter = sample();
    Provenance bad = new Provenance("lora", Map.of("optimizer", new Object()), Map.of(), 1, Map.of(), "now", "t");
    Path dir = tmp.resolve("out").resolve("sst2");

    Lora4jException e = assertThrows(Lora4jException.class, () -> PeftAdapters.write(
        new Adapter("sst2", adapter.base(), adapter.modules(), adapter.head(), bad), dir));

    assertTrue(e.getMessage().startsWith(dir.resolve("adapter_model.safetensors")
        + ": the provenance cannot be written as JSON: No serializer found for class java.lang.Object"),
        e.getMessage());
    assertTrue(!Files.exists(dir.getParent()) || list(dir.getParent()).isEmpty(), "no directory, no temporary leftovers");
  }

  @Test
  void keepsTheOldDirectoryWhenARewriteFails() throws IOException {
    Path dir = written();
    Adapter adapter = sample();
    Matrix inf = random(4, 8, 1);
    inf.data()[0] = Float.POSITIVE_INFINITY;
    Map<String, LowRankModule> modules = new LinkedHashMap<>(adapter.modules());
    modules.put(V0, LowRankModule.lora(V0, inf, random(8, 4, 2), 1));

    Lora4jException e = assertThrows(Lora4jException.class, () -> PeftAdapters.write(
        new Adapter("sst2", adapter.base(), modules, adapter.head(), adapter.provenance()), dir));

    assertEquals(dir + ": tensor " + V0 + ".lora_A contains NaN or infinite values", e.getMessage());
    assertEquals(adapter, PeftAdapters.read(dir));
    assertEquals(List.of(dir.getFileName().toString()), list(dir.getParent()));
  }

  @Test
  void refusesRankZeroModules() {
    LowRankModule empty = LowRankModule.lora(Q0, Matrix.zeros(0, 8), Matrix.zeros(8, 0), 1);
    Adapter adapter = new Adapter("z", new BaseModelRef("b", ""), Adapter.byName(List.of(empty)),
        TaskHead.embeddings(TaskHead.Pooling.MEAN), Provenance.of("lora"));
    Path dir = tmp.resolve("z");
    Lora4jException e = assertThrows(Lora4jException.class, () -> PeftAdapters.write(adapter, dir));
    assertEquals(dir + ": module " + Q0 + " has rank 0, which PEFT cannot hold; drop it first (Adapter.compact()"
        + " does)", e.getMessage());
    assertFalse(Files.exists(dir));
  }

  // ---- helpers ----

  /** Two layers' worth of modules with differing ranks and scalings, a gate and T, a classifier. */
  static Adapter sample() {
    List<LowRankModule> modules = List.of(
        new LowRankModule(Q0, random(4, 8, 1), random(8, 4, 2), 2.0, new float[] {1, 0, 0.5f, -0.25f},
            random(4, 4, 3)),
        LowRankModule.lora(V0, random(4, 8, 4), random(8, 4, 5), 2.0),
        LowRankModule.lora(Q1, random(2, 8, 6), random(8, 2, 7), 0.75),
        LowRankModule.lora(OUT1, random(4, 16, 8), random(8, 4, 9), 2.0),
        LowRankModule.lora(Q10, random(3, 8, 10), random(8, 3, 11), 1.0 / 3));
    TaskHead head = TaskHead.classifier(TaskHead.Pooling.CLS, random(3, 8, 12), new float[] {0.1f, -0.2f, 0.3f},
        List.of("negative", "neutral", "positive"));
    Map<String, Object> hyper = new LinkedHashMap<>();
    hyper.put("rank", 4);
    hyper.put("lr", 0.001);
    hyper.put("targets", List.of("query", "value"));
    hyper.put("schedule", Map.of("warmup", 100, "decay", "linear"));
    hyper.put("fp16", false);
    Provenance provenance = new Provenance("sora", hyper, Map.of("train", "sst2/train.tsv", "rows", 6920), 42,
        Map.of("dev_accuracy", 0.91, "ranks_kept", 17), "2025-01-02T03:04:05Z", "lora4j test");
    return new Adapter("sst2", new BaseModelRef("minilm-l6", "ab".repeat(32)), Adapter.byName(modules), head,
        provenance);
  }

  static Matrix random(int rows, int cols, long seed) {
    Random r = new Random(seed);
    float[] data = new float[rows * cols];
    for (int i = 0; i < data.length; i++) {
      data[i] = (float) r.nextGaussian();
    }
    return new Matrix(rows, cols, data);
  }

  private Path written() {
    Path dir = tmp.resolve("sst2");
    PeftAdapters.write(sample(), dir);
    return dir;
  }

  private static Path config(Path dir) {
    return dir.resolve("adapter_config.json");
  }

  private static Path weights(Path dir) {
    return dir.resolve("adapter_model.safetensors");
  }

  /** Moves the section back where lora4j wrote it before: an object in the config. */
  private Path writtenTheOldWay() {
    Path dir = written();
    try {
      Safetensors file = Safetensors.read(weights(dir));
      ObjectNode config = (ObjectNode) JSON.readTree(config(dir).toFile());
      config.set("lora4j", JSON.readTree(file.metadata().get("lora4j")));
      JSON.writeValue(config(dir).toFile(), config);
      new Safetensors(file.tensors(), Map.of("format", "pt")).write(weights(dir));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return dir;
  }

  private void assertSectionFails(Consumer<ObjectNode> edit, String problem) {
    Path dir = written();
    try {
      Safetensors file = Safetensors.read(weights(dir));
      ObjectNode section = (ObjectNode) JSON.readTree(file.metadata().get("lora4j"));
      edit.accept(section);
      Map<String, String> metadata = new LinkedHashMap<>(file.metadata());
      metadata.put("lora4j", JSON.writeValueAsString(section));
      new Safetensors(file.tensors(), metadata).write(weights(dir));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    assertFails(dir, weights(dir) + ": " + problem);
  }

  private void assertConfigFails(Consumer<ObjectNode> edit, String problem) {
    assertConfigFails(written(), edit, problem);
  }

  private void assertConfigFails(Path dir, Consumer<ObjectNode> edit, String problem) {
    try {
      ObjectNode config = (ObjectNode) JSON.readTree(config(dir).toFile());
      edit.accept(config);
      JSON.writeValue(config(dir).toFile(), config);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    assertFails(dir, config(dir) + ": " + problem);
  }

  private void assertTensorsFail(Consumer<Map<String, SafeTensor>> edit, String problem) {
    Path dir = written();
    Safetensors file = Safetensors.read(weights(dir));
    Map<String, SafeTensor> tensors = new LinkedHashMap<>(file.tensors());
    edit.accept(tensors);
    new Safetensors(tensors, file.metadata()).write(weights(dir));
    assertFails(dir, weights(dir) + ": " + problem);
  }

  private static void assertFails(Path dir, String message) {
    Lora4jException e = assertThrows(Lora4jException.class, () -> PeftAdapters.read(dir));
    assertEquals(message, e.getMessage());
  }

  private static void assertDeltasMatch(Path dir, Adapter adapter) {
    Safetensors expected = Safetensors.read(dir.resolve("expected_deltas.safetensors"));
    assertEquals(expected.tensors().keySet(), adapter.modules().keySet());
    expected.tensors().forEach((module, delta) -> {
      double diff = delta.toMatrix().maxAbsDifference(adapter.modules().get(module).delta());
      assertTrue(diff < 1e-5, module + " differs from PEFT's delta by " + diff);
    });
  }

  private static List<Long> shape(Safetensors file, String tensor) {
    return java.util.Arrays.stream(file.tensors().get(tensor).shape()).boxed().toList();
  }

  private Path fixture(String name) {
    try {
      return Path.of(getClass().getResource("/peft/" + name).toURI());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static List<String> list(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }
}
