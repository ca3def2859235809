package dev.lora4j.exporter;

import static dev.lora4j.exporter.Expected.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtLoraAdapter;
import dev.lora4j.exporter.TestAdapters.Kind;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.MixedBatchStacks;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.adapter.ortformat.MultiAdapterParameters;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.adapter.ortformat.OrtAdapterParameter;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.testing.TinyBert;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Every graph variant on the tiny BERT against the plain-Java reference, and against each other. */
class GraphParityTest {
  static final EncoderDescription BASE = EncoderDescription.of(TinyBert.model(5));
  static final List<long[]> SENTENCES = List.of(
      new long[] {2, 8, 13, 11, 31, 3},
      new long[] {2, 10, 12, 20, 41, 26, 16, 62, 3},
      new long[] {2, 50, 37, 14, 3});
  static final double TOLERANCE = 1e-4;

  /** Gated with T, ranks 2..6 over four kinds of module, three labels, mean pooling. */
  static Adapter sora() {
    return TestAdapters.adapter(BASE, "sora", ranks(Map.of(
            "encoder.layer.0.attention.self.query", 6, "encoder.layer.0.attention.self.value", 4,
            "encoder.layer.1.intermediate.dense", 5, "encoder.layer.1.output.dense", 3,
            "encoder.layer.1.attention.self.key", 2)),
        Kind.GATED_WITH_T, TestAdapters.classifier(TinyBert.HIDDEN, 3, TaskHead.Pooling.MEAN, 1), 11,
        "encoder.layer.1.attention.self.key");
  }

  /** Plain LoRA, rank 8 on other modules, two labels, CLS pooling. */
  static Adapter lora() {
    return TestAdapters.adapter(BASE, "lora", ranks(Map.of(
            "encoder.layer.0.attention.output.dense", 8, "encoder.layer.1.attention.self.query", 8,
            "encoder.layer.1.attention.self.value", 8)),
        Kind.LORA, TestAdapters.classifier(TinyBert.HIDDEN, 2, TaskHead.Pooling.CLS, 2), 12);
  }

  static Map<String, Integer> ranks(Map<String, Integer> m) {
    Map<String, Integer> sorted = new LinkedHashMap<>();
    m.keySet().stream().sorted().forEach(k -> sorted.put(k, m.get(k)));
    return sorted;
  }

  @Test
  void mergedAndFactoredMatchTheReference() throws Exception {
    for (Adapter adapter : List.of(sora(), lora())) {
      Expected expected = new Expected(BASE, adapter);
      Expected headOnly = new Expected(BASE, new Adapter("head-only", adapter.base(), Map.of(), adapter.head(),
          adapter.provenance()));
      // the adapter must matter, or this test could not tell a dropped branch from a working one
      assertTrue(maxAbsDiff(toFloats(headOnly.logits(SENTENCES.get(0))), expected.logits(SENTENCES.get(0))) > 1e-2);
      for (var model : List.of(MergedGraphWriter.write(BASE, adapter, false), FactoredGraphWriter.write(BASE, adapter, false))) {
        try (Ort ort = new Ort(model)) {
          Map<String, Object> out = ort.run(SENTENCES);
          float[][] logits = (float[][]) out.get(AdapterTensorNames.LOGITS);
          float[][] probs = (float[][]) out.get(AdapterTensorNames.PROBABILITIES);
          for (int i = 0; i < SENTENCES.size(); i++) {
            double[] z = expected.logits(SENTENCES.get(i));
            assertTrue(maxAbsDiff(logits[i], z) <= TOLERANCE, adapter.name() + " row " + i + ": " + maxAbsDiff(logits[i], z));
            assertTrue(maxAbsDiff(probs[i], Expected.softmax(z)) <= TOLERANCE);
          }
          assertTrue(out.containsKey(AdapterTensorNames.LAST_HIDDEN_STATE));
        }
      }
    }
  }

