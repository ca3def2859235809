package dev.lora4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.tensor.Matrix;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PEFT's lora_dropout says what --dropout training used (it used to be written as 0.0 whatever it was). */
class PeftDropoutTest {
  @TempDir Path tmp;

  @Test
  void theWrittenLoraDropoutIsTheTrainingDropout() throws Exception {
    // not the default 0.1, so a writer that ignored the config could not pass by coincidence
    TrainingConfig config = TrainingConfig.builder().dropout(0.05).build();
    // as Trainer records it: the options by their command-line names
    Provenance provenance = new Provenance("lora", config.toMap(), Map.of(), config.seed(), Map.of(), "now", "test");
    String q = "encoder.layer.0.attention.self.query";
    Adapter adapter = new Adapter("a", new BaseModelRef("b", ""), Adapter.byName(List.of(
        LowRankModule.lora(q, Matrix.zeros(1, 4), Matrix.zeros(4, 1), 1))), TaskHead.embeddings(TaskHead.Pooling.MEAN),
        provenance);
    PeftAdapters.write(adapter, tmp.resolve("a"));
    assertEquals(0.05, new ObjectMapper().readTree(tmp.resolve("a/adapter_config.json").toFile())
        .get("lora_dropout").doubleValue());
  }
}
