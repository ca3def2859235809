package dev.lora4j.exporter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtLoraAdapter;
import dev.lora4j.exporter.TestAdapters.Kind;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.adapter.ortformat.OrtAdapter;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pruning zero-gated ranks is exact, and the pruned ranks are gone from every file. */
class PruningTest {
  static final String Q0 = "encoder.layer.0.attention.self.query";
  static final String V0 = "encoder.layer.0.attention.self.value";
  static final String I1 = "encoder.layer.1.intermediate.dense";
  static final String K1 = "encoder.layer.1.attention.self.key";

  @Test
  void prunedRanksChangeNothingAndAreGoneFromTheFiles(@TempDir Path dir) throws Exception {
    BaseModelFiles files = TinyBert.writeBase(dir.resolve("base"), 5).files();
    Path model = files.onnx();
    EncoderDescription base = EncoderDescription.of(OnnxModel.read(model));
    Map<String, Integer> ranks = new LinkedHashMap<>();
    ranks.put(Q0, 6); // ranks 0 and 3 gated off: 4 live
    ranks.put(V0, 4); // 0 and 3 off: 2 live
    ranks.put(K1, 3); // every gate zero: the module disappears
    ranks.put(I1, 5); // 0 and 3 off: 3 live
    Adapter gated = TestAdapters.adapter(base, "gated", ranks, Kind.GATED,
        TestAdapters.classifier(TinyBert.HIDDEN, 2, TaskHead.Pooling.MEAN, 3), 21, K1);
    Adapter full = keepEveryRank(gated);
    var formats = EnumSet.of(ExportFormat.FACTORED, ExportFormat.MULTI);
    // branches on every module, so the pruned export's multi graph also takes the full adapter (whose
    // dead K1 module is still stored); the default would give K1 no branch, the pruned adapter not needing one
    ExportBundle.export(ExportRequest.of(files, List.of(gated), formats, dir.resolve("pruned")).withAdapterModules("all"),
        s -> { });
    ExportBundle.export(ExportRequest.of(files, List.of(full), formats, dir.resolve("full")), s -> { });

    // outputs: factored graphs and the multi-adapter graph with each adapter agree to 1e-6
    List<long[]> sentences = GraphParityTest.SENTENCES;
    float[][] pruned;
    float[][] unpruned;
    try (Ort a = new Ort(dir.resolve("pruned").resolve(ExportLayout.factored("gated")));
        Ort b = new Ort(dir.resolve("full").resolve(ExportLayout.factored("gated")))) {
      pruned = (float[][]) a.run(sentences).get(AdapterTensorNames.LOGITS);
      unpruned = (float[][]) b.run(sentences).get(AdapterTensorNames.LOGITS);
    }
    assertMaxDiff(pruned, unpruned, 1e-6);
    try (Ort multi = new Ort(dir.resolve("pruned").resolve(ExportLayout.MULTI_GRAPH));
        OrtLoraAdapter a = OrtLoraAdapter.create(path(dir, "pruned"));
        OrtLoraAdapter b = OrtLoraAdapter.create(path(dir, "full"))) {
      assertMaxDiff((float[][]) multi.run(sentences, Map.of(), a).get(AdapterTensorNames.LOGITS),
          (float[][]) multi.run(sentences, Map.of(), b).get(AdapterTensorNames.LOGITS), 1e-6);
      assertMaxDiff(pruned, (float[][]) multi.run(sentences, Map.of(), a).get(AdapterTensorNames.LOGITS), 1e-5);
    }

    // shapes: only live ranks are stored, the dead module is not stored at all
    OrtAdapter p = OrtAdapterFile.read(dir.resolve("pruned").resolve(ExportLayout.onnxAdapter("gated")));
    OrtAdapter f = OrtAdapterFile.read(dir.resolve("full").resolve(ExportLayout.onnxAdapter("gated")));
    assertArrayEquals(new long[] {32, 4}, p.parameter(AdapterTensorNames.loraA(Q0)).orElseThrow().dims());
    assertArrayEquals(new long[] {4, 32}, p.parameter(AdapterTensorNames.loraB(Q0)).orElseThrow().dims());
    assertArrayEquals(new long[] {32, 2}, p.parameter(AdapterTensorNames.loraA(V0)).orElseThrow().dims());
    assertArrayEquals(new long[] {32, 3}, p.parameter(AdapterTensorNames.loraA(I1)).orElseThrow().dims());
    assertArrayEquals(new long[] {3, 64}, p.parameter(AdapterTensorNames.loraB(I1)).orElseThrow().dims());
    assertFalse(p.parameter(AdapterTensorNames.loraA(K1)).isPresent());
    assertArrayEquals(new long[] {32, 6}, f.parameter(AdapterTensorNames.loraA(Q0)).orElseThrow().dims());

    // bytes: (in + out) floats per dead rank, nothing more is left behind
    long deadValues = 2 * (32 + 32) + 2 * (32 + 32) + 3 * (32 + 32) + 2 * (32 + 64);
    assertEquals(deadValues * 4, f.dataBytes() - p.dataBytes());
    long adapterSaving = size(dir, "full", ExportLayout.onnxAdapter("gated")) - size(dir, "pruned", ExportLayout.onnxAdapter("gated"));
    assertTrue(adapterSaving >= deadValues * 4, "adapter file shrank by " + adapterSaving);

    OnnxModel factored = OnnxModel.read(dir.resolve("pruned").resolve(ExportLayout.factored("gated")));
    assertEquals(List.of(32L, 4L), factored.initializer(AdapterTensorNames.loraA(Q0)).orElseThrow().getDimsList());
    assertFalse(factored.initializer(AdapterTensorNames.loraA(K1)).isPresent());
    assertEquals(0, factored.nodes().stream().filter(n -> n.getName().startsWith("/lora4j/" + K1 + "/")).count());
    long factoredSaving = size(dir, "full", ExportLayout.factored("gated")) - size(dir, "pruned", ExportLayout.factored("gated"));
    assertTrue(factoredSaving >= deadValues * 4, "factored graph shrank by " + factoredSaving);
    long branchValues = factored.initializers().stream().filter(t -> t.getName().contains(".lora_"))
        .mapToLong(t -> t.getRawData().size() / 4).sum();
    assertEquals(4 * 64 + 2 * 64 + 3 * 96, branchValues);
  }

  /** The same update with gates and scaling folded by hand but no rank removed (zero columns stay). */
  static Adapter keepEveryRank(Adapter a) {
    List<LowRankModule> out = new ArrayList<>();
    for (LowRankModule m : a.modules().values()) {
      out.add(LowRankModule.lora(m.module(), m.a(), m.b().scaleColumns(m.gate()).scale(m.scaling()), 1.0));
    }
    return new Adapter(a.name(), a.base(), Adapter.byName(out), a.head(), a.provenance());
  }

  private static String path(Path dir, String export) {
    return dir.resolve(export).resolve(ExportLayout.onnxAdapter("gated")).toAbsolutePath().toString();
  }

  private static long size(Path dir, String export, String file) throws Exception {
    return Files.size(dir.resolve(export).resolve(file));
  }

  static void assertMaxDiff(float[][] a, float[][] b, double tolerance) {
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Expected.maxAbsDiff(a[i], b[i]));
    }
    assertTrue(max <= tolerance, "max abs diff " + max + " > " + tolerance);
  }
}
