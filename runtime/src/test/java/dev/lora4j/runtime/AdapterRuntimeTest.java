package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.PeftAdapters;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdapterRuntimeTest {
  static final double TOLERANCE = 1e-4;

  Path tmp;
  ExportFixture fx;
  AdapterRuntime rt;

  @BeforeAll
  void export(@TempDir Path dir) throws Exception {
    tmp = dir;
    fx = new ExportFixture(tmp, 21);
    rt = AdapterRuntime.open(fx.dir, RuntimeOptions.defaults().withDevice(Device.CPU));
    for (String n : ExportFixture.NAMES) {
      rt.load(n, fx.adapterFile(n));
    }
  }

  @AfterAll
  void close() {
    rt.close();
  }

  void assertMatches(String adapter, String text, Prediction p) {
    float[] want = fx.expected.get(adapter).get(text);
    assertEquals(adapter, p.adapter());
    double diff = ExportFixture.maxAbsDiff(want, p.logits());
    assertTrue(diff <= TOLERANCE, adapter + " on '" + text + "': " + Arrays.toString(p.logits()) + " vs merged "
        + Arrays.toString(want) + " (diff " + diff + ")");
  }

  @Test
  void batchesMatchEachAdaptersMergedModel() {
    for (String n : ExportFixture.NAMES) {
      List<Prediction> ps = rt.predict(n, ExportFixture.TEXTS);
      for (int i = 0; i < ps.size(); i++) {
        assertMatches(n, ExportFixture.TEXTS.get(i), ps.get(i));
      }
      assertEquals(fx.adapters.get(n).head().labels(), ps.get(0).labels());
    }
  }

  @Test
  void switchingAdaptersPerRequestNeedsNoReload() {
    for (int round = 0; round < 3; round++) {
      for (String t : ExportFixture.TEXTS) {
        for (String n : ExportFixture.NAMES) {
          assertMatches(n, t, rt.predict(n, t));
        }
      }
    }
  }

  @Test
  void mixedBatchesAnswerEachRowWithItsOwnAdapter() {
    List<MixedRequest> rs = new ArrayList<>();
    for (int i = 0; i < 24; i++) {
      rs.add(new MixedRequest(ExportFixture.NAMES.get(i * 7 % 4), ExportFixture.TEXTS.get(i % 6)));
    }
    List<Prediction> ps = rt.predictMixed(rs);
    for (int i = 0; i < rs.size(); i++) {
      assertMatches(rs.get(i).adapter(), rs.get(i).text(), ps.get(i));
    }
  }

  @Test
  void microBatchedSinglesAreAnsweredByTheirAdapter() throws Exception {
    List<CompletableFuture<Prediction>> fs = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      fs.add(rt.submit(ExportFixture.NAMES.get(i % 4), ExportFixture.TEXTS.get(i % 6)));
    }
    for (int i = 0; i < 40; i++) {
      assertMatches(ExportFixture.NAMES.get(i % 4), ExportFixture.TEXTS.get(i % 6), fs.get(i).get(30, TimeUnit.SECONDS));
    }
  }

  @Test
  void loadsAPeftDirectoryToo() {
    Path peft = tmp.resolve("alpha-peft");
    PeftAdapters.write(fx.adapters.get("alpha"), peft);
    rt.load("alpha-peft", peft);
    try {
      for (String t : ExportFixture.TEXTS) {
        Prediction p = rt.predict("alpha-peft", t);
        assertTrue(ExportFixture.maxAbsDiff(fx.expected.get("alpha").get(t), p.logits()) <= TOLERANCE);
      }
    } finally {
      rt.unload("alpha-peft");
    }
  }

  @Test
  void listsAdaptersWithRanksAndSizes() {
    List<AdapterInfo> infos = rt.adapters();
    assertEquals(ExportFixture.NAMES.stream().sorted().toList(), infos.stream().map(AdapterInfo::name).toList());
    AdapterInfo alpha = infos.stream().filter(i -> i.name().equals("alpha")).findFirst().orElseThrow();
    assertEquals(8, alpha.ranks().get("encoder.layer.0.attention.self.query"));
    assertEquals(3, alpha.ranks().get("encoder.layer.0.intermediate.dense"));
    assertTrue(alpha.bytes() > 0);
    assertEquals(List.of("label0", "label1"), alpha.labels());
  }

  @Test
  void theBaseRunsWithoutAnyAdapter() {
    List<float[]> plain = rt.embed(null, List.of("a good movie", "dull"));
    List<float[]> adapted = rt.embed("alpha", List.of("a good movie"));
    double norm = 0;
    for (float v : plain.get(0)) {
      norm += v * v;
    }
    assertEquals(1.0, norm, 1e-5, "sentence embeddings are L2-normalised");
    assertTrue(ExportFixture.maxAbsDiff(plain.get(0), adapted.get(0)) > 1e-3, "the adapter changes the embedding");
  }

  @Test
  void badRequestsGetClearErrorsAndTheRuntimeKeepsServing() throws Exception {
    assertEquals("adapter 'nope' is not loaded",
        assertThrows(Lora4jException.class, () -> rt.predict("nope", "a good movie")).getMessage());
    assertEquals("text 0 is empty", assertThrows(Lora4jException.class, () -> rt.predict("alpha", " ")).getMessage());
    String huge = "good ".repeat(3_000);
    assertTrue(assertThrows(Lora4jException.class, () -> rt.predict("alpha", huge)).getMessage()
        .startsWith("text 0 has 15000 characters, over the limit of 10000"));
    List<String> many = Collections.nCopies(300, "fun");
    assertEquals("batch of 300 texts is over the limit of 256",
        assertThrows(Lora4jException.class, () -> rt.predict("alpha", many)).getMessage());

    Path corrupt = tmp.resolve("corrupt.onnx_adapter");
    byte[] bytes = Files.readAllBytes(fx.adapterFile("alpha"));
    Files.write(corrupt, Arrays.copyOf(bytes, bytes.length / 3));
    Files.copy(fx.dir.resolve("alpha.adapter.json"), tmp.resolve("corrupt.adapter.json"));
    Lora4jException bad = assertThrows(Lora4jException.class, () -> rt.load("corrupt", corrupt));
    assertTrue(bad.getMessage().startsWith(corrupt.toString()), bad.getMessage());
    assertFalse(rt.adapters().stream().anyMatch(i -> i.name().equals("corrupt")));

    assertMatches("beta", "dull", rt.predict("beta", "dull"));
  }

  @Test
  void refusesAnAdapterExportedForAnotherBase(@TempDir Path other) throws Exception {
    ExportFixture foreign = new ExportFixture(other, 99);
    Lora4jException e = assertThrows(Lora4jException.class, () -> rt.load("foreign", foreign.adapterFile("alpha")));
    assertTrue(e.getMessage().contains("this adapter was exported for base model 'tiny'"), e.getMessage());
    assertTrue(e.getMessage().contains("but this runtime serves 'tiny'"), e.getMessage());
  }

  @Test
  void cudaFallsBackToCpuOrFailsClearlyWhenDemanded() {
    if (ExecutionProviders.cudaCompiledIn()) {
      return; // a GPU build: the fallback is exercised on CPU-only builds (CI)
    }
    try (AdapterRuntime auto = AdapterRuntime.open(fx.dir, RuntimeOptions.defaults().withDevice(Device.AUTO))) {
      assertEquals(Device.CPU, auto.device());
    }
    Lora4jException e = assertThrows(Lora4jException.class,
        () -> AdapterRuntime.open(fx.dir, RuntimeOptions.defaults().withDevice(Device.CUDA)));
    assertTrue(e.getMessage().startsWith("device cuda was requested for base.multi.onnx but this ONNX Runtime build "
        + "has no CUDA execution provider"), e.getMessage());
  }
}
