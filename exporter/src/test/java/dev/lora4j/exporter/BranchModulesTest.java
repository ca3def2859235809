package dev.lora4j.exporter;

import static dev.lora4j.exporter.Expected.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtLoraAdapter;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.MixedBatchStacks;
import dev.lora4j.models.adapter.ortformat.MultiAdapterParameters;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.adapter.ortformat.OrtAdapterParameter;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.testing.TinyBert;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Branches only on the modules the exported adapters use ({@code export --adapter-modules}): the
 * graphs must still answer exactly as the merged graph, and no module an adapter changes may go
 * without a branch.
 */
class BranchModulesTest {
  private static final List<long[]> SENTENCES = GraphParityTest.SENTENCES;
  /**
   * Multi / mixed graph against the merged graph of the same adapter: both float32, differing only in
   * where {@code B·A} is added ({@code x·(W+ΔW)} vs {@code x·W + (x·A)·B}); on the tiny BERT that
   * rounding stays far below 1e-5, while a dropped branch moves logits by more than 1e-2.
   */
  private static final double TOLERANCE = 1e-5;

  private static List<String> names(List<LinearModule> modules) {
    return modules.stream().map(LinearModule::name).toList();
  }

  private static long branchInputs(OnnxModel m, String suffix) {
    return m.inputs().stream().filter(v -> v.getName().endsWith(suffix)).count();
  }

  /** sora's layer-1 key has every gate zero: compaction drops it, so it needs no branch either. */
  @Test
  void usedIsTheUnionOfTheAdaptersModulesInTheBaseModelsOrder() {
    List<LinearModule> used = BranchModules.resolve(GraphParityTest.BASE, "used",
        List.of(GraphParityTest.lora(), GraphParityTest.sora().compact()));
    assertEquals(List.of("encoder.layer.0.attention.self.query", "encoder.layer.0.attention.self.value",
        "encoder.layer.0.attention.output.dense", "encoder.layer.1.attention.self.query",
        "encoder.layer.1.attention.self.value", "encoder.layer.1.intermediate.dense", "encoder.layer.1.output.dense"),
        names(used));
  }

  @Test
  void allKeepsEveryAdaptableModuleAndAnAdapterWithoutModulesGetsThemAllToo() {
    assertEquals(TinyBert.LAYERS * 6, GraphParityTest.BASE.modules().size());
    assertEquals(GraphParityTest.BASE.modules(),
        BranchModules.resolve(GraphParityTest.BASE, "ALL", List.of(GraphParityTest.lora())));
    Adapter headOnly = new Adapter("head", GraphParityTest.lora().base(), Map.of(), GraphParityTest.lora().head(),
        GraphParityTest.lora().provenance());
    assertEquals(GraphParityTest.BASE.modules(), BranchModules.resolve(GraphParityTest.BASE, "used", List.of(headOnly)));
  }

  @Test
  void aListTakesTrainTargetsNamesAndMayReachBeyondTheUsedModules() {
    List<LinearModule> listed = BranchModules.resolve(GraphParityTest.BASE, "query,value,attention.output",
        List.of(GraphParityTest.lora()));
    assertEquals(6, listed.size());
    assertTrue(names(listed).contains("encoder.layer.0.attention.self.query"));
    assertEquals("query,value,attention.output", BranchModules.recorded(" query,value,attention.output "));
    assertEquals("all", BranchModules.recorded("All"));
  }

  @Test
  void aListThatLeavesOutAModuleAnAdapterChangesIsRefused() {
    Lora4jException e = assertThrows(Lora4jException.class, () -> BranchModules.resolve(GraphParityTest.BASE,
        "query", List.of(GraphParityTest.lora())));
    assertEquals("--adapter-modules query gives no branch to 2 modules encoder.layer.0.attention.output.dense, "
        + "encoder.layer.1.attention.self.value, which adapter 'lora' changes; the multi and mixed graphs would drop "
        + "its update there. Add them to the list, or use --adapter-modules used (the default) or all", e.getMessage());
    Lora4jException unknown = assertThrows(Lora4jException.class, () -> BranchModules.resolve(GraphParityTest.BASE,
        "query,gate", List.of(GraphParityTest.lora())));
    assertTrue(unknown.getMessage().startsWith("--adapter-modules query,gate: unknown module type 'gate'"),
        unknown.getMessage());
  }

