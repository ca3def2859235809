package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.models.text.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
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

  /**
   * The default of 128 tokens is more than the tiny base's 64 positions: a longer text is truncated
   * at the positions (export.json {@code base.max_positions}) rather than failing inside ONNX Runtime
   * ("input index out of range"), and answers exactly as with the option set to the positions.
   */
  @Test
  void textsAreTruncatedAtTheBasesPositionsWhenTheOptionAsksForMore() throws Exception {
    String n = ExportFixture.NAMES.get(0);
    String text = "a good movie but the plot is dull ".repeat(20).strip(); // 160 words
    assertTrue(RuntimeOptions.defaults().maxTokens() > TinyBert.MAX_POSITIONS, "the test needs a default past 64");
    assertEquals(TinyBert.MAX_POSITIONS, rt.base().maxPositions(), "export.json records the base's positions");
    Prediction p = rt.predict(n, text);
    RuntimeOptions o = RuntimeOptions.defaults().withDevice(Device.CPU);
    try (AdapterRuntime exact = AdapterRuntime.open(fx.dir, new RuntimeOptions(o.session(), o.adapterBudgetBytes(),
        TinyBert.MAX_POSITIONS, o.maxTextChars(), o.maxBatch(), o.batchWindow(), o.batchRows(), o.queueCapacity()))) {
      exact.load(n, fx.adapterFile(n));
      assertEquals(Arrays.toString(exact.predict(n, text).logits()), Arrays.toString(p.logits()));
    }
  }

  /**
   * A request on a thread from {@link AdapterRuntime#threadFactory} runs in place, skipping the hop
   * to the runtime's pool: it must give bit-for-bit the answers of the hopping path (same session,
   * same inputs), for single texts, batches, embeddings and queued requests alike.
   */
  @Test
  void requestsOnRuntimeThreadsRunInPlaceWithTheSameAnswers() throws Exception {
    String n = ExportFixture.NAMES.get(1);
    List<Prediction> hopped = rt.predict(n, ExportFixture.TEXTS);
    Prediction hoppedOne = rt.predict(n, ExportFixture.TEXTS.get(0));
    List<float[]> hoppedEmb = rt.embed(n, ExportFixture.TEXTS);
    Object[] inPlace = new Object[5];
    Thread t = AdapterRuntime.threadFactory("test-caller").newThread(() -> {
      try {
        inPlace[0] = rt.predict(n, ExportFixture.TEXTS);
        inPlace[1] = rt.predict(n, ExportFixture.TEXTS.get(0));
        inPlace[2] = rt.embed(n, ExportFixture.TEXTS);
        inPlace[3] = rt.submit(n, ExportFixture.TEXTS.get(0)).get(30, TimeUnit.SECONDS);
        inPlace[4] = NativeThreads.onNativeThread();
      } catch (Throwable e) {
        inPlace[0] = e;
      }
    });
    t.start();
    t.join(60_000);
    assertFalse(inPlace[0] instanceof Throwable, String.valueOf(inPlace[0]));
    assertEquals(Boolean.TRUE, inPlace[4], "a factory thread counts as a native thread");
    @SuppressWarnings("unchecked")
    List<Prediction> ps = (List<Prediction>) inPlace[0];
    for (int i = 0; i < ps.size(); i++) {
      assertTrue(Arrays.equals(hopped.get(i).logits(), ps.get(i).logits()), "text " + i);
      assertTrue(Arrays.equals(hopped.get(i).probabilities(), ps.get(i).probabilities()), "text " + i);
    }
    assertTrue(Arrays.equals(hoppedOne.logits(), ((Prediction) inPlace[1]).logits()));
    @SuppressWarnings("unchecked")
    List<float[]> emb = (List<float[]>) inPlace[2];
    for (int i = 0; i < emb.size(); i++) {
      assertTrue(Arrays.equals(hoppedEmb.get(i), emb.get(i)), "embedding " + i);
    }
    assertMatches(n, ExportFixture.TEXTS.get(0), (Prediction) inPlace[3]);
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

  /**
   * Sixteen short and sixteen long texts, all different, interleaved: the CPU runtime answers them
   * in runs of similar length and must put each answer back on its own text. Reference: each text
   * alone (one run, no split; single answers match the merged models in the tests above).
   */
  @Test
  void aBatchOfMixedLengthsIsAnsweredInOrder() throws Exception {
    List<String> words = ExportFixture.TEXTS.stream().flatMap(t -> Arrays.stream(t.split(" "))).distinct().toList();
    List<String> longest = Arrays.asList(ExportFixture.TEXTS.get(5).split(" "));
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      List<String> rotated = new ArrayList<>(longest);
      Collections.rotate(rotated, i);
      texts.add(words.get(i));
      texts.add(String.join(" ", rotated) + " " + words.get(i));
    }
    try (Tokenizer tok = Tokenizer.open(fx.dir.resolve(ExportLayout.TOKENIZER))) {
      assertTrue(PaddingRuns.plan(tok.encode(texts).tokenCounts()).size() > 1, "this batch runs in several runs");
    }
    String n = ExportFixture.NAMES.get(2);
    List<Prediction> batch = rt.predict(n, texts);
    List<float[]> embedded = rt.embed(n, texts);
    for (int i = 0; i < texts.size(); i++) {
      // 1e-5: the same rows through kernels batched differently; a row answered for another text
      // differs by far more
      String t = texts.get(i);
      assertTrue(ExportFixture.maxAbsDiff(rt.predict(n, t).logits(), batch.get(i).logits()) <= 1e-5, "logits of " + t);
      assertTrue(ExportFixture.maxAbsDiff(rt.embed(n, List.of(t)).get(0), embedded.get(i)) <= 1e-5, "embedding of " + t);
    }
    // the mixed-batch graph splits the same way: rows for four adapters, each against its text alone
    List<MixedRequest> rows = new ArrayList<>();
    for (int i = 0; i < texts.size(); i++) {
      rows.add(new MixedRequest(ExportFixture.NAMES.get(i * 3 % 4), texts.get(i)));
    }
    List<Prediction> mixed = rt.predictMixed(rows);
    for (int i = 0; i < rows.size(); i++) {
      MixedRequest r = rows.get(i);
      assertEquals(r.adapter(), mixed.get(i).adapter());
      // 1e-4: the mixed graph gathers each row's factors, another kernel order than the multi graph
      assertTrue(ExportFixture.maxAbsDiff(rt.predict(r.adapter(), r.text()).logits(), mixed.get(i).logits()) <= TOLERANCE,
          "mixed row " + i);
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
    // at least its factors as float32: query and value rank 8 (32 + 32 wide), intermediate rank 3
    // (32 in, 64 out); copies the runtime also holds only add to this
    long factors = 4L * (8 * (32 + 32) + 8 * (32 + 32) + 3 * (32 + 64));
    assertTrue(alpha.bytes() >= factors, alpha.bytes() + " bytes < " + factors);
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
    // the exporter's words (AdapterFit): both sides refuse the same adapters alike
    assertTrue(e.getMessage().startsWith(foreign.adapterFile("alpha").toAbsolutePath() + " was trained on base model "
        + "tiny (ONNX sha256 "), e.getMessage());
    assertTrue(e.getMessage().endsWith("; use it with the base model it was trained on"), e.getMessage());
  }

  /** A CUDA provider that is compiled in (or not) and fails to start, as on a machine without a GPU. */
  static final class FailingCuda implements ExecutionProviders.Cuda {
    final boolean compiledIn;
    int attempts;

    FailingCuda(boolean compiledIn) {
      this.compiledIn = compiledIn;
    }

    @Override
    public boolean compiledIn() {
      return compiledIn;
    }

    @Override
    public void addTo(OrtSession.SessionOptions opts, int deviceId) throws OrtException {
      attempts++;
      throw new OrtException("CUDA failure 100: no CUDA-capable device is detected");
    }
  }

  /** Runs {@code body} with {@code cuda} as the CUDA provider and returns what lora4j logged meanwhile. */
  static List<String> withCuda(ExecutionProviders.Cuda cuda, Runnable body) {
    List<String> lines = Collections.synchronizedList(new ArrayList<>());
    Handler h = new Handler() {
      @Override
      public void publish(LogRecord r) {
        lines.add(r.getLevel() + " " + r.getMessage());
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    Logger log = Logger.getLogger("lora4j.runtime");
    log.addHandler(h);
    ExecutionProviders.cuda = cuda;
    try {
      body.run();
    } finally {
      ExecutionProviders.cuda = ExecutionProviders.REAL_CUDA;
      log.removeHandler(h);
    }
    return lines;
  }

  // The fallback branch on every machine: a CUDA provider that is there but fails to start (no GPU,
  // no driver) leaves AUTO on the CPU, with correct answers and one line saying why.
  @Test
  void autoFallsBackToCpuWhenCudaFailsToStart() {
    FailingCuda cuda = new FailingCuda(true);
    List<String> log = withCuda(cuda, () -> {
      try (AdapterRuntime auto = AdapterRuntime.open(fx.dir, RuntimeOptions.defaults().withDevice(Device.AUTO))) {
        assertEquals(Device.CPU, auto.device());
        for (String n : ExportFixture.NAMES) {
          auto.load(n, fx.adapterFile(n));
          List<Prediction> ps = auto.predict(n, ExportFixture.TEXTS);
          for (int i = 0; i < ps.size(); i++) {
            assertMatches(n, ExportFixture.TEXTS.get(i), ps.get(i));
          }
        }
      }
    });
    assertEquals(1, cuda.attempts, "AUTO tries CUDA once, for the base graph; the mixed graph follows its device");
    assertEquals(List.of("INFO lora4j: running base.multi.onnx on CPU because the CUDA execution provider failed "
        + "to start: CUDA failure 100: no CUDA-capable device is detected"), log);
  }

  @Test
  void autoOnABuildWithoutCudaSaysSoOnce() {
    List<String> log = withCuda(new FailingCuda(false), () -> {
      try (AdapterRuntime auto = AdapterRuntime.open(fx.dir, RuntimeOptions.defaults().withDevice(Device.AUTO))) {
        assertEquals(Device.CPU, auto.device());
        auto.load("beta", fx.adapterFile("beta"));
        assertMatches("beta", "dull", auto.predict("beta", "dull"));
      }
    });
    assertEquals(List.of("INFO lora4j: running base.multi.onnx on CPU because this ONNX Runtime build has no CUDA "
        + "execution provider (build with -Pcuda for onnxruntime_gpu)"), log);
  }

  @Test
  void demandedCudaThatFailsIsAClearErrorNotACpuRun() {
    FailingCuda cuda = new FailingCuda(true);
    List<String> log = withCuda(cuda, () -> {
      Lora4jException e = assertThrows(Lora4jException.class,
          () -> AdapterRuntime.open(fx.dir, RuntimeOptions.defaults().withDevice(Device.CUDA)));
      assertEquals("device cuda was requested for base.multi.onnx but the CUDA execution provider failed to start: "
          + "CUDA failure 100: no CUDA-capable device is detected", e.getMessage());
    });
    assertEquals(1, cuda.attempts);
    assertEquals(List.of(), log, "no fallback line: nothing fell back");
    withCuda(new FailingCuda(false), () -> assertTrue(assertThrows(Lora4jException.class,
        () -> AdapterRuntime.open(fx.dir, RuntimeOptions.defaults().withDevice(Device.CUDA))).getMessage()
        .startsWith("device cuda was requested for base.multi.onnx but this ONNX Runtime build has no CUDA")));
  }

  // The real provider, whatever this machine has: AUTO answers like the merged models on its device
  // (CUDA where it starts, else CPU with one line). 1e-3 on a GPU: its kernels sum in another order.
  @Test
  void autoWithTheRealProviderAnswersCorrectlyOnWhateverDeviceItGets() {
    Device[] got = new Device[1];
    List<String> log = withCuda(ExecutionProviders.REAL_CUDA, () -> {
      try (AdapterRuntime auto = AdapterRuntime.open(fx.dir, RuntimeOptions.defaults().withDevice(Device.AUTO))) {
        got[0] = auto.device();
        auto.load("gamma", fx.adapterFile("gamma"));
        for (String t : ExportFixture.TEXTS) {
          double d = ExportFixture.maxAbsDiff(fx.expected.get("gamma").get(t), auto.predict("gamma", t).logits());
          assertTrue(d <= (got[0] == Device.CUDA ? 1e-3 : TOLERANCE), got[0] + " " + t + ": " + d);
        }
      }
    });
    assertEquals(got[0] == Device.CUDA ? 0 : 1, log.size(), log::toString);
    if (!ExecutionProviders.cudaCompiledIn()) {
      assertEquals(Device.CPU, got[0]);
    }
  }
}
