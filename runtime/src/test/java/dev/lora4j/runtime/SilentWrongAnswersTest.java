package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.export.AdapterFiles;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.export.ExportManifest;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.TensorProtos;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto;
import dev.lora4j.models.tensor.FloatTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12 item 4 at the runtime: an export or adapter that would answer NaN or wrong labels is
 * refused at open or load, and whatever slips past the file checks still cannot come back as a
 * NaN prediction.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SilentWrongAnswersTest {
  static final RuntimeOptions CPU = RuntimeOptions.defaults().withDevice(Device.CPU);
  ExportFixture fx;

  @BeforeAll
  void export(@TempDir Path dir) throws Exception {
    fx = new ExportFixture(dir, 21);
  }

  /** A private copy of the fixture's export directory, to damage. */
  static Path copy(Path from, Path to) throws Exception {
    Files.createDirectories(to);
    try (Stream<Path> s = Files.list(from)) {
      for (Path f : s.filter(Files::isRegularFile).toList()) {
        Files.copy(f, to.resolve(f.getFileName()));
      }
    }
    return to;
  }

  /** Sets every value of the first LayerNorm gain of {@code graph} to NaN: every output becomes NaN. */
  static void poison(Path graph) {
    OnnxModel m = OnnxModel.read(graph);
    TensorProto gain = m.initializers().stream().filter(t -> t.getName().endsWith("LayerNorm.weight")).findFirst()
        .orElseThrow(() -> new AssertionError("no LayerNorm gain in " + graph));
    FloatTensor t = TensorProtos.toFloat(gain, graph.toString());
    float[] nan = new float[t.data().length];
    java.util.Arrays.fill(nan, Float.NaN);
    m.putInitializer(TensorProtos.floats(gain.getName(), t.shape(), nan));
    m.save(graph);
  }

  /** Records the graphs' current hashes in export.json, as if the export had written them so. */
  static void rerecord(Path dir, String... files) {
    ExportManifest m = ExportManifest.read(dir);
    Map<String, String> sha = new TreeMap<>(m.sha256());
    for (String f : files) {
      sha.put(f, AtomicFiles.sha256(dir.resolve(f)));
    }
    new ExportManifest(m.formatVersion(), m.tool(), m.created(), m.base(), m.tokenizer(), m.multiGraph(),
        m.mixedGraph(), m.adapterLayout(), m.adapters(), sha).write(dir.resolve(ExportLayout.MANIFEST));
  }

  @Test
  void exportJsonRecordsTheHashOfEveryGraphTheRuntimeOpens() {
    ExportManifest m = ExportManifest.read(fx.dir);
    for (String f : List.of(ExportLayout.MULTI_GRAPH, ExportLayout.MIXED_GRAPH, ExportLayout.TOKENIZER)) {
      assertEquals(AtomicFiles.sha256(fx.dir.resolve(f)), m.sha256().get(f), f);
    }
  }

  @Test
  void aMultiGraphWithOneWeightSetToNaNAfterExportIsRefusedAtOpen(@TempDir Path tmp) throws Exception {
    Path dir = copy(fx.dir, tmp.resolve("export"));
    poison(dir.resolve(ExportLayout.MULTI_GRAPH));
    Lora4jException e = assertThrows(Lora4jException.class, () -> AdapterRuntime.open(dir, CPU).close());
    assertTrue(e.getMessage().startsWith(dir.resolve(ExportLayout.MULTI_GRAPH).toString())
        && e.getMessage().contains("SHA-256"), e.getMessage());
  }

  @Test
  void aMixedGraphOrTokenizerChangedAfterExportIsRefusedAtOpen(@TempDir Path tmp) throws Exception {
    for (String f : List.of(ExportLayout.MIXED_GRAPH, ExportLayout.TOKENIZER)) {
      Path dir = copy(fx.dir, tmp.resolve(f + "-export"));
      byte[] b = Files.readAllBytes(dir.resolve(f));
      Files.write(dir.resolve(f), java.util.Arrays.copyOf(b, b.length + 1)); // a trailing byte parses the same
      Lora4jException e = assertThrows(Lora4jException.class, () -> AdapterRuntime.open(dir, CPU).close());
      assertTrue(e.getMessage().startsWith(dir.resolve(f).toString()), e.getMessage());
    }
  }

  @Test
  void anExportWithoutRecordedHashesIsRefusedAtOpen(@TempDir Path tmp) throws Exception {
    Path dir = copy(fx.dir, tmp.resolve("export"));
    ExportManifest m = ExportManifest.read(dir);
    new ExportManifest(m.formatVersion(), m.tool(), m.created(), m.base(), m.tokenizer(), m.multiGraph(),
        m.mixedGraph(), m.adapterLayout(), m.adapters()).write(dir.resolve(ExportLayout.MANIFEST));
    Lora4jException e = assertThrows(Lora4jException.class, () -> AdapterRuntime.open(dir, CPU).close());
    assertTrue(e.getMessage().contains("records no SHA-256"), e.getMessage());
  }

  @Test
  void predictionsFromANaNProducingGraphRaiseInsteadOfReturningNaN(@TempDir Path tmp) throws Exception {
    Path dir = copy(fx.dir, tmp.resolve("export"));
    poison(dir.resolve(ExportLayout.MULTI_GRAPH));
    poison(dir.resolve(ExportLayout.MIXED_GRAPH));
    rerecord(dir, ExportLayout.MULTI_GRAPH, ExportLayout.MIXED_GRAPH); // gets past the hash: the last guard must hold
    try (AdapterRuntime rt = AdapterRuntime.open(dir, CPU)) {
      rt.load("alpha", dir.resolve(ExportLayout.onnxAdapter("alpha")));
      List<Runnable> calls = new ArrayList<>(List.of(
          () -> rt.predict("alpha", "a good movie"),
          () -> rt.embed("alpha", List.of("a good movie")),
          () -> rt.embed(null, List.of("a good movie")),
          () -> rt.predictMixed(List.of(new MixedRequest("alpha", "a good movie")))));
      calls.add(() -> {
        try {
          rt.submit("alpha", "a good movie").get();
        } catch (java.util.concurrent.ExecutionException e) {
          throw (RuntimeException) e.getCause();
        } catch (InterruptedException e) {
          throw new AssertionError(e);
        }
      });
      for (Runnable call : calls) {
        Lora4jException e = assertThrows(Lora4jException.class, call::run);
        assertTrue(e.getMessage().contains("NaN or infinite"), e.getMessage());
      }
    }
  }

  @Test
  void anAdapterScaledTo3e38IsRefusedAtLoad(@TempDir Path tmp) throws Exception {
    Adapter a = fx.adapters.get("beta").compact();
    List<LowRankModule> modules = new ArrayList<>();
    for (LowRankModule m : a.modules().values()) {
      float max = 0;
      for (float v : m.b().data()) {
        max = Math.max(max, Math.abs(v));
      }
      modules.add(LowRankModule.lora(m.module(), m.a(), m.b().scale(3e38 / max), 1.0));
    }
    Adapter huge = new Adapter("huge", a.base(), Adapter.byName(modules), a.head(), a.provenance());
    Path file = tmp.resolve("huge.onnx_adapter");
    // written the way an export writes it: tied sidecar, the right base; only the size is wrong
    AdapterFiles.writeOnnxAdapter(file, huge, a.base().id(), a.base().onnxSha256());
    try (AdapterRuntime rt = AdapterRuntime.open(fx.dir, CPU)) {
      Lora4jException e = assertThrows(Lora4jException.class, () -> rt.load("huge", file));
      assertTrue(e.getMessage().startsWith(file.toString()) && e.getMessage().contains("absurdly large"),
          e.getMessage());
      assertTrue(rt.adapters().isEmpty());
    }
  }

  @Test
  void anAdapterWhoseSidecarLostItsBaseIdentityIsRefusedAtLoad(@TempDir Path tmp) throws Exception {
    Path dir = copy(fx.dir, tmp.resolve("export"));
    Path sidecar = dir.resolve(ExportLayout.sidecar("gamma"));
    String json = Files.readString(sidecar);
    Files.writeString(sidecar, json.replaceAll("\"base_onnx_sha256\" : \"[0-9a-f]+\",", ""));
    try (AdapterRuntime rt = AdapterRuntime.open(dir, CPU)) {
      Lora4jException e = assertThrows(Lora4jException.class, () -> rt.load("gamma"));
      assertTrue(e.getMessage().contains("'base_onnx_sha256' is missing"), e.getMessage());
    }
  }
}
