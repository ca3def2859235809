package dev.lora4j.exporter;

import static dev.lora4j.exporter.Expected.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An AdaLoRA adapter in PEFT's layout (lora_A / lora_B / lora_E, a resized module with its
 * rank_pattern mask, a zero singular value) exports like any adapter; the graphs are checked against
 * {@code delta W = B · diag(E) · A · alpha / (init_r + 1e-5)} computed here from the raw tensors.
 */
class PeftAdaLoraImportTest {
  private static final int INIT_R = 4;
  private static final double ALPHA = 6;

  @Test
  void anAdaLoraAdapterExportsAndMatchesTheFormula(@TempDir Path dir) throws Exception {
    BaseModelFiles files = TinyBert.writeBase(dir.resolve("tiny"), 9).files();
    Path model = files.onnx();
    EncoderDescription base = EncoderDescription.of(OnnxModel.read(model));

    // query keeps all 4 ranks but one singular value is exactly zero; value was resized to ranks 0 and 2
    boolean[] valueMask = {true, false, true, false};
    Random rnd = new Random(23);
    Map<String, Matrix> tensors = new LinkedHashMap<>();
    Map<String, Matrix> deltas = new LinkedHashMap<>();
    for (String kind : List.of("query", "value")) {
      String module = "encoder.layer.0.attention.self." + kind;
      int r = kind.equals("value") ? 2 : INIT_R;
      Matrix a = TestAdapters.random(rnd, r, 32, 0.2);
      Matrix b = TestAdapters.random(rnd, 32, r, 0.2);
      Matrix e = TestAdapters.random(rnd, r, 1, 1.0);
      if (kind.equals("query")) {
        e.data()[1] = 0f;
      }
      tensors.put("base_model.model." + module + ".lora_A", a);
      tensors.put("base_model.model." + module + ".lora_B", b);
      tensors.put("base_model.model." + module + ".lora_E", e);
      deltas.put(module, b.scaleColumns(e.data()).multiply(a).scale(ALPHA / (INIT_R + 1e-5)));
    }
    Path ada = dir.resolve("ada-sst2");
    Files.createDirectories(ada);
    ObjectMapper om = new ObjectMapper();
    ObjectNode c = om.createObjectNode();
    c.put("peft_type", "ADALORA");
    c.put("task_type", "FEATURE_EXTRACTION");
    c.put("base_model_name_or_path", "tiny-bert");
    c.put("init_r", INIT_R);
    c.put("target_r", 2);
    c.put("r", 8); // LoraConfig's field, which AdaLoRA ignores
    c.put("lora_alpha", ALPHA);
    c.put("bias", "none");
    ArrayNode mask = c.putObject("rank_pattern").putArray("encoder.layer.0.attention.self.value.lora_E");
    for (boolean m : valueMask) {
      mask.add(m);
    }
    om.writeValue(ada.resolve(PeftAdapters.CONFIG_FILE).toFile(), c);
    Files.write(ada.resolve(PeftAdapters.WEIGHTS_FILE), PeftFixture.safetensors(tensors));

    Adapter imported = PeftAdapters.read(ada);
    assertEquals(Map.of("encoder.layer.0.attention.self.query", 3, "encoder.layer.0.attention.self.value", 2),
        imported.ranks());
    Path out = dir.resolve("export");
    ExportBundle.export(ExportRequest.of(files, List.of(imported),
        EnumSet.of(ExportFormat.MERGED, ExportFormat.FACTORED, ExportFormat.PEFT), out), s -> { });

    Expected expected = new Expected(base, deltas, TaskHead.embeddings(TaskHead.Pooling.MEAN));
    Expected plain = new Expected(base, null);
    for (String file : List.of(ExportLayout.merged(imported.name()), ExportLayout.factored(imported.name()))) {
      try (Ort ort = new Ort(out.resolve(file))) {
        float[][] embeddings = (float[][]) ort.run(GraphParityTest.SENTENCES).get(AdapterTensorNames.SENTENCE_EMBEDDING);
        for (int i = 0; i < embeddings.length; i++) {
          long[] ids = GraphParityTest.SENTENCES.get(i);
          // 1e-5: float32 graphs against the float64 reference, as in PeftImportTest
          double diff = maxAbsDiff(embeddings[i], expected.embedding(ids));
          assertTrue(diff <= 1e-5, file + " row " + i + ": " + diff);
          assertTrue(maxAbsDiff(embeddings[i], plain.embedding(ids)) > 1e-3, file + " row " + i + " equals the base");
        }
      }
    }
    // the PEFT copy is a plain LoRA adapter with the folded factors
    Adapter copy = PeftAdapters.read(out.resolve(ExportLayout.peft(imported.name())));
    assertEquals(imported.ranks(), copy.ranks());
    for (var e : deltas.entrySet()) {
      assertTrue(copy.modules().get(e.getKey()).delta().maxAbsDifference(e.getValue()) < 1e-6, e.getKey());
    }
  }
}
