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
import dev.lora4j.models.testing.SyntheticAdapters;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link RuntimeOptions#int8Base()}: which graph the runtime opens, and when it refuses. */
class Int8BaseRuntimeTest {
  static final List<String> TEXTS = ExportFixture.TEXTS;

  @TempDir Path tmp;

  private Path export(String name, boolean int8) throws Exception {
    TinyBert.Written tiny = TinyBert.writeBase(tmp.resolve("base"), 21);
    EncoderDescription d = tiny.description();
    BaseModelRef ref = tiny.files().ref();
    Map<String, Integer> ranks = new LinkedHashMap<>();
    ranks.put("encoder.layer.0.attention.self.query", 8);
    ranks.put("encoder.layer.1.attention.self.value", 4);
    Adapter a = SyntheticAdapters.classifier(d, ref, "alpha", ranks, 3, TaskHead.Pooling.MEAN, 5);
    Path dir = tmp.resolve(name);
    ExportBundle.export(ExportRequest.of(tiny.files(), List.of(a), EnumSet.of(ExportFormat.MULTI, ExportFormat.MIXED), dir).withInt8Base(int8),
        line -> { });
    return dir;
  }

  @Test
  void int8OptionServesTheInt8BaseGraph() throws Exception {
    Path dir = export("q", true);
    RuntimeOptions options = RuntimeOptions.defaults().withDevice(Device.CPU);
    try (AdapterRuntime f32 = AdapterRuntime.open(dir, options);
        AdapterRuntime i8 = AdapterRuntime.open(dir, options.withInt8Base(true))) {
      assertEquals("base.multi.onnx", f32.baseGraph());
      assertEquals("base.multi.int8.onnx", i8.baseGraph());
      f32.load("alpha");
      i8.load("alpha");
      List<Prediction> pf = f32.predict("alpha", TEXTS);
      List<Prediction> pq = i8.predict("alpha", TEXTS);
      List<Prediction> mixed = i8.predictMixed(TEXTS.stream().map(t -> new MixedRequest("alpha", t)).toList());
      double diff = 0;
      for (int i = 0; i < TEXTS.size(); i++) {
        for (int l = 0; l < 3; l++) {
          diff = Math.max(diff, Math.abs(pf.get(i).logits()[l] - pq.get(i).logits()[l]));
          // the mixed int8 graph runs the same int8 maths per row (its own activation ranges per batch,
          // so agreement is to int8 noise, not bit for bit)
          assertEquals(pq.get(i).logits()[l], mixed.get(i).logits()[l], 0.25, TEXTS.get(i));
        }
      }
      // a float32 graph would answer the same to rounding; int8 differs visibly
      assertTrue(diff > 1e-4, "int8 runtime answers like float32: " + diff);
    }
  }

  @Test
  void int8OptionRefusesAnExportWithoutInt8Graphs() throws Exception {
    Path dir = export("plain", false);
    Lora4jException e = assertThrows(Lora4jException.class,
        () -> AdapterRuntime.open(dir, RuntimeOptions.defaults().withDevice(Device.CPU).withInt8Base(true)));
    assertTrue(e.getMessage().contains("no int8 base for base.multi.onnx")
        && e.getMessage().contains("--quantize int8"), e.getMessage());
  }

  @Test
  void aChangedInt8GraphIsRefusedByItsRecordedHash() throws Exception {
    Path dir = export("q", true);
    Path q = dir.resolve("base.multi.int8.onnx");
    byte[] bytes = Files.readAllBytes(q);
    bytes[bytes.length / 2] ^= 1; // one bit in a weight
    Files.write(q, bytes);
    Lora4jException e = assertThrows(Lora4jException.class,
        () -> AdapterRuntime.open(dir, RuntimeOptions.defaults().withDevice(Device.CPU).withInt8Base(true)));
    assertTrue(e.getMessage().contains("base.multi.int8.onnx") && e.getMessage().contains("SHA-256"), e.getMessage());
    // the float32 base is untouched and still opens
    AdapterRuntime.open(dir, RuntimeOptions.defaults().withDevice(Device.CPU)).close();
  }
}