  static float[] toFloats(double[] v) {
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      f[i] = (float) v[i];
    }
    return f;
  }

  @Test
  void embeddingVariantOutputsTheNormalisedPooledVector() throws Exception {
    Adapter adapter = sora();
    Expected expected = new Expected(BASE, adapter);
    try (Ort ort = new Ort(MergedGraphWriter.write(BASE, adapter, true))) {
      Map<String, Object> out = ort.run(SENTENCES);
      assertEquals(Set.of(AdapterTensorNames.LAST_HIDDEN_STATE, AdapterTensorNames.SENTENCE_EMBEDDING), out.keySet());
      float[][] e = (float[][]) out.get(AdapterTensorNames.SENTENCE_EMBEDDING);
      for (int i = 0; i < SENTENCES.size(); i++) {
        assertTrue(maxAbsDiff(e[i], expected.embedding(SENTENCES.get(i))) <= 1e-5);
      }
    }
  }

  @Test
  void multiAdapterBaseWithoutAdapterIsThePlainBase() throws Exception {
    try (Ort multi = new Ort(MultiAdapterGraphWriter.write(BASE)); Ort plain = new Ort(BASE.model())) {
      Map<String, Object> out = multi.run(SENTENCES);
      float[][][] h = (float[][][]) out.get(AdapterTensorNames.LAST_HIDDEN_STATE);
      float[][][] h0 = (float[][][]) plain.run(SENTENCES).get(AdapterTensorNames.LAST_HIDDEN_STATE);
      for (int i = 0; i < h.length; i++) {
        for (int t = 0; t < h[i].length; t++) {
          assertArrayEquals(h0[i][t], h[i][t], 1e-6f);
        }
      }
      assertEquals(0, ((float[][]) out.get(AdapterTensorNames.LOGITS))[0].length);
      Expected expected = new Expected(BASE, null);
      float[][] e = (float[][]) out.get(AdapterTensorNames.SENTENCE_EMBEDDING);
      for (int i = 0; i < SENTENCES.size(); i++) {
        assertTrue(maxAbsDiff(e[i], expected.embedding(SENTENCES.get(i))) <= 1e-5);
      }
    }
  }

  @Test
  void twoAdaptersOfDifferentRanksShareOneMultiAdapterSession() throws Exception {
    Adapter a = sora();
    Adapter b = lora();
    Map<String, float[][]> mergedLogits = new HashMap<>();
    for (Adapter x : List.of(a, b)) {
      try (Ort merged = new Ort(MergedGraphWriter.write(BASE, x, false))) {
        mergedLogits.put(x.name(), (float[][]) merged.run(SENTENCES).get(AdapterTensorNames.LOGITS));
      }
    }
    try (Ort multi = new Ort(MultiAdapterGraphWriter.write(BASE));
        OrtLoraAdapter oa = OrtLoraAdapter.create(OrtAdapterFile.toBytes(MultiAdapterParameters.of(a)));
        OrtLoraAdapter ob = OrtLoraAdapter.create(OrtAdapterFile.toBytes(MultiAdapterParameters.of(b)))) {
      // switch per run, back and forth, on one session
      for (Adapter x : List.of(a, b, a, b)) {
        float[][] logits = (float[][]) multi.run(SENTENCES, Map.of(), x == a ? oa : ob).get(AdapterTensorNames.LOGITS);
        float[][] want = mergedLogits.get(x.name());
        assertEquals(want[0].length, logits[0].length);
        for (int i = 0; i < SENTENCES.size(); i++) {
          assertTrue(maxAbsDiff(logits[i], want[i]) <= TOLERANCE, x.name() + ": " + maxAbsDiff(logits[i], want[i]));
        }
      }
      // and no adapter again: the base
      assertEquals(0, ((float[][]) multi.run(SENTENCES).get(AdapterTensorNames.LOGITS))[0].length);
    }
  }

  @Test
  void mixedBatchRowsMatchTheirMergedModels() throws Exception {
    Adapter a = sora();
    Adapter b = lora();
    List<Adapter> slots = Arrays.asList(a, b, null);
    long[] index = {1, 0, 2, 0, 1};
    List<long[]> rows = new ArrayList<>();
    for (int i = 0; i < index.length; i++) {
      rows.add(SENTENCES.get(i % SENTENCES.size()));
    }
    MixedBatchStacks stacks = MixedBatchStacks.pack(slots, MixedBatchGraphWriter.layout(BASE));
    assertArrayEquals(new int[] {3, 2, 0}, stacks.labels());
    Map<String, OnnxTensor> feeds = new HashMap<>();
    for (OrtAdapterParameter p : stacks.parameters()) {
      feeds.put(p.name(), Ort.tensor(p));
    }
    feeds.put(AdapterTensorNames.ADAPTER_INDEX, OnnxTensor.createTensor(Ort.ENV, index));
    Map<String, Object> out;
    try (Ort mixed = new Ort(MixedBatchGraphWriter.write(BASE))) {
      out = mixed.run(rows, feeds, null);
    } finally {
      for (OnnxTensor t : feeds.values()) {
        t.close();
      }
    }
    float[][] logits = (float[][]) out.get(AdapterTensorNames.LOGITS);
    float[][] probs = (float[][]) out.get(AdapterTensorNames.PROBABILITIES);
    float[][] emb = (float[][]) out.get(AdapterTensorNames.SENTENCE_EMBEDDING);
    assertEquals(3, logits[0].length, "logits as wide as the widest slot");
    Map<String, float[][]> merged = new HashMap<>();
    for (Adapter x : List.of(a, b)) {
      try (Ort m = new Ort(MergedGraphWriter.write(BASE, x, false))) {
        merged.put(x.name(), (float[][]) m.run(SENTENCES).get(AdapterTensorNames.LOGITS));
      }
    }
    for (int i = 0; i < rows.size(); i++) {
      Adapter x = slots.get((int) index[i]);
      int labels = stacks.labels()[(int) index[i]];
      float[] real = Arrays.copyOf(logits[i], labels);
      for (int l = labels; l < 3; l++) {
        assertEquals(AdapterTensorNames.PADDED_LABEL_LOGIT, logits[i][l], "padded logit, row " + i);
        // a slot without labels gets uniform probabilities rather than NaN; otherwise padding gets none
        assertEquals(labels == 0 ? 1f / 3 : 0f, probs[i][l], 1e-7f, "padded label probability, row " + i);
      }
      assertTrue(maxAbsDiff(emb[i], new Expected(BASE, x).embedding(rows.get(i))) <= 1e-5, "embedding row " + i);
      if (x != null) {
        float[] want = merged.get(x.name())[i % SENTENCES.size()];
        assertTrue(maxAbsDiff(real, want) <= TOLERANCE, "row " + i + " (" + x.name() + "): " + maxAbsDiff(real, want));
      }
    }
  }
}
