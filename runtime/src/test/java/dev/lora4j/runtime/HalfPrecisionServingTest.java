package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.exporter.ExportBundle;
import dev.lora4j.exporter.ExportFormat;
import dev.lora4j.exporter.ExportRequest;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterDtype;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.testing.SyntheticAdapters;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.export.AdapterFiles;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.testing.HalfReference;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * fp16 adapters in the runtime. The design widens a FLOAT16 file to float32 when it is loaded, so
 * one float32 multi graph and one mixed graph serve both kinds side by side; the answer an fp16
 * adapter gets must then be bit for bit that of a float32 adapter whose factors plain Java
 * ({@link HalfReference}) rounded to float16, through the same graphs, and a float32 adapter's
 * file (hence its answers) must be what it was before the dtype existed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HalfPrecisionServingTest {
  private static final List<String> TEXTS = ExportFixture.TEXTS;
  /**
   * SHA-256 of the files a float32 export of {@link #adapter} wrote before {@code --adapter-dtype}
   * existed, computed with commit 5f63cdf's jars (the same ExportBundle.export call as below). Equal
   * files give equal answers: the adapter file ONNX Runtime gets, and the graphs, which still take
   * float32 (no Cast was added). If a graph writer changes on purpose, recompute the graphs' hashes
   * from the new writer; the adapter file's must not change. (The multi and mixed graphs' hashes were
   * recomputed each time they got more of ONNX Runtime's fused kernels, exporter OrtFusedOps.)
   */
  private static final Map<String, String> FP32_FILES_BEFORE = Map.of(
      "x.onnx_adapter", "dac6db16e7d86868e80d9cebc2f5064c367a76e1e99be390e3c21c52134e650e",
      "x.merged.onnx", "55c9cabcfd47246ae974059a73f3104f5c24fde10d3ccb37772dd75592320e33",
      "base.multi.onnx", "fa70deac08294cc32d0b1fa3f2d1ef11908463c1e82ec110a6ca32ec531dae9e",
      "base.mixed.onnx", "68c525221179f978973826bac46abf07c9ed8f1442849473d58e5d772584b622");

  private Adapter x;
  private Path plain;
  private Path half;
  private Path ref;
  private Path int8;
  private Path int8Ref;

  static Adapter adapter(EncoderDescription d, BaseModelRef base) {
    Map<String, Integer> ranks = new LinkedHashMap<>();
    ranks.put("encoder.layer.0.attention.self.query", 4);
    ranks.put("encoder.layer.1.attention.self.value", 2);
    ranks.put("encoder.layer.0.intermediate.dense", 3);
    return SyntheticAdapters.classifier(d, base, "x", ranks, 2, TaskHead.Pooling.MEAN, 31);
  }

  @BeforeAll
  void export(@TempDir Path tmp) throws Exception {
    Path baseDir = TinyBert.writeBaseModel(tmp.resolve("base"), 21);
    Path model = baseDir.resolve("model.onnx");
    BaseModelRef base = new BaseModelRef("tiny", AtomicFiles.sha256(model));
    x = adapter(EncoderDescription.of(OnnxModel.read(model)), base);
    BaseModelFiles files = new BaseModelFiles("tiny", model, baseDir.resolve("tokenizer.json"), base.onnxSha256());
    EnumSet<ExportFormat> formats = EnumSet.of(ExportFormat.MERGED, ExportFormat.MULTI, ExportFormat.MIXED);
    plain = tmp.resolve("plain");
    half = tmp.resolve("half");
    ref = tmp.resolve("ref");
    // branches on every module: the graphs pinned below predate --adapter-modules, whose "all" must keep them
    ExportBundle.export(ExportRequest.of(files, List.of(x), formats, plain).withAdapterModules("all"), line -> { });
    ExportBundle.export(ExportRequest.of(files, List.of(x), formats, half).withAdapterDtype(AdapterDtype.FP16)
        .withAdapterModules("all"), line -> { });
    ExportBundle.export(ExportRequest.of(files, List.of(HalfReference.round(x.compact())), formats, ref), line -> { });
    int8 = tmp.resolve("int8");
    int8Ref = tmp.resolve("int8-ref");
    ExportBundle.export(ExportRequest.of(files, List.of(x), formats, int8).withAdapterDtype(AdapterDtype.INT8),
        line -> { });
    // the values the int8 file holds (AdapterDtypeFilesTest checks them against a plain-Java quantiser)
    ExportBundle.export(ExportRequest.of(files,
        List.of(AdapterFiles.read(int8.resolve(ExportLayout.onnxAdapter("x")))), formats, int8Ref), line -> { });
  }

  /** int8 is widened at load like fp16: served exactly as a float32 adapter holding the dequantised values. */
  @Test
  void anInt8AdapterIsServedAsItsDequantisedValues() {
    try (AdapterRuntime rt = AdapterRuntime.open(plain)) {
      rt.load("q", int8.resolve(ExportLayout.onnxAdapter("x")));
      rt.load("r", int8Ref.resolve(ExportLayout.onnxAdapter("x")));
      List<Prediction> q = rt.predict("q", TEXTS);
      List<Prediction> r = rt.predict("r", TEXTS);
      List<MixedRequest> rows = new ArrayList<>();
      TEXTS.forEach(t -> {
        rows.add(new MixedRequest("q", t));
        rows.add(new MixedRequest("r", t));
      });
      List<Prediction> mixed = rt.predictMixed(rows);
      for (int i = 0; i < TEXTS.size(); i++) {
        assertArrayEquals(r.get(i).logits(), q.get(i).logits(), TEXTS.get(i));
        assertArrayEquals(mixed.get(2 * i + 1).logits(), mixed.get(2 * i).logits(), TEXTS.get(i));
      }
    }
  }

  @Test
  void aFloat32ExportIsByteForByteWhatItWasBefore() {
    FP32_FILES_BEFORE.forEach((file, sha) -> assertEquals(sha, AtomicFiles.sha256(plain.resolve(file)), file));
  }

  /** fp16 changes the adapter file only: the graphs serving it are the float32 export's. */
  @Test
  void anFp16ExportSharesTheFloat32ExportsBaseGraphs() {
    for (String graph : List.of(ExportLayout.MULTI_GRAPH, ExportLayout.MIXED_GRAPH)) {
      assertEquals(AtomicFiles.sha256(plain.resolve(graph)), AtomicFiles.sha256(half.resolve(graph)), graph);
    }
  }

  /** The merged graph of an fp16 export is built from the rounded factors: the one plain Java's rounding gives. */
  @Test
  void anFp16ExportsMergedGraphIsTheRoundedAdaptersMergedGraph() throws Exception {
    assertArrayEquals(Files.readAllBytes(ref.resolve(ExportLayout.merged("x"))),
        Files.readAllBytes(half.resolve(ExportLayout.merged("x"))));
  }

  @Test
  void oneRuntimeServesFp32AndFp16AdaptersSideBySideAndFp16EqualsTheRoundedFloat32() {
    try (AdapterRuntime rt = AdapterRuntime.open(plain)) {
      AdapterInfo full = rt.load("x");
      AdapterInfo h = rt.load("half", half.resolve(ExportLayout.onnxAdapter("x")));
      AdapterInfo r = rt.load("ref", ref.resolve(ExportLayout.onnxAdapter("x")));
      // Widened at load: an fp16 adapter holds as many resident bytes as a float32 one.
      assertEquals(full.bytes(), h.bytes());
      assertEquals(r.bytes(), h.bytes());
      System.out.printf("resident bytes per adapter: fp32 %d, fp16 %d%n", full.bytes(), h.bytes());

      // one adapter per run: the multi-adapter graph
      List<Prediction> viaHalf = rt.predict("half", TEXTS);
      List<Prediction> viaRef = rt.predict("ref", TEXTS);
      List<Prediction> viaFull = rt.predict("x", TEXTS);
      boolean roundingShows = false;
      for (int i = 0; i < TEXTS.size(); i++) {
        assertArrayEquals(viaRef.get(i).logits(), viaHalf.get(i).logits(), "multi graph, " + TEXTS.get(i));
        roundingShows |= !java.util.Arrays.equals(viaFull.get(i).logits(), viaHalf.get(i).logits());
      }
      assertTrue(roundingShows, "fp16 and fp32 answer alike to the bit: the check could not tell them apart");

      // one adapter per row: the mixed-batch graph, fp32 and fp16 rows in one batch
      List<MixedRequest> rows = new ArrayList<>();
      for (String t : TEXTS) {
        rows.add(new MixedRequest("half", t));
        rows.add(new MixedRequest("x", t));
        rows.add(new MixedRequest("ref", t));
      }
      List<Prediction> mixed = rt.predictMixed(rows);
      for (int i = 0; i < TEXTS.size(); i++) {
        assertArrayEquals(mixed.get(3 * i + 2).logits(), mixed.get(3 * i).logits(), "mixed graph, " + TEXTS.get(i));
        // the mixed graph is another graph: equal to the multi graph to float rounding, not to the bit
        assertTrue(ExportFixture.maxAbsDiff(viaFull.get(i).logits(), mixed.get(3 * i + 1).logits()) < 1e-5);
        assertTrue(ExportFixture.maxAbsDiff(viaHalf.get(i).logits(), mixed.get(3 * i).logits()) < 1e-5);
      }
    }
  }
}
