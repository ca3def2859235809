package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.exporter.ExportBundle;
import dev.lora4j.exporter.ExportFormat;
import dev.lora4j.exporter.ExportRequest;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.export.AdapterFiles;
import dev.lora4j.models.export.AdapterPackage;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.export.ExportManifest;
import dev.lora4j.models.testing.SyntheticAdapters;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.runtime.RawHttp.Reply;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An export whose multi and mixed graphs branch only on the modules its adapters use (the default,
 * {@code --adapter-modules used}) must refuse an adapter on another module on every path that loads
 * one, naming the adapter, the modules, the export and the option; served anyway, ONNX Runtime
 * would answer with those modules' update silently missing.
 */
class BranchesOnSomeModulesTest {
  private static final RuntimeOptions CPU = RuntimeOptions.defaults().withDevice(Device.CPU);
  private static final String QUERY0 = "encoder.layer.0.attention.self.query";
  private static final String OUTPUT0 = "encoder.layer.0.output.dense";
  private static final String KEY1 = "encoder.layer.1.attention.self.key";

  @TempDir static Path tmp;
  static Path used;
  static Path all;
  static Path adapters;
  static Path kappa;
  static Adapter kappaAdapter;

  @BeforeAll
  static void export() throws Exception {
    TinyBert.Written tiny = TinyBert.writeBase(tmp.resolve("base"), 43);
    EncoderDescription d = tiny.description();
    BaseModelRef ref = tiny.files().ref();
    BaseModelFiles files = tiny.files();
    Map<String, Integer> alphaRanks = new LinkedHashMap<>();
    alphaRanks.put(QUERY0, 8);
    alphaRanks.put("encoder.layer.1.attention.self.value", 4);
    Adapter alpha = SyntheticAdapters.classifier(d, ref, "alpha", alphaRanks, 2, TaskHead.Pooling.MEAN, 7);
    Map<String, Integer> kappaRanks = new LinkedHashMap<>();
    kappaRanks.put(QUERY0, 4);
    kappaRanks.put(OUTPUT0, 2);
    kappaRanks.put(KEY1, 3);
    kappaAdapter = SyntheticAdapters.classifier(d, ref, "kappa", kappaRanks, 2, TaskHead.Pooling.MEAN, 8);
    EnumSet<ExportFormat> formats = EnumSet.of(ExportFormat.MULTI, ExportFormat.MIXED);
    used = tmp.resolve("used");
    ExportBundle.export(ExportRequest.of(files, List.of(alpha), formats, used), line -> { });
    all = tmp.resolve("all");
    ExportBundle.export(ExportRequest.of(files, List.of(alpha), formats, all).withAdapterModules("all"), line -> { });
    adapters = Files.createDirectories(tmp.resolve("adapters"));
    kappa = adapters.resolve("kappa.onnx_adapter");
    AdapterFiles.writeOnnxAdapter(kappa, kappaAdapter, ref.id(), ref.onnxSha256());
  }

  private static String refusal(String who) {
    return who + ": adapter 'kappa' changes 2 modules " + OUTPUT0 + ", " + KEY1 + ", but the export in " + used
        + " has low-rank branches only on the 2 modules its export.json adapter_layout lists (exported with "
        + "--adapter-modules used); serving the adapter would drop its update there. Export again with "
        + "--adapter-modules all (or a list that includes them)";
  }

  @Test
  void exportJsonRecordsTheUsedModulesAndAllKeepsEveryModule() {
    ExportManifest u = ExportManifest.read(used);
    assertEquals("used", u.adapterModules());
    assertEquals(List.of(QUERY0, "encoder.layer.1.attention.self.value"),
        u.adapterLayout().modules().stream().map(m -> m.name()).toList());
    ExportManifest a = ExportManifest.read(all);
    assertEquals("all", a.adapterModules());
    assertEquals(TinyBert.LAYERS * 6, a.adapterLayout().modules().size());
  }

