package dev.lora4j.exporter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.exporter.TestAdapters.Kind;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.export.ExportManifest;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What an export vouches for: sane adapter weights in, and the SHA-256 of every file it wrote out. */
class ExportIntegrityTest {
  @TempDir Path dir;
  BaseModelFiles files;
  EncoderDescription base;

  @BeforeEach
  void base() throws Exception {
    Path b = TinyBert.writeBaseModel(dir.resolve("base"), 5);
    Path model = b.resolve("model.onnx");
    files = new BaseModelFiles("tiny", model, b.resolve("tokenizer.json"), AtomicFiles.sha256(model));
    base = EncoderDescription.of(OnnxModel.read(model));
  }

  Adapter adapter(String name, Kind kind) {
    Map<String, Integer> ranks = new LinkedHashMap<>();
    ranks.put("encoder.layer.0.attention.self.query", 4);
    ranks.put("encoder.layer.1.attention.self.value", 7);
    return TestAdapters.adapter(base, name, ranks, kind, TestAdapters.classifier(TinyBert.HIDDEN, 2,
        TaskHead.Pooling.CLS, 3), 3);
  }

  /** {@code a} with the B of its second module scaled so its largest entry is {@code largest}: finite, absurd. */
  static Adapter scaled(Adapter a, double largest) {
    List<LowRankModule> modules = new ArrayList<>(a.modules().values());
    LowRankModule m = modules.get(1);
    float max = 0;
    for (float v : m.b().data()) {
      max = Math.max(max, Math.abs(v));
    }
    modules.set(1, new LowRankModule(m.module(), m.a(), m.b().scale(largest / max), m.scaling(), m.gate(),
        m.transform()));
    return new Adapter(a.name(), a.base(), Adapter.byName(modules), a.head(), a.provenance());
  }

  Lora4jException refusedAtExport(Adapter bad) throws Exception {
    Path out = dir.resolve("export");
    Lora4jException e = assertThrows(Lora4jException.class, () -> ExportBundle.export(ExportRequest.of(files,
        List.of(bad), EnumSet.allOf(ExportFormat.class), out), s -> { }));
    assertFalse(Files.exists(out), "nothing written");
    return e;
  }

  @Test
  void anAdapterScaledTo3e38IsRefusedAtExport() throws Exception {
    Adapter huge = scaled(adapter("huge", Kind.LORA), 3e38);
    huge.requireFinite("huge"); // finite: the old check let it through
    Lora4jException e = refusedAtExport(huge);
    assertTrue(e.getMessage().startsWith("adapter 'huge': module encoder.layer.1.attention.self.value has absurdly "
        + "large weights"), e.getMessage());
  }

  @Test
  void weightsOf1e30FromADivergedTrainingAreRefusedAtExport() throws Exception {
    Lora4jException e = refusedAtExport(scaled(adapter("diverged", Kind.GATED_WITH_T), 1e30));
    assertTrue(e.getMessage().contains("absurdly large") && e.getMessage().contains("lower --lr"), e.getMessage());
  }

  @Test
  void aSafetensorsFileHolding3e38IsRefusedAtExport() throws Exception {
    Path peft = dir.resolve("huge.peft");
    PeftAdapters.write(scaled(adapter("huge", Kind.LORA), 3e38), peft);
    Lora4jException e = refusedAtExport(PeftAdapters.read(peft));
    assertTrue(e.getMessage().contains("absurdly large") || e.getMessage().contains("NaN or infinite"),
        e.getMessage());
  }

  @Test
  void exportJsonRecordsTheSha256OfEveryFileItWrote() throws Exception {
    Path out = dir.resolve("export");
    ExportBundle.export(new ExportRequest(files, List.of(adapter("sst2", Kind.GATED)),
        EnumSet.allOf(ExportFormat.class), false, out, Map.of(ExportLayout.rankPlot("sst2"), new byte[] {1, 2, 3})),
        s -> { });
    Map<String, String> onDisk = new TreeMap<>();
    try (Stream<Path> s = Files.walk(out)) {
      for (Path f : s.filter(Files::isRegularFile).toList()) {
        String name = out.relativize(f).toString().replace('\\', '/');
        if (!name.equals(ExportLayout.MANIFEST)) {
          onDisk.put(name, AtomicFiles.sha256(f));
        }
      }
    }
    assertTrue(onDisk.containsKey("sst2.peft/adapter_model.safetensors") && onDisk.containsKey("base.multi.onnx"),
        onDisk.keySet().toString());
    assertEquals(onDisk, ExportManifest.read(out).sha256());
  }
}
