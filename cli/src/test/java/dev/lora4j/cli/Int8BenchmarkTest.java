package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.trainer.data.LabeledText;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@code bench} adds for the int8 base, on the tiny BERT (timings are not checked, only that they exist). */
class Int8BenchmarkTest {
  static final List<String> TEXTS = List.of("a good movie", "boring", "the plot was dull", "i loved the characters");

  @Test
  void reportsBothBatchRatiosAgreementAndPerAdapterAccuracy(@TempDir Path dir) throws Exception {
    BaseModelFiles base = TinyBert.writeBase(dir.resolve("tiny"), 1).files();
    Path model = base.onnx();
    List<LabeledText> gold = TEXTS.stream().map(t -> new LabeledText(t, "label0", 0)).toList();

    RuntimeBenchmark.Report r = new Int8Benchmark(TEXTS, gold, List.of(), TEXTS, 4, s -> { }).run(base, dir.resolve("work"));
    List<String> what = r.rows().stream().map(RuntimeBenchmark.Row::what).toList();
    assertTrue(what.get(0).startsWith("int8 / float32 base throughput, batch 1 "), what.toString());
    assertTrue(what.get(1).startsWith("int8 / float32 base throughput, batch 4 "), what.toString());
    assertTrue(r.rows().get(0).value() > 0 && r.rows().get(1).value() > 0);
    // the goal rows are timed on a runtime thread (as the server calls); an application thread's
    // hand-off is a context row with its own timings
    assertTrue(what.get(2).startsWith("int8 / float32 base throughput, batch 1, called from an application thread"),
        what.toString());
    assertEquals("(context)", r.rows().get(2).goal());
    assertTrue(r.timingsMs().get("runtime int8 base, batch 1, called from an application thread (a hand-off each call)")
        > 0, r.timingsMs().toString());
    // where there are two cores or more: one caller on one thread per session (one core's ratio),
    // then one caller per core; context rows, with their timings
    int cores = Runtime.getRuntime().availableProcessors();
    int c = cores > 1 ? 2 : 0;
    if (cores > 1) {
      assertTrue(what.get(3).startsWith("int8 / float32 base throughput, batch 1, 1 thread per session (one core) "),
          what.toString());
      assertEquals("(context)", r.rows().get(3).goal());
      assertTrue(r.timingsMs().get("runtime float32 base, batch 1, 1 thread per session (one core)") > 0,
          r.timingsMs().toString());
      assertTrue(what.get(4).startsWith("int8 / float32 base throughput, batch 1, " + cores + " concurrent callers"),
          what.toString());
      assertTrue(r.rows().get(4).value() > 0);
      assertTrue(r.timingsMs().get("runtime int8 base, batch 1, " + cores + " callers, wall time per request") > 0,
          r.timingsMs().toString());
    }
    assertTrue(what.get(3 + c).startsWith("int8 / float32 argmax agreement, synthetic adapter int8-bench"), what.toString());
    assertTrue(what.get(4 + c).startsWith("load average"), what.toString());
    // the int8 base of this run was calibrated on the TEXTS: the report says on how many
    assertTrue(what.get(5 + c).startsWith("int8 base calibrated on"), what.toString());
    assertEquals(TEXTS.size(), r.rows().get(5 + c).value());
    dev.lora4j.models.onnx.OnnxModel q = dev.lora4j.models.onnx.OnnxModel.read(
        dir.resolve("work/int8-export/base.multi.int8.onnx"));
    assertTrue(q.proto().getMetadataPropsList().stream().anyMatch(p -> p.getKey().equals("lora4j.int8_smoothing")),
        "the benchmark's int8 base is the calibrated one");
    assertEquals(6 + 2 * c, r.timingsMs().size(), r.timingsMs().toString());

    // with an adapter file: one accuracy row for it, int8 minus float32 in points
    Path export = dir.resolve("work/int8-export");
    RuntimeBenchmark.Report a = new Int8Benchmark(TEXTS, gold, List.of(export.resolve("int8-bench.onnx_adapter")), List.of(), 4,
        s -> { }).run(export, "int8-bench", "tiny");
    RuntimeBenchmark.Row acc = a.rows().stream().filter(x -> x.what().startsWith("int8 - float32 accuracy")).findFirst()
        .orElseThrow();
    assertTrue(acc.what().startsWith("int8 - float32 accuracy, int8-bench ("), acc.what());
    assertEquals("pt", acc.unit());
    // four texts: accuracies are multiples of 25 %, so their difference is too
    assertEquals(0, Math.IEEEremainder(acc.value(), 25), 1e-9, acc.what());
  }

  /**
   * The bench's export branches only where adapters need it (export --adapter-modules used): a scored
   * adapter on modules the synthetic one leaves alone must get branches too, not a refusal at load.
   */
  @Test
  void anAdapterOnOtherModulesThanTheSyntheticOneIsScored(@TempDir Path dir) throws Exception {
    BaseModelFiles base = TinyBert.writeBase(dir.resolve("tiny"), 1).files();
    Path model = base.onnx();
    java.util.Map<String, Integer> ranks = new java.util.LinkedHashMap<>();
    ranks.put("encoder.layer.0.intermediate.dense", 4);
    ranks.put("encoder.layer.1.attention.output.dense", 2);
    Path file = dir.resolve("other.onnx_adapter");
    dev.lora4j.models.export.AdapterFiles.writeOnnxAdapter(file, dev.lora4j.models.testing.SyntheticAdapters.classifier(
        dev.lora4j.models.base.EncoderDescription.of(dev.lora4j.models.onnx.OnnxModel.read(model)), base.ref(), "other",
        ranks, 2, dev.lora4j.models.adapter.TaskHead.Pooling.MEAN, 5), "tiny", base.onnxSha256());
    List<LabeledText> gold = TEXTS.stream().map(t -> new LabeledText(t, "label0", 0)).toList();
    RuntimeBenchmark.Report r = new Int8Benchmark(TEXTS, gold, List.of(file), List.of(), 4, s -> { }).run(base, dir.resolve("work"));
    assertTrue(r.rows().stream().anyMatch(x -> x.what().startsWith("int8 - float32 accuracy, other (")),
        r.rows().toString());
    // q and v of both layers for the synthetic adapter, plus the two modules of the scored one
    assertEquals(6, dev.lora4j.models.export.ExportManifest.read(dir.resolve("work/int8-export")).adapterLayout()
        .modules().size());
  }
}