  @Test
  void loadingAnAdapterOnAModuleWithoutABranchIsRefusedNamingModulesExportAndOption() {
    try (AdapterRuntime rt = AdapterRuntime.open(used, CPU)) {
      Lora4jException e = assertThrows(Lora4jException.class, () -> rt.load("kappa", kappa));
      assertEquals(refusal(kappa.toAbsolutePath().toString()), e.getMessage());
      assertTrue(rt.adapters().isEmpty(), "the refused adapter is listed");
      // nor can a batch reach it: mixed and single requests find it not loaded
      Lora4jException mixed = assertThrows(Lora4jException.class,
          () -> rt.predictMixed(List.of(new MixedRequest("kappa", "a good movie"))));
      assertTrue(mixed.getMessage().endsWith("is not loaded"), mixed.getMessage());
      // the export's own adapter loads and answers, through the single and the mixed graph
      rt.load("alpha");
      assertEquals(rt.predict("alpha", "a good movie").label(),
          rt.predictMixed(List.of(new MixedRequest("alpha", "a good movie"))).get(0).label());
    }
  }

  @Test
  void aPackagedAdapterOnAModuleWithoutABranchIsRefusedNamingThePackage() throws Exception {
    Path root = tmp.resolve("classpath");
    Path dir = Files.createDirectories(root.resolve(AdapterPackage.directory("kappa")));
    Files.copy(kappa, dir.resolve(ExportLayout.onnxAdapter("kappa")));
    Files.copy(AdapterFiles.sidecarOf(kappa), dir.resolve(ExportLayout.sidecar("kappa")));
    Files.write(dir.resolve(AdapterPackage.MANIFEST), new AdapterPackage(AdapterPackage.FORMAT, "kappa",
        ExportLayout.onnxAdapter("kappa"), ExportLayout.sidecar("kappa"), "tiny", null, List.of(), Map.of(),
        Files.size(kappa), "test", null, "g", "kappa", "1").toJson());
    try (AdapterRuntime rt = AdapterRuntime.open(used, CPU); URLClassLoader cl = ClasspathAdapterTest.loader(root)) {
      Lora4jException e = assertThrows(Lora4jException.class, () -> rt.loadFromClasspath("kappa", cl));
      assertTrue(e.getMessage().startsWith("classpath:kappa ("), e.getMessage());
      assertTrue(e.getMessage().endsWith(refusal("").substring(1)), e.getMessage());
      assertTrue(rt.adapters().isEmpty(), "the refused adapter is listed");
    }
  }

  @Test
  void theServerAnswersPutOfSuchAnAdapterWith422AndDoesNotLoadIt() throws Exception {
    try (AdapterRuntime rt = AdapterRuntime.open(used, CPU);
        AdapterServer server = AdapterServer.start(rt, ServerSettings.defaults().withPort(0)
            .withAdminToken(AdapterServerTest.TOKEN).withAdapterDirs(List.of(adapters)))) {
      RawHttp http = new RawHttp(server.port());
      Reply r = http.json("PUT", "/adapters/kappa", "{\"file\": \"kappa.onnx_adapter\"}", AdapterServerTest.AUTH);
      assertEquals(422, r.status(), r.text());
      assertTrue(rt.adapters().isEmpty(), "the refused adapter is listed");
    }
  }

  @Test
  void theSameAdapterLoadsWhereTheExportKeptABranchOnEveryModule() {
    try (AdapterRuntime rt = AdapterRuntime.open(all, CPU)) {
      rt.load("kappa", kappa);
      Prediction single = rt.predict("kappa", "a good movie");
      Prediction mixed = rt.predictMixed(List.of(new MixedRequest("kappa", "a good movie"))).get(0);
      // multi and mixed graphs both apply all three modules: the same logits to float noise
      assertTrue(ExportFixture.maxAbsDiff(single.logits(), mixed.logits()) < 1e-5);
    }
  }

  @Test
  void anotherBaseModelsAdapterIsRefusedAsSuchNotAsMissingBranches(@TempDir Path t) {
    Adapter other = new Adapter("kappa", new BaseModelRef("tiny", "ab".repeat(32)), kappaAdapter.modules(),
        kappaAdapter.head(), kappaAdapter.provenance());
    Path file = t.resolve("other.onnx_adapter");
    AdapterFiles.writeOnnxAdapter(file, other, "tiny", "ab".repeat(32));
    try (AdapterRuntime rt = AdapterRuntime.open(used, CPU)) {
      Lora4jException e = assertThrows(Lora4jException.class, () -> rt.load("other", file));
      assertTrue(e.getMessage().contains("was trained on base model tiny"), e.getMessage());
    }
  }
}
