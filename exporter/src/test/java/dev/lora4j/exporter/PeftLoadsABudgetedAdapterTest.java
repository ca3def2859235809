package dev.lora4j.exporter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.exporter.TestAdapters.Kind;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.adapter.safetensors.Safetensors;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.testing.TinyBert;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What real PEFT 0.21 makes of a budgeted adapter's PEFT output, whose modules keep unequal ranks
 * (so its config needs {@code rank_pattern}). The adapter below is committed as
 * {@code peft-budgeted/adapter/}; {@code peft-budgeted/check_peft.py} loads it with PEFT onto
 * TinyBert seed 5 (models' {@code peft/tiny-base.safetensors}) and records the rank PEFT built
 * for each module, its warnings and its delta W in {@code peft-budgeted/peft-load.json} and
 * {@code peft-budgeted/adapter/expected_deltas.safetensors}. Python never runs in the build; to
 * regenerate after an intended change, run {@link #theFixtureIsWhatABudgetedExportWritesToday}
 * with {@code -Dlora4j.peft.budgeted.fixture=<repo>/exporter/src/test/resources/peft-budgeted},
 * then {@code python3 exporter/src/test/resources/peft-budgeted/check_peft.py}.
 */
class PeftLoadsABudgetedAdapterTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String MINILM_SHA = "759c3cd2b7fe7e93933ad23c4c9181b7396442a2ed746ec7c1d46192c469c46e";

  @TempDir Path tmp;

  static Adapter budgeted() {
    EncoderDescription base = EncoderDescription.of(TinyBert.model(5));
    Map<String, Integer> ranks = new LinkedHashMap<>();
    ranks.put("encoder.layer.0.attention.self.query", 4);
    ranks.put("encoder.layer.0.intermediate.dense", 6);
    ranks.put("encoder.layer.1.attention.self.value", 7);
    ranks.put("encoder.layer.1.output.dense", 5);
    Adapter gated = TestAdapters.adapter(base, "budgeted", ranks, Kind.GATED,
        TestAdapters.classifier(TinyBert.HIDDEN, 2, TaskHead.Pooling.MEAN, 8), 8);
    Provenance fixed = new Provenance("sora", Map.of("rank", 8), Map.of(), 8, Map.of(), "2026-11-29T00:00:00Z",
        "lora4j test");
    Adapter stable = new Adapter(gated.name(), new BaseModelRef("minilm-l6", MINILM_SHA), gated.modules(),
        gated.head(), fixed);
    return new RankBudget(6, null).apply(stable).adapter();
  }

  @Test
  void theFixtureIsWhatABudgetedExportWritesToday() throws IOException {
    String regenerate = System.getProperty("lora4j.peft.budgeted.fixture");
    if (regenerate != null) {
      PeftAdapters.write(budgeted(), Path.of(regenerate, "adapter"), true);
    }
    Path dir = tmp.resolve("written");
    PeftAdapters.write(budgeted(), dir);
    for (String file : List.of(PeftAdapters.CONFIG_FILE, PeftAdapters.WEIGHTS_FILE)) {
      assertArrayEquals(resource("adapter/" + file), Files.readAllBytes(dir.resolve(file)),
          file + " differs from the committed fixture PEFT checked; regenerate it (see the class comment)");
    }
  }

  @Test
  void peftBuildsEachModuleAtItsBudgetedRankWithoutAWarning() throws IOException {
    Adapter a = budgeted();
    assertTrue(a.ranks().values().stream().distinct().count() > 1, "needs unequal ranks: " + a.ranks());
    JsonNode seen = JSON.readTree(resource("peft-load.json"));
    assertEquals("0.21.0", seen.get("peft_version").textValue());
    assertEquals(0, seen.get("warnings").size(), "PEFT warned: " + seen.get("warnings"));
    Map<String, Integer> peftRanks = new LinkedHashMap<>();
    seen.get("ranks").fields().forEachRemaining(e -> peftRanks.put(e.getKey(), e.getValue().intValue()));
    assertEquals(a.ranks(), peftRanks, "the rank PEFT built per module, from r and rank_pattern");

    Safetensors deltas;
    try (InputStream in = resourceStream("adapter/expected_deltas.safetensors")) {
      Path f = tmp.resolve("deltas.safetensors");
      Files.write(f, in.readAllBytes());
      deltas = Safetensors.read(f);
    }
    assertEquals(a.modules().keySet(), deltas.tensors().keySet());
    deltas.tensors().forEach((module, delta) -> {
      double diff = delta.toMatrix().maxAbsDifference(Expected.delta(a.modules().get(module)));
      // the same float32 factors multiplied by PyTorch and by a double loop rounded to float32
      assertTrue(diff < 1e-6, module + " differs from PEFT's delta by " + diff);
    });
  }

  private static byte[] resource(String name) throws IOException {
    try (InputStream in = resourceStream(name)) {
      return in.readAllBytes();
    }
  }

  private static InputStream resourceStream(String name) {
    InputStream in = PeftLoadsABudgetedAdapterTest.class.getResourceAsStream("/peft-budgeted/" + name);
    if (in == null) {
      throw new IllegalStateException("test resource /peft-budgeted/" + name + " is missing");
    }
    return in;
  }
}
