package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.ortformat.OrtAdapter;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.adapter.ortformat.OrtAdapterParameter;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.testing.TinySentiment;
import dev.lora4j.trainer.data.TsvDataset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo's whole pipeline (train both methods, export, serve, report) on the tiny fixture. */
class DemoCommandTest {
  static final Pattern ANSWER =
      Pattern.compile("  (sst2-sora|sst2-lora) +(\\S+) +p\\(0\\)=(\\d\\.\\d{3}) p\\(1\\)=(\\d\\.\\d{3})  (.+)");
  static final Pattern RESULT = Pattern.compile("(sst2-sora|sst2-lora) +(sora|lora) +(\\d+\\.\\d{2})% +(\\d+) / (\\d+) .*");

  @Test
  void runsTheWholePipelineOnTheTinyModel(@TempDir Path dir) throws Exception {
    Path data = TinySentiment.write(dir.resolve("data"), 1024, 64);
    Path base = data.resolve("base");
    Path out = dir.resolve("demo");
    MainTest.Run r = MainTest.run("demo", "--base", base.toString(), "--data", data.toString(), "--out",
        out.toString(), "--epochs", "6", "--quiet");
    assertEquals(0, r.code(), r.err() + r.out());
    for (String stage : List.of("== 1/4 base model", "== 2/4 training sst2-sora", "== 2/4 training sst2-lora",
        "== 3/4 export", "== 4/4 serving both adapters", "one mixed batch", "== results")) {
      assertTrue(r.out().contains(stage), stage + " missing:\n" + r.out());
    }
    assertTrue(r.out().contains("latency, one sentence: merged model"), r.out());
    // the int8 base: its export is calibrated (on the first training sentences), and the line reports
    // both adapters on both bases; its float32 accuracy is the merged graph's (checked below)
    Matcher int8 = Pattern.compile("int8 base \\(export-int8, calibrated on (\\d+) training sentences; --int8\\): dev "
        + "accuracy sst2-sora (\\d+\\.\\d{2})% \\(float32 (\\d+\\.\\d{2})%\\), sst2-lora (\\d+\\.\\d{2})% \\(float32 "
        + "(\\d+\\.\\d{2})%\\); one sentence (\\d+\\.\\d{2}) ms \\(float32 (\\d+\\.\\d{2}) ms, .*").matcher(r.out());
    assertTrue(int8.find(), r.out());
    assertEquals(256, Integer.parseInt(int8.group(1)), "the first 256 of the 1,024 training sentences");
    dev.lora4j.models.onnx.OnnxModel q = dev.lora4j.models.onnx.OnnxModel.read(
        out.resolve("export-int8/" + ExportLayout.int8(ExportLayout.MULTI_GRAPH)));
    assertTrue(q.proto().getMetadataPropsList().stream().anyMatch(p -> p.getKey().equals("lora4j.int8_smoothing")
        && p.getValue().contains("256 texts")), "the demo's int8 base is calibrated");
    for (String f : List.of("adapters/sst2-sora/adapter_config.json", "adapters/sst2-lora/adapter_model.safetensors",
        "export/" + ExportLayout.MULTI_GRAPH, "export/" + ExportLayout.MIXED_GRAPH, "export/sst2-sora.onnx_adapter",
        "export/sst2-lora.merged.onnx", "export/sst2-sora.factored.onnx", "runs/sst2-sora/metrics.jsonl")) {
      assertTrue(Files.exists(out.resolve(f)), f);
    }

    // Every answer the demo prints (per request, then the mixed batch) is its adapter's merged graph's
    // answer in a bare ONNX Runtime session: a label of the adapter's ("0", "1" from the TSV) and its
    // probabilities to the printed 3 decimals (+ 0.001 for float noise between the two runs).
    Path export = out.resolve("export");
    List<String> lines = r.out().lines().toList();
    int switching = lines.indexOf("switching adapter per request:");
    int mixed = lines.indexOf("one mixed batch (each row names its adapter, one session run):");
    assertTrue(switching >= 0 && mixed == switching + 1 + 2 * DemoCommand.SENTENCES.size(), r.out());
    int answers = 0;
    for (int i = switching + 1; i <= mixed + DemoCommand.SENTENCES.size(); i++) {
      if (i == mixed) {
        continue;
      }
      Matcher m = ANSWER.matcher(lines.get(i));
      assertTrue(m.matches(), lines.get(i));
      float[] want = MergedGraph.logits(export, m.group(1), List.of(m.group(5)))[0];
      assertEquals(List.of("0", "1").get(MergedGraph.argmax(want)), m.group(2), lines.get(i));
      double[] p = RunCommandTest.softmax(want);
      assertEquals(p[0], Double.parseDouble(m.group(3)), 0.0015, lines.get(i));
      assertEquals(p[1], Double.parseDouble(m.group(4)), 0.0015, lines.get(i));
      answers++;
    }
    assertEquals(3 * DemoCommand.SENTENCES.size(), answers);

    // The reported dev accuracy is what the exported merged graph scores on dev.tsv (the trainer
    // measured it with its own engine; one row near p = 0.5 may fall either side), and it is above
    // what no learning gets on these 64 rows: a constant answer scores the majority share (checked
    // below 0.6) and a random one 0.5 +- 0.0625. The demo's own settings (MiniLM's learning rate)
    // need 6 epochs of 1,024 rows to learn the tiny task: measured 0.97 (sora) and 0.81 (lora).
    TsvDataset dev = TsvDataset.read(data.resolve("dev.tsv"));
    long positive = dev.rows().stream().filter(x -> x.label().equals("1")).count();
    double majority = Math.max(positive, dev.size() - positive) / (double) dev.size();
    assertTrue(majority < 0.6, "majority share " + majority);
    int results = 0;
    for (String line : lines) {
      Matcher m = RESULT.matcher(line);
      if (!m.matches()) {
        continue;
      }
      results++;
      float[][] logits = MergedGraph.logits(export, m.group(1), dev.texts());
      int right = 0;
      for (int i = 0; i < dev.size(); i++) {
        right += List.of("0", "1").get(MergedGraph.argmax(logits[i])).equals(dev.rows().get(i).label()) ? 1 : 0;
      }
      double reported = Double.parseDouble(m.group(3)) / 100;
      assertEquals(right / (double) dev.size(), reported, 1.0 / dev.size() + 5e-5, line);
      assertTrue(reported >= 0.75, line);
      // 2 layers x 2 modules (query, value) at rank 16 (sora) and 8 (lora); the kept ranks are those
      // of the adapter written to adapters/ (its nonzero gates; measured 48 of 64 for sora).
      boolean sora = m.group(2).equals("sora");
      assertEquals(sora ? "64" : "32", m.group(5), line);
      int kept = PeftAdapters.read(out.resolve("adapters").resolve(m.group(1))).compact().ranks().values().stream()
          .mapToInt(Integer::intValue).sum();
      assertEquals(kept, Integer.parseInt(m.group(4)), line);
    }
    assertEquals(2, results, r.out());

    // The compact path: the LoRA adapter exported again, cut to half its 32 ranks and in int8. Its
    // line reports sizes the files have and accuracies the merged graphs (float32 export and compact
    // export) score on dev.tsv.
    Matcher c = COMPACT.matcher(r.out());
    assertTrue(c.find(), r.out());
    Path compactExport = out.resolve("export-compact");
    assertEquals("16 of 32", c.group(1), c.group());
    // the file itself holds 16 ranks (lora_A is [in, r]) stored as int8 (ONNX data type 3)
    OrtAdapter file = OrtAdapterFile.read(compactExport.resolve("sst2-lora.onnx_adapter"));
    List<OrtAdapterParameter> factorsA = file.parameters().stream().filter(t -> t.name().endsWith(".lora_A")).toList();
    assertEquals(16, factorsA.stream().mapToLong(t -> t.dims()[1]).sum(), file.byName().keySet().toString());
    factorsA.forEach(t -> assertEquals(3, t.dataType(), t.name()));
    long compactBytes = Files.size(compactExport.resolve("sst2-lora.onnx_adapter"));
    long fp32Bytes = Files.size(export.resolve("sst2-lora.onnx_adapter"));
    assertTrue(compactBytes < fp32Bytes / 2, compactBytes + " vs " + fp32Bytes);
    assertEquals(Math.round(100.0 * compactBytes / fp32Bytes), Long.parseLong(c.group(2)), c.group());
    assertEquals(devAccuracy(compactExport, dev), Double.parseDouble(c.group(3)) / 100, 1.0 / dev.size() + 5e-5,
        c.group());
    assertEquals(devAccuracy(export, dev), Double.parseDouble(c.group(4)) / 100, 1.0 / dev.size() + 5e-5, c.group());

    // the int8 line's float32 accuracy of sst2-lora is what its merged graph scores (one row near
    // p = 0.5 may fall either side); its int8 accuracy is that of an int8 runtime on the same export,
    // a few rows apart at most on 64 sentences of the tiny task (int8 moves logits by a few hundredths)
    assertEquals(devAccuracy(export, dev), Double.parseDouble(int8.group(5)) / 100, 1.0 / dev.size() + 5e-5,
        int8.group());
    assertEquals(Double.parseDouble(int8.group(5)), Double.parseDouble(int8.group(4)), 100.0 * 4 / dev.size(),
        int8.group());
  }

  static final Pattern COMPACT = Pattern.compile(
      "compact sst2-lora-compact: sst2-lora cut to (\\d+ of \\d+) ranks, int8, \\S+ kB, (\\d+)% of its float32 \\S+ kB; "
          + "dev accuracy \\(runtime\\) (\\d+\\.\\d{2})% vs (\\d+\\.\\d{2})%");

  /** What sst2-lora's merged graph in {@code export} scores on {@code dev}. */
  private static double devAccuracy(Path export, TsvDataset dev) throws Exception {
    float[][] logits = MergedGraph.logits(export, "sst2-lora", dev.texts());
    int right = 0;
    for (int i = 0; i < dev.size(); i++) {
      right += List.of("0", "1").get(MergedGraph.argmax(logits[i])).equals(dev.rows().get(i).label()) ? 1 : 0;
    }
    return right / (double) dev.size();
  }
}