  @Test
  void aMultiGraphWithBranchesOnTheUsedModulesAnswersAsEachMergedGraph() throws Exception {
    Adapter a = GraphParityTest.lora();
    Adapter b = GraphParityTest.sora().compact();
    List<LinearModule> used = BranchModules.resolve(GraphParityTest.BASE, "used", List.of(a, b));
    OnnxModel multi = MultiAdapterGraphWriter.write(GraphParityTest.BASE, used);
    assertEquals(used.size(), branchInputs(multi, ".lora_A"));
    assertEquals(7, used.size(), "fewer than the base's 12, or this test shows nothing");
    try (Ort ort = new Ort(multi);
        OrtLoraAdapter oa = OrtLoraAdapter.create(OrtAdapterFile.toBytes(MultiAdapterParameters.of(a)));
        OrtLoraAdapter ob = OrtLoraAdapter.create(OrtAdapterFile.toBytes(MultiAdapterParameters.of(b)))) {
      for (Adapter x : List.of(a, b, a)) {
        float[][] want;
        try (Ort merged = new Ort(MergedGraphWriter.write(GraphParityTest.BASE, x, false))) {
          want = (float[][]) merged.run(SENTENCES).get(AdapterTensorNames.LOGITS);
        }
        float[][] got = (float[][]) ort.run(SENTENCES, Map.of(), x == a ? oa : ob).get(AdapterTensorNames.LOGITS);
        float[][] headOnly;
        try (Ort merged = new Ort(MergedGraphWriter.write(GraphParityTest.BASE, new Adapter("h", x.base(), Map.of(),
            x.head(), x.provenance()), false))) {
          headOnly = (float[][]) merged.run(SENTENCES).get(AdapterTensorNames.LOGITS);
        }
        for (int i = 0; i < SENTENCES.size(); i++) {
          assertTrue(maxAbsDiff(got[i], want[i]) <= TOLERANCE, x.name() + " row " + i + ": " + maxAbsDiff(got[i], want[i]));
          // the branches matter: without them the answer moves far beyond the tolerance
          assertTrue(maxAbsDiff(headOnly[i], want[i]) > 1e-2, x.name() + " row " + i);
        }
      }
    }
  }

  @Test
  void aMixedGraphWithBranchesOnTheUsedModulesAnswersEachRowAsItsMergedGraph() throws Exception {
    Adapter a = GraphParityTest.sora().compact();
    Adapter b = GraphParityTest.lora();
    List<LinearModule> used = BranchModules.resolve(GraphParityTest.BASE, "used", List.of(a, b));
    OnnxModel mixedGraph = MixedBatchGraphWriter.write(GraphParityTest.BASE, used);
    assertEquals(used.size(), branchInputs(mixedGraph, ".lora_A.stacked"));
    List<Adapter> slots = Arrays.asList(a, b, null);
    long[] index = {1, 0, 2, 0, 1};
    List<long[]> rows = new ArrayList<>();
    for (int i = 0; i < index.length; i++) {
      rows.add(SENTENCES.get(i % SENTENCES.size()));
    }
    MixedBatchStacks stacks = MixedBatchStacks.pack(slots, MixedBatchGraphWriter.layout(GraphParityTest.BASE, used));
    Map<String, OnnxTensor> feeds = new HashMap<>();
    for (OrtAdapterParameter p : stacks.parameters()) {
      feeds.put(p.name(), Ort.tensor(p));
    }
    feeds.put(AdapterTensorNames.ADAPTER_INDEX, OnnxTensor.createTensor(Ort.ENV, index));
    Map<String, Object> out;
    try (Ort mixed = new Ort(mixedGraph)) {
      out = mixed.run(rows, feeds, null);
    } finally {
      for (OnnxTensor t : feeds.values()) {
        t.close();
      }
    }
    float[][] logits = (float[][]) out.get(AdapterTensorNames.LOGITS);
    Map<String, float[][]> merged = new HashMap<>();
    for (Adapter x : List.of(a, b)) {
      try (Ort m = new Ort(MergedGraphWriter.write(GraphParityTest.BASE, x, false))) {
        merged.put(x.name(), (float[][]) m.run(SENTENCES).get(AdapterTensorNames.LOGITS));
      }
    }
    for (int i = 0; i < rows.size(); i++) {
      Adapter x = slots.get((int) index[i]);
      if (x != null) {
        float[] want = merged.get(x.name())[i % SENTENCES.size()];
        float[] got = Arrays.copyOf(logits[i], want.length);
        assertTrue(maxAbsDiff(got, want) <= TOLERANCE, "row " + i + ": " + maxAbsDiff(got, want));
      }
    }
  }
}
