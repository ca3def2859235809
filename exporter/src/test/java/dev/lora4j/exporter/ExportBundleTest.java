package dev.lora4j.exporter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.exporter.TestAdapters.Kind;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterDtype;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.MixedBatchStacks;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.adapter.ortformat.MultiAdapterParameters;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.export.AdapterSidecar;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.export.ExportManifest;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The export directory: its layout and manifest, and refusals that leave nothing behind. */
class ExportBundleTest {
  @TempDir Path dir;
  Path model;
  BaseModelFiles files;
  EncoderDescription base;
  String sha;

  @BeforeEach
  void base() throws Exception {
    Path b = TinyBert.writeBaseModel(dir.resolve("base"), 5);
    model = b.resolve("model.onnx");
    sha = AtomicFiles.sha256(model);
    files = new BaseModelFiles("tiny", model, b.resolve("tokenizer.json"), sha);
    base = EncoderDescription.of(OnnxModel.read(model));
  }

  Adapter adapter(String name, long seed) {
    Map<String, Integer> ranks = new LinkedHashMap<>();
    ranks.put("encoder.layer.0.attention.self.query", 4);
    ranks.put("encoder.layer.1.attention.self.value", 7);
    return TestAdapters.adapter(base, name, ranks, Kind.GATED,
        TestAdapters.classifier(TinyBert.HIDDEN, 2, TaskHead.Pooling.CLS, seed), seed);
  }

  @Test
  void exportJsonAndSidecarRecordTheAdapterDtypeAndPeftGetsHalves() throws Exception {
    Path out = dir.resolve("export");
    ExportBundle.export(ExportRequest.of(files, List.of(adapter("sst2", 1)),
        EnumSet.of(ExportFormat.MULTI, ExportFormat.PEFT, ExportFormat.MERGED), out)
        .withAdapterDtype(AdapterDtype.FP16), line -> { });
    ExportManifest m = ExportManifest.read(out);
    assertEquals("fp16", m.adapters().get(0).adapterDtype());
    assertEquals("fp16", AdapterSidecar.read(out.resolve(m.adapters().get(0).sidecar())).adapterDtype());
    assertEquals(dev.lora4j.models.adapter.safetensors.DType.F16,
        dev.lora4j.models.adapter.safetensors.Safetensors.read(out.resolve("sst2.peft/adapter_model.safetensors"))
            .tensors().get("base_model.model.encoder.layer.0.attention.self.query.lora_A.weight").dtype());
    // the PEFT copy and the .onnx_adapter hold the same (rounded) factors
    Adapter peft = PeftAdapters.read(out.resolve("sst2.peft")).compact();
    Adapter onnx = dev.lora4j.models.export.AdapterFiles.read(out.resolve("sst2.onnx_adapter"));
    assertEquals(onnx.modules(), peft.modules());
    assertEquals(AdapterDtype.FP16.served(adapter("sst2", 1).compact(), "x").modules(), onnx.modules());
  }

  /**
   * The runtime takes the modules and shapes it checks adapters against from export.json, not from
   * the graph: the recorded layout must be what the multi graph declares (read here from its inputs,
   * as the runtime once did), also when no mixed graph is written; with branches on the adapter's two
   * modules (the default) and on all twelve.
   */
  @Test
  void aMultiOnlyExportRecordsTheAdapterLayoutItsGraphDeclares() throws Exception {
    for (String modules : List.of("used", "all")) {
      Path out = dir.resolve("export-" + modules);
      ExportBundle.export(ExportRequest.of(files, List.of(adapter("sst2", 1)), EnumSet.of(ExportFormat.MULTI), out)
          .withAdapterModules(modules), line -> { });
      ExportManifest m = ExportManifest.read(out);
      assertEquals(modules, m.adapterModules());
      assertEquals(modules.equals("all") ? 12 : 2, declaredLayout(out, m), modules);
    }
  }

