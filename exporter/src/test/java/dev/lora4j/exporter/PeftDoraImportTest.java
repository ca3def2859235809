package dev.lora4j.exporter;

import static dev.lora4j.exporter.Expected.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.adapter.safetensors.SafeTensor;
import dev.lora4j.models.adapter.safetensors.Safetensors;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.models.testing.TinyBert;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A DoRA adapter real PEFT 0.21 wrote (models' {@code peft/bert-dora} fixture, on TinyBert seed 5)
 * exports to merged and factored graphs that compute PEFT's own merged weights; the shared-graph
 * formats refuse it. The reference is PEFT's merge_and_unload() output, never lora4j's fold.
 */
class PeftDoraImportTest {
  private static final long BASE_SEED = 5; // the base the fixture script loaded (tiny-base.safetensors)
  private static final String[] FIXTURE = {"adapter_config.json", "adapter_model.safetensors",
      "merged_weights.safetensors"};

  @TempDir Path dir;

  @Test
  void mergedAndFactoredGraphsOfADoraAdapterComputePeftsMergedWeights() throws Exception {
    BaseModelFiles files = TinyBert.writeBase(dir.resolve("tiny"), BASE_SEED).files();
    Path model = files.onnx();
    EncoderDescription base = EncoderDescription.of(OnnxModel.read(model));
    Path fixture = fixture();
    Adapter dora = PeftAdapters.read(fixture);
    Map<String, Matrix> peftMerged = new LinkedHashMap<>();
    Safetensors.read(fixture.resolve("merged_weights.safetensors")).tensors()
        .forEach((k, v) -> peftMerged.put(k, v.toMatrix()));

    Path out = dir.resolve("export");
    ExportBundle.export(ExportRequest.of(files, List.of(dora),
        EnumSet.of(ExportFormat.MERGED, ExportFormat.FACTORED, ExportFormat.PEFT), out), s -> { });

    // 1e-5: PEFT merged in float32, lora4j in double, both rounded to float32 (weights O(0.1..1))
    OnnxModel merged = OnnxModel.read(out.resolve(ExportLayout.merged(dora.name())));
    Map<String, Matrix> deltas = new LinkedHashMap<>();
    Map<String, Matrix> loraDeltas = new LinkedHashMap<>();
    for (Map.Entry<String, Matrix> e : peftMerged.entrySet()) {
      String initializer = base.requireModule(e.getKey()).weightInitializer();
      Matrix wT = base.model().floatInitializer(initializer).asMatrix();
      Matrix ours = merged.floatInitializer(initializer).asMatrix().transpose();
      double diff = ours.maxAbsDifference(e.getValue());
      assertTrue(diff <= 1e-5, e.getKey() + ": merged graph weight differs from PEFT's by " + diff);
      deltas.put(e.getKey(), e.getValue().add(wT.transpose().scale(-1)));
      loraDeltas.put(e.getKey(), Expected.delta(dora.modules().get(e.getKey())));
    }

    // The forward pass with PEFT's merged weights, in double, is what both graphs must compute.
    TaskHead head = TaskHead.embeddings(TaskHead.Pooling.MEAN);
    Expected expected = new Expected(base, deltas, head);
    Expected plainLora = new Expected(base, loraDeltas, head);
    for (String file : List.of(ExportLayout.merged(dora.name()), ExportLayout.factored(dora.name()))) {
      try (Ort ort = new Ort(out.resolve(file))) {
        float[][] embeddings = (float[][]) ort.run(GraphParityTest.SENTENCES).get(AdapterTensorNames.SENTENCE_EMBEDDING);
        for (int i = 0; i < embeddings.length; i++) {
          long[] ids = GraphParityTest.SENTENCES.get(i);
          double diff = maxAbsDiff(embeddings[i], expected.embedding(ids));
          assertTrue(diff <= 1e-5, file + " row " + i + ": " + diff);
          // were use_dora ignored, the graph would compute plain LoRA: make sure that is far off
          assertTrue(maxAbsDiff(embeddings[i], plainLora.embedding(ids)) > 1e-3, file + " row " + i + " is plain LoRA");
        }
      }
    }

    // the PEFT copy keeps use_dora and the magnitudes
    Adapter copy = PeftAdapters.read(out.resolve(ExportLayout.peft(dora.name())));
    assertTrue(copy.usesDora());
    assertEquals(dora.compact().modules(), copy.modules());
  }

  /**
   * With {@code --quantize int8} a DoRA module's base MatMul becomes int8, but its magnitude scale
   * {@code m / ||W + B'A'||} must still read the float32 base weight: normalising by the quantised
   * weight would be a second, silent approximation on top of the int8 products.
   */
  @Test
  void anInt8FactoredDoraGraphNormalisesWithTheFloatBaseWeight() throws Exception {
    BaseModelFiles files = TinyBert.writeBase(dir.resolve("tiny"), BASE_SEED).files();
    Path model = files.onnx();
    EncoderDescription base = EncoderDescription.of(OnnxModel.read(model));
    Adapter dora = PeftAdapters.read(fixture());
    Path out = dir.resolve("export-int8");
    ExportBundle.export(ExportRequest.of(files, List.of(dora), EnumSet.of(ExportFormat.MERGED, ExportFormat.FACTORED),
        out).withInt8Base(true), s -> { });

    OnnxModel int8 = OnnxModel.read(out.resolve(ExportLayout.int8(ExportLayout.factored(dora.name()))));
    int normalised = 0;
    for (String module : dora.modules().keySet()) {
      String w = base.requireModule(module).weightInitializer();
      // the norm's Add(W, A'^T B'^T) is the only float consumer of W left once the MatMul is int8
      List<String> readers = int8.consumers(w).stream().map(n -> n.getOpType()).toList();
      assertEquals(List.of("Add"), readers, module + ": readers of " + w + " in the int8 factored graph");
      assertTrue(java.util.Arrays.equals(base.model().floatInitializer(w).data(), int8.floatInitializer(w).data()),
          module + ": the weight the norm reads is not the float32 base weight");
      normalised++;
    }
    assertEquals(dora.modules().size(), normalised);
    assertTrue(int8.nodes().stream().anyMatch(n -> n.getOpType().equals("DynamicQuantizeMatMul")), "no int8 MatMul");

    // and it runs: int8 factored and int8 merged both quantise, so the merged graph's distance from
    // the float32 factored graph (measured here, 3-6e-3 on TinyBert) is the allowance for the factored one
    try (Ort f32 = new Ort(out.resolve(ExportLayout.factored(dora.name())));
        Ort f8 = new Ort(out.resolve(ExportLayout.int8(ExportLayout.factored(dora.name()))));
        Ort m8 = new Ort(out.resolve(ExportLayout.int8(ExportLayout.merged(dora.name()))))) {
      float[][] ref = (float[][]) f32.run(GraphParityTest.SENTENCES).get(AdapterTensorNames.SENTENCE_EMBEDDING);
      float[][] fac = (float[][]) f8.run(GraphParityTest.SENTENCES).get(AdapterTensorNames.SENTENCE_EMBEDDING);
      float[][] mer = (float[][]) m8.run(GraphParityTest.SENTENCES).get(AdapterTensorNames.SENTENCE_EMBEDDING);
      double noise = 0;
      for (int i = 0; i < ref.length; i++) {
        noise = Math.max(noise, maxAbsDiff(mer[i], ref[i]));
      }
      assertTrue(noise > 0, "the int8 merged graph computed float32 exactly: not quantised");
      for (int i = 0; i < ref.length; i++) {
        double diff = maxAbsDiff(fac[i], ref[i]);
        assertTrue(diff <= 2 * noise, "row " + i + ": int8 factored DoRA is " + diff + " off, int8 merged " + noise);
      }
    }
  }

  @Test
  void multiAndMixedExportsRefuseADoraAdapterBeforeWritingAnything() throws Exception {
    BaseModelFiles files = TinyBert.writeBase(dir.resolve("tiny"), BASE_SEED).files();
    Adapter dora = PeftAdapters.read(fixture());
    for (ExportFormat format : List.of(ExportFormat.MULTI, ExportFormat.MIXED)) {
      Path out = dir.resolve("export-" + format);
      String message = assertThrows(Lora4jException.class, () -> ExportBundle.export(ExportRequest.of(files,
          List.of(dora), EnumSet.of(ExportFormat.MERGED, format), out), s -> { })).getMessage();
      assertEquals("adapter 'bert-dora' is a DoRA adapter (use_dora: a magnitude vector per module), which the"
          + " multi-adapter and mixed-batch graphs (--format multi / mixed, and their .onnx_adapter files) cannot"
          + " apply; export it as a merged or factored graph (--format merged / factored), which apply the magnitudes",
          message, format.toString());
      assertFalse(Files.exists(out), format + ": " + out + " was written");
    }
  }

  /** The fixture's files out of the models test jar, in a directory named like the fixture. */
  private Path fixture() throws Exception {
    Path out = Files.createDirectories(dir.resolve("bert-dora"));
    for (String f : FIXTURE) {
      try (InputStream in = getClass().getResourceAsStream("/peft/bert-dora/" + f)) {
        assertTrue(in != null, "fixture file peft/bert-dora/" + f + " is not on the test class path");
        Files.copy(in, out.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    }
    return out;
  }
}
