package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.onnxruntime.OrtSession;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.export.ExportManifest;
import dev.lora4j.models.text.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MixedBatchRunnerTest {
  /**
   * The cached stacks are copies of their adapters' weights and their keys hold the adapters: an
   * evicted or unloaded adapter must leave the cache, or eviction frees nothing.
   */
  @Test
  void forgettingAnAdapterDropsEveryCachedSetHoldingIt(@TempDir Path tmp) throws Exception {
    ExportFixture fx = new ExportFixture(tmp, 44);
    var layout = ExportManifest.read(fx.dir).requireAdapterLayout(fx.dir);
    OrtSession s = ExecutionProviders.open(Files.readAllBytes(fx.dir.resolve(ExportLayout.MIXED_GRAPH)),
        SessionSettings.defaults().withDevice(Device.CPU), "mixed").session();
    Adapter alpha = fx.adapters.get("alpha").compact();
    Adapter beta = fx.adapters.get("beta").compact();
    Adapter gamma = fx.adapters.get("gamma").compact();
    try (MixedBatchRunner r = new MixedBatchRunner(ExecutionProviders.environment(), s, layout);
        Tokenizer tok = Tokenizer.open(fx.dir.resolve(ExportLayout.TOKENIZER))) {
      var enc = tok.encode(List.of("dull", "fun"));
      r.run(enc, List.of(alpha, beta), new int[] {0, 1});
      r.run(enc, List.of(beta, gamma), new int[] {0, 1});
      r.run(enc, List.of(gamma), new int[] {0, 0});
      assertEquals(3, r.cachedSets());
      r.forget(beta);
      assertEquals(1, r.cachedSets(), "both sets with beta are gone, gamma's alone stays");
      r.forget(alpha);
      assertEquals(1, r.cachedSets());
    }
  }
}