  private static int declaredLayout(Path out, ExportManifest m) throws Exception {
    assertNull(m.mixedGraph());
    OnnxModel multi = OnnxModel.read(out.resolve(m.multiGraph()));
    Map<String, long[]> inputs = new LinkedHashMap<>();
    for (var v : multi.inputs()) {
      var shape = v.getType().getTensorType().getShape();
      long[] dims = new long[shape.getDimCount()];
      for (int i = 0; i < dims.length; i++) {
        dims[i] = shape.getDim(i).hasDimValue() ? shape.getDim(i).getDimValue() : -1;
      }
      inputs.put(v.getName(), dims);
    }
    List<MixedBatchStacks.ModuleShape> declared = new ArrayList<>();
    for (String name : inputs.keySet()) {
      String suffix = AdapterTensorNames.loraA("");
      if (name.endsWith(suffix)) {
        String module = name.substring(0, name.length() - suffix.length());
        declared.add(new MixedBatchStacks.ModuleShape(module, (int) inputs.get(name)[0],
            (int) inputs.get(AdapterTensorNames.loraB(module))[1]));
      }
    }
    assertEquals(new MixedBatchStacks.Layout((int) inputs.get(AdapterTensorNames.HEAD_WEIGHT)[0], declared),
        m.adapterLayout());
    return declared.size();
  }

  @Test
  void int8WithPeftIsRefusedBeforeAnythingIsWritten() {
    Path out = dir.resolve("export");
    Lora4jException e = assertThrows(Lora4jException.class, () -> ExportBundle.export(ExportRequest.of(files,
        List.of(adapter("sst2", 1)), EnumSet.allOf(ExportFormat.class), out).withAdapterDtype(AdapterDtype.INT8),
        line -> { }));
    assertEquals("adapter dtype int8 cannot be written in the peft format (PEFT loads float LoRA weights only); use "
        + "fp16, or leave peft out of the formats", e.getMessage());
    assertFalse(Files.exists(out));
  }

  @Test
  void writesTheDocumentedLayout() throws Exception {
    Path out = dir.resolve("export");
    List<String> lines = new ArrayList<>();
    ExportResult r = ExportBundle.export(new ExportRequest(files,
        List.of(adapter("sst2", 1), adapter("imdb", 2)), EnumSet.allOf(ExportFormat.class), false, out,
        Map.of(ExportLayout.rankPlot("sst2"), new byte[] {1, 2, 3})), lines::add);

    Set<String> expected = new TreeSet<>(List.of("export.json", "tokenizer.json", "sst2.ranks.png", "base.multi.onnx",
        "base.mixed.onnx", "sst2.merged.onnx", "sst2.factored.onnx", "sst2.onnx_adapter", "sst2.adapter.json",
        "imdb.merged.onnx", "imdb.factored.onnx", "imdb.onnx_adapter", "imdb.adapter.json"));
    Set<String> written = new TreeSet<>(expected);
    for (String a : List.of("sst2", "imdb")) {
      expected.add(a + ".peft");
      written.add(a + ".peft/adapter_config.json");
      written.add(a + ".peft/adapter_model.safetensors");
    }
    try (Stream<Path> s = Files.list(out)) {
      assertEquals(expected, new TreeSet<>(s.map(p -> p.getFileName().toString()).toList()));
    }
    assertEquals(written, new TreeSet<>(r.files().keySet()));
    assertTrue(lines.size() >= 10, String.join("\n", lines));

    ExportManifest m = ExportManifest.read(out);
    assertEquals(sha, m.base().onnxSha256());
    assertEquals(TinyBert.HIDDEN, m.base().hidden());
    assertEquals("base.multi.onnx", m.multiGraph());
    // both adapters change the same two modules: the multi and mixed graphs branch there only
    assertEquals(List.of("encoder.layer.0.attention.self.query", "encoder.layer.1.attention.self.value"),
        m.adapterLayout().modules().stream().map(MixedBatchStacks.ModuleShape::name).toList());
    assertEquals("used", m.adapterModules());
    assertEquals(List.of("sst2", "imdb"), m.adapters().stream().map(ExportManifest.AdapterEntry::name).toList());
    assertEquals(List.of("last_hidden_state", "logits", "probabilities"), m.adapters().get(0).outputs());

    // the runtime's view: .onnx_adapter + sidecar give back the compact adapter
    Adapter compact = adapter("sst2", 1).compact();
    AdapterSidecar side = AdapterSidecar.read(out.resolve(m.adapters().get(0).sidecar()));
    assertEquals(sha, side.baseOnnxSha256());
    assertEquals(compact.ranks(), side.ranks());
    assertEquals("cls", side.pooling());
    Adapter back = MultiAdapterParameters.toAdapter(OrtAdapterFile.read(out.resolve("sst2.onnx_adapter")), side, "sst2");
    assertEquals(compact.ranks(), back.ranks());
    for (String k : compact.modules().keySet()) {
      assertEquals(compact.modules().get(k).a(), back.modules().get(k).a());
      assertEquals(compact.modules().get(k).b(), back.modules().get(k).b());
    }
    assertEquals(compact.head().weight(), back.head().weight());
    assertEquals(compact.head().labels(), back.head().labels());

    // the PEFT copy is the compact adapter, bound to the base it was checked against
    Adapter peft = PeftAdapters.read(out.resolve(m.adapters().get(0).peft()));
    assertEquals(compact.modules(), peft.modules());
    assertEquals(compact.head(), peft.head());
    assertEquals(sha, peft.base().onnxSha256());
  }

