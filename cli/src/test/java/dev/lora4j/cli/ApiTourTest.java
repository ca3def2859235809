package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.exporter.ExportBundle;
import dev.lora4j.exporter.ExportFormat;
import dev.lora4j.exporter.ExportRequest;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.testing.TinySentiment;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Prediction;
import dev.lora4j.trainer.BaseModel;
import dev.lora4j.trainer.Trainer;
import dev.lora4j.trainer.TrainingConfig;
import dev.lora4j.trainer.TrainingRun;
import dev.lora4j.trainer.data.TsvDataset;
import dev.lora4j.trainer.loop.TrainingListener;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's 60-second tour of the Java API, as code that must compile and run: train, export,
 * serve. Only the base model (the tiny fixture instead of minilm-l6) and the data differ.
 */
class ApiTourTest {
  @Test
  void trainExportServe(@TempDir Path dir) throws Exception {
    Path data = TinySentiment.write(dir.resolve("data"), 128, 32);
    Path tiny = data.resolve("base");
    Path out = dir;

    // --- README tour starts (base: "minilm-l6" there) ---
    BaseModel base = BaseModel.open(tiny.toString());
    TrainingConfig config = TrainingConfig.builder().method("sora").rank(16).epochs(1).build();
    Adapter adapter = Trainer.train(new TrainingRun(config, base, TsvDataset.read(data.resolve("train.tsv")),
        TsvDataset.read(data.resolve("dev.tsv")), null, false, "sentiment"), TrainingListener.NONE).adapter();
    PeftAdapters.write(adapter, out.resolve("adapters/sentiment"));          // PEFT layout

    ExportBundle.export(ExportRequest.of(base.files(), List.of(adapter),
        EnumSet.of(ExportFormat.MERGED, ExportFormat.MULTI, ExportFormat.MIXED), out.resolve("export")),
        System.out::println);

    try (AdapterRuntime rt = AdapterRuntime.open(out.resolve("export"))) {
      rt.load("sentiment");                                                  // sentiment.onnx_adapter
      Prediction p = rt.predict("sentiment", "a great movie");
      System.out.println(p.label() + " " + p.probability());
    // --- README tour ends ---
      assertEquals(List.of("0", "1"), p.labels());
      assertTrue(p.probability() >= 0.5f);
    }
  }
}
