package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.testing.TinySentiment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo's whole pipeline (train both methods, export, serve, report) on the tiny fixture. */
class DemoCommandTest {
  @Test
  void runsTheWholePipelineOnTheTinyModel(@TempDir Path dir) throws Exception {
    Path data = TinySentiment.write(dir.resolve("data"), 256, 64);
    Path base = data.resolve("base");
    Path out = dir.resolve("demo");
    MainTest.Run r = MainTest.run("demo", "--base", base.toString(), "--data", data.toString(), "--out",
        out.toString(), "--epochs", "3", "--quiet");
    assertEquals(0, r.code(), r.err() + r.out());
    for (String stage : List.of("== 1/4 base model", "== 2/4 training sst2-sora", "== 2/4 training sst2-lora",
        "== 3/4 export", "== 4/4 serving both adapters", "one mixed batch", "== results")) {
      assertTrue(r.out().contains(stage), stage + " missing:\n" + r.out());
    }
    assertTrue(r.out().lines().anyMatch(l -> l.matches("sst2-sora +sora +\\d+\\.\\d{2}% +\\d+ / 64 .*")), r.out());
    assertTrue(r.out().lines().anyMatch(l -> l.matches("sst2-lora +lora +\\d+\\.\\d{2}% +32 / 32 .*")), r.out());
    assertTrue(r.out().contains("latency, one sentence: merged model"), r.out());
    for (String f : List.of("adapters/sst2-sora/adapter_config.json", "adapters/sst2-lora/adapter_model.safetensors",
        "export/" + ExportLayout.MULTI_GRAPH, "export/" + ExportLayout.MIXED_GRAPH, "export/sst2-sora.onnx_adapter",
        "export/sst2-lora.merged.onnx", "export/sst2-sora.factored.onnx", "runs/sst2-sora/metrics.jsonl")) {
      assertTrue(Files.exists(out.resolve(f)), f);
    }
  }
}