  @Test
  void refusesAnAdapterForAnotherBaseModel() throws Exception {
    Adapter a = adapter("other", 1);
    Adapter foreign = new Adapter(a.name(), new BaseModelRef("bert-base", "ab".repeat(32)), a.modules(), a.head(),
        a.provenance());
    assertRefused(foreign, "adapter 'other' was trained on base model bert-base (ONNX sha256 abababababab…), not on "
        + "tiny (sha256 " + sha.substring(0, 12) + "…); use it with the base model it was trained on");
  }

  @Test
  void refusesFactorsOfTheWrongShape() throws Exception {
    Adapter a = adapter("narrow", 1);
    List<LowRankModule> modules = new ArrayList<>(a.modules().values());
    modules.add(LowRankModule.lora("encoder.layer.1.output.dense", Matrix.zeros(2, 32), Matrix.zeros(32, 2), 1));
    Adapter bad = new Adapter(a.name(), a.base(), Adapter.byName(modules), a.head(), a.provenance());
    assertRefused(bad, "adapter 'narrow' does not fit base model tiny: module encoder.layer.1.output.dense has "
        + "A 2x32 and B 32x2, so delta W is 32x32, but the base weight is 32x64");
  }

  @Test
  void refusesUnknownModules() throws Exception {
    Adapter a = adapter("unknown", 1);
    List<LowRankModule> modules = new ArrayList<>(a.modules().values());
    modules.add(LowRankModule.lora("encoder.layer.7.attention.self.query", Matrix.zeros(2, 32), Matrix.zeros(32, 2), 1));
    modules.add(LowRankModule.lora("decoder.dense", Matrix.zeros(2, 32), Matrix.zeros(32, 2), 1));
    Adapter bad = new Adapter(a.name(), a.base(), Adapter.byName(modules), a.head(), a.provenance());
    assertRefused(bad, "adapter 'unknown' names 2 modules encoder.layer.7.attention.self.query, decoder.dense that "
        + "base model tiny does not have (its modules look like encoder.layer.0.attention.self.query)");
  }

  @Test
  void refusesNonFiniteWeights() throws Exception {
    Adapter a = adapter("nan", 1);
    LowRankModule q = a.modules().get("encoder.layer.1.attention.self.value");
    float[] b = q.b().data().clone();
    b[5] = Float.NaN;
    List<LowRankModule> modules = new ArrayList<>(a.modules().values());
    modules.set(1, new LowRankModule(q.module(), q.a(), new Matrix(q.b().rows(), q.b().cols(), b), q.scaling(),
        q.gate(), q.transform()));
    Adapter bad = new Adapter(a.name(), a.base(), Adapter.byName(modules), a.head(), a.provenance());
    assertRefused(bad, "adapter 'nan': tensor encoder.layer.1.attention.self.value.lora_B contains NaN or infinite values");
  }

  @Test
  void aFailedWriteKeepsThePreviousExport() throws Exception {
    Path out = dir.resolve("export");
    ExportBundle.export(ExportRequest.of(files, List.of(adapter("first", 1)), EnumSet.of(ExportFormat.MULTI), out),
        s -> { });
    // fails late, after graphs and adapter files are written: an extra file where the PEFT directory is
    ExportRequest late = ExportRequest.of(files, List.of(adapter("second", 2)),
        EnumSet.of(ExportFormat.MULTI, ExportFormat.PEFT), out).withExtraFiles(Map.of("second.peft", new byte[1]));
    Lora4jException e = assertThrows(Lora4jException.class, () -> ExportBundle.export(late, s -> { }));
    assertTrue(e.getMessage().startsWith("export to " + out + " failed, nothing was changed there: Could not write "),
        e.getMessage());
    assertTrue(Files.exists(out.resolve("first.onnx_adapter")));
    assertFalse(Files.exists(out.resolve("second.onnx_adapter")));
    assertNoLeftovers();
  }

