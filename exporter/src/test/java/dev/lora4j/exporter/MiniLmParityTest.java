package dev.lora4j.exporter;

import static dev.lora4j.exporter.Expected.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtLoraAdapter;
import dev.lora4j.exporter.TestAdapters.Kind;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.BaseModelCatalog;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.onnx.OnnxModel;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real all-MiniLM-L6-v2 (opset 11, decomposed LayerNorm): one export, then merged, factored and
 * multi-adapter logits against the plain-Java reference forward, and the multi-adapter base with no
 * adapter (fused kernels) against the plain base. One test method, because every session on this model costs ~1 s.
 */
class MiniLmParityTest {
  static final List<long[]> SENTENCES = List.of(
      new long[] {101, 2023, 3185, 2001, 6429, 1998, 4276, 102}, // this movie was wonderful and fun
      new long[] {101, 1045, 5223, 2009, 102}); // i hated it

  @Test
  void exportedGraphsMatchTheReferenceForward(@TempDir Path dir) throws Exception {
    BaseModelFiles files = new BaseModelCatalog(dir.resolve("cache")).resolve(BaseModelCatalog.DEFAULT_ID);
    EncoderDescription base = EncoderDescription.of(OnnxModel.read(files.onnx()));
    Map<String, Integer> soraRanks = new LinkedHashMap<>();
    int r = 2;
    for (LinearModule m : base.resolveTargets("query,value")) {
      soraRanks.put(m.name(), r);
      r = r % 8 + 2; // 2, 4, 6, 8, 2, ... (gates then prune a third of them)
    }
    soraRanks.put("encoder.layer.3.intermediate.dense", 6);
    soraRanks.put("encoder.layer.5.output.dense", 5);
    Adapter sora = TestAdapters.adapter(base, "sora", soraRanks, Kind.GATED_WITH_T,
        TestAdapters.classifier(384, 2, TaskHead.Pooling.MEAN, 7), 31);
    Map<String, Integer> loraRanks = new LinkedHashMap<>();
    base.resolveTargets("key,attention.output").forEach(m -> loraRanks.put(m.name(), 4));
    Adapter lora = TestAdapters.adapter(base, "lora", loraRanks, Kind.LORA,
        TestAdapters.classifier(384, 3, TaskHead.Pooling.CLS, 8), 32);

    Path out = dir.resolve("export");
    ExportBundle.export(ExportRequest.of(files, List.of(sora, lora),
        EnumSet.of(ExportFormat.MERGED, ExportFormat.FACTORED, ExportFormat.MULTI), out), s -> { });

    // the multi graph carries ONNX Runtime's fused kernels: on the real model (opset 11, decomposed
    // LayerNorm) every layer must match the patterns, or the parity below would test unfused graphs
    OnnxModel multiGraph = OnnxModel.read(out.resolve(ExportLayout.MULTI_GRAPH));
    assertEquals(6, OrtFusedOpsTest.fusedAttention(multiGraph));
    assertEquals(12, multiGraph.nodes().stream().filter(n -> n.getOpType().equals("SkipLayerNormalization")).count());

    Map<String, double[][]> expected = new LinkedHashMap<>();
    for (Adapter a : List.of(sora, lora)) {
      Expected e = new Expected(base, a);
      expected.put(a.name(), SENTENCES.stream().map(e::logits).toArray(double[][]::new));
    }
    double worst = 0;
    // the second adapter is checked through the multi-adapter graph only: one session less on a 90 MB model
    for (String file : List.of(ExportLayout.merged("sora"), ExportLayout.factored("sora"))) {
      try (Ort ort = new Ort(out.resolve(file))) {
        worst = Math.max(worst, check(file, (float[][]) ort.run(SENTENCES).get(AdapterTensorNames.LOGITS),
            expected.get(file.substring(0, 4))));
      }
    }
    try (Ort multi = new Ort(out.resolve(ExportLayout.MULTI_GRAPH));
        Ort plain = new Ort(files.onnx())) {
      for (Adapter a : List.of(sora, lora)) {
        try (OrtLoraAdapter oa = OrtLoraAdapter.create(out.resolve(ExportLayout.onnxAdapter(a.name())).toAbsolutePath().toString())) {
          worst = Math.max(worst, check("multi + " + a.name(),
              (float[][]) multi.run(SENTENCES, Map.of(), oa).get(AdapterTensorNames.LOGITS), expected.get(a.name())));
        }
      }
      float[][][] h = (float[][][]) multi.run(SENTENCES).get(AdapterTensorNames.LAST_HIDDEN_STATE);
      float[][][] h0 = (float[][][]) plain.run(SENTENCES).get(AdapterTensorNames.LAST_HIDDEN_STATE);
      double baseDiff = 0;
      for (int i = 0; i < h.length; i++) {
        for (int t = 0; t < SENTENCES.get(i).length; t++) {
          baseDiff = Math.max(baseDiff, maxAbsDiff(h[i][t], h0[i][t]));
        }
      }
      System.out.printf("MiniLM: worst logit diff vs reference %.2e, multi without adapter vs base %.2e%n",
          worst, baseDiff);
      assertTrue(baseDiff <= 1e-5, "multi-adapter base without adapter vs plain base: " + baseDiff);
    }
  }

  private static double check(String what, float[][] logits, double[][] want) {
    double worst = 0;
    assertEquals(want.length, logits.length);
    for (int i = 0; i < want.length; i++) {
      worst = Math.max(worst, maxAbsDiff(logits[i], want[i]));
    }
    assertTrue(worst <= 1e-4, what + ": max abs logit diff " + worst);
    return worst;
  }
}
