package dev.lora4j.exporter;

import static dev.lora4j.exporter.Expected.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtLoraAdapter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A LoRA adapter as Hugging Face PEFT saves one for BertForSequenceClassification-style wrappers
 * ({@code bert.} module prefix, rank and alpha patterns), exported through every format and checked
 * against {@code delta W = alpha_m / r_m · B · A} computed here from the raw tensors.
 */
class PeftImportTest {
  static final String PREFIX = "base_model.model.bert.encoder.layer.";

  @Test
  void aPeftAdapterExportsEverywhereAndMatchesTheFormulas(@TempDir Path dir) throws Exception {
    BaseModelFiles files = TinyBert.writeBase(dir.resolve("tiny"), 9).files();
    Path model = files.onnx();
    EncoderDescription base = EncoderDescription.of(OnnxModel.read(model));

    // r 4, alpha 8 overall; values get alpha 3; layer 1's value gets rank 2
    Random rnd = new Random(17);
    Map<String, Matrix> tensors = new LinkedHashMap<>();
    Map<String, Matrix> deltas = new LinkedHashMap<>();
    for (int layer = 0; layer < 2; layer++) {
      for (String kind : List.of("query", "value")) {
        String module = "encoder.layer." + layer + ".attention.self." + kind;
        int r = layer == 1 && kind.equals("value") ? 2 : 4;
        double alpha = kind.equals("value") ? 3 : 8;
        Matrix a = TestAdapters.random(rnd, r, 32, 0.2);
        Matrix b = TestAdapters.random(rnd, 32, r, 0.2);
        tensors.put(PREFIX + layer + ".attention.self." + kind + ".lora_A.weight", a);
        tensors.put(PREFIX + layer + ".attention.self." + kind + ".lora_B.weight", b);
        deltas.put(module, b.multiply(a).scale(alpha / r));
      }
    }
    Path peft = PeftFixture.write(dir.resolve("peft-sst2"), "tiny-bert", 4, 8,
        Map.of("layer.1.attention.self.value", 2), Map.of("value", 3.0), List.of("query", "value"), tensors);

    Adapter imported = PeftAdapters.read(peft);
    Path out = dir.resolve("export");
    ExportBundle.export(ExportRequest.of(files, List.of(imported), EnumSet.allOf(ExportFormat.class), out), s -> { });

    Expected expected = new Expected(base, deltas, TaskHead.embeddings(TaskHead.Pooling.MEAN));
    Expected plain = new Expected(base, null);
    List<long[]> sentences = GraphParityTest.SENTENCES;
    String name = imported.name();
    for (String file : List.of(ExportLayout.merged(name), ExportLayout.factored(name))) {
      try (Ort ort = new Ort(out.resolve(file))) {
        check(file, (float[][]) ort.run(sentences).get(AdapterTensorNames.SENTENCE_EMBEDDING), expected, plain);
      }
    }
    try (Ort multi = new Ort(out.resolve(ExportLayout.MULTI_GRAPH));
        OrtLoraAdapter a = OrtLoraAdapter.create(out.resolve(ExportLayout.onnxAdapter(name)).toAbsolutePath().toString())) {
      check("multi", (float[][]) multi.run(sentences, Map.of(), a).get(AdapterTensorNames.SENTENCE_EMBEDDING),
          expected, plain);
    }

    // the compact PEFT copy reloads, with per-module ranks in rank_pattern
    Path copy = out.resolve(ExportLayout.peft(name));
    Adapter reloaded = PeftAdapters.read(copy);
    assertEquals(imported.compact().ranks(), reloaded.ranks());
    for (var e : deltas.entrySet()) {
      assertTrue(reloaded.modules().get(e.getKey()).delta().maxAbsDifference(e.getValue()) < 1e-6, e.getKey());
    }
    JsonNode config = new ObjectMapper().readTree(copy.resolve(PeftAdapters.CONFIG_FILE).toFile());
    assertEquals(4, config.get("r").asInt());
    assertEquals(2, config.get("rank_pattern").get("encoder.layer.1.attention.self.value").asInt(), config.toString());
  }

  private static void check(String what, float[][] embeddings, Expected expected, Expected plain) {
    for (int i = 0; i < embeddings.length; i++) {
      long[] ids = GraphParityTest.SENTENCES.get(i);
      double diff = maxAbsDiff(embeddings[i], expected.embedding(ids));
      assertTrue(diff <= 1e-5, what + " row " + i + ": " + diff);
      // and the adapter visibly moved the embedding, so a dropped branch could not pass
      assertTrue(maxAbsDiff(embeddings[i], plain.embedding(ids)) > 1e-3, what + " row " + i + " equals the base");
    }
  }
}