  @Test
  void aMissingTokenizerIsRefusedBeforeWriting() throws Exception {
    Path missing = dir.resolve("missing-tokenizer.json");
    Lora4jException e = assertThrows(Lora4jException.class, () -> ExportBundle.export(ExportRequest.of(
        new BaseModelFiles("tiny", model, missing, sha), List.of(adapter("a", 1)), EnumSet.of(ExportFormat.MULTI),
        dir.resolve("export")), s -> { }));
    assertEquals(missing + ": the base model's tokenizer is missing", e.getMessage());
    assertFalse(Files.exists(dir.resolve("export")));
  }

  @Test
  void exportRefusesANonEmptyForeignDirectoryAndLeavesItByteIdentical() throws Exception {
    Path out = Files.createDirectories(dir.resolve("export"));
    Files.writeString(out.resolve("notes.md"), "my notes");
    Files.write(out.resolve("model.onnx"), new byte[] {8, 1, 2});
    Lora4jException e = assertThrows(Lora4jException.class, () -> ExportBundle.export(ExportRequest.of(files,
        List.of(adapter("a", 1)), EnumSet.of(ExportFormat.MULTI), out), s -> { }));
    assertEquals(out + " is a directory that is not an export directory (it has no export.json; it holds model.onnx, "
        + "notes.md); refusing to replace it (--overwrite replaces it, deleting what is there)", e.getMessage());
    assertEquals("my notes", Files.readString(out.resolve("notes.md")));
    assertArrayEquals(new byte[] {8, 1, 2}, Files.readAllBytes(out.resolve("model.onnx")));
    assertNoLeftovers();
  }

  @Test
  void reExportingIntoItsOwnEarlierOutputReplacesIt() throws Exception {
    Path out = dir.resolve("export");
    Map<String, byte[]> plot = Map.of(ExportLayout.rankPlot("first"), new byte[] {1});
    ExportBundle.export(ExportRequest.of(files, List.of(adapter("first", 1)), EnumSet.allOf(ExportFormat.class), out)
        .withExtraFiles(plot), s -> { });
    ExportBundle.export(ExportRequest.of(files, List.of(adapter("second", 2)), EnumSet.of(ExportFormat.MULTI), out)
        .withExtraFiles(plot), s -> { });
    try (Stream<Path> s = Files.list(out)) {
      assertEquals(new TreeSet<>(List.of("export.json", "tokenizer.json", "base.multi.onnx", "second.onnx_adapter",
          "second.adapter.json", "first.ranks.png")), new TreeSet<>(s.map(p -> p.getFileName().toString()).toList()));
    }
    assertNoLeftovers();
  }

  @Test
  void overwriteReplacesAForeignDirectory() throws Exception {
    Path out = Files.createDirectories(dir.resolve("export"));
    Files.writeString(out.resolve("notes.md"), "my notes");
    ExportBundle.export(ExportRequest.of(files, List.of(adapter("a", 1)), EnumSet.of(ExportFormat.MULTI), out)
        .withOverwrite(true), s -> { });
    assertFalse(Files.exists(out.resolve("notes.md")));
    assertTrue(Files.exists(out.resolve("a.onnx_adapter")));
    assertNoLeftovers();
  }

  @Test
  void anExportIntoTheBaseModelsDirectoryIsRefusedEvenWithOverwrite() throws Exception {
    Path out = model.getParent();
    Lora4jException e = assertThrows(Lora4jException.class, () -> ExportBundle.export(ExportRequest.of(files,
        List.of(adapter("a", 1)), EnumSet.of(ExportFormat.MULTI), out).withOverwrite(true), s -> { }));
    assertEquals("the export directory " + out + " contains the input base model file " + model
        + "; write the output elsewhere (an input is never replaced, not even with --overwrite)", e.getMessage());
    assertTrue(Files.isRegularFile(model));
    assertNoLeftovers();
  }

  private void assertRefused(Adapter bad, String message) throws Exception {
    Path out = dir.resolve("export");
    Lora4jException e = assertThrows(Lora4jException.class, () -> ExportBundle.export(ExportRequest.of(files,
        List.of(adapter("good", 3), bad), EnumSet.allOf(ExportFormat.class), out), s -> { }));
    assertEquals(message, e.getMessage());
    assertFalse(Files.exists(out), "nothing written");
    assertNoLeftovers();
  }

  /** Only the base model directory and possibly the export: no temporary siblings. */
  private void assertNoLeftovers() throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      List<String> names = s.map(p -> p.getFileName().toString()).filter(n -> !n.equals("base") && !n.equals("export"))
          .toList();
      assertEquals(List.of(), names);
    }
  }
}
