package dev.lora4j.models.adapter;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lora4j.models.adapter.safetensors.Safetensors;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.testing.SyntheticAdapters;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.models.testing.corpus.HostileCorpus;
import dev.lora4j.models.testing.corpus.Mutation;
import dev.lora4j.models.testing.corpus.Mutators;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile-input corpus of PEFT adapter directories: adapter_config.json (JSON damage) and
 * adapter_model.safetensors (byte damage, header-length fields, damage to its JSON header with the
 * framing kept intact), plus what the file system can put in their place. Every case must be
 * refused with a message naming the directory, or load an adapter with finite weights on exactly
 * the modules of the valid file (a module silently dropped would change answers).
 */
class PeftCorpusTest {
  private static final long SEED = 1212;

  @TempDir Path tmp;

  static Adapter valid() {
    EncoderDescription base = EncoderDescription.of(TinyBert.model(3));
    Map<String, Integer> ranks = new LinkedHashMap<>();
    List<LinearModule> targets = base.resolveTargets("query,value");
    ranks.put(targets.get(0).name(), 2);
    ranks.put(targets.get(1).name(), 3);
    return SyntheticAdapters.classifier(base, new BaseModelRef("tiny-bert", "ab".repeat(32)), "tiny", ranks, 2,
        TaskHead.Pooling.MEAN, 5);
  }

  @Test
  void peftDirectoriesAreRefusedWithAMessageOrLoadSane() throws Exception {
    Path validDir = tmp.resolve("valid");
    Adapter original = valid();
    PeftAdapters.write(original, validDir);
    Path work = Files.createDirectories(tmp.resolve("work"));
    Random rnd = new Random(SEED);
    String config = PeftAdapters.CONFIG_FILE;
    String weights = PeftAdapters.WEIGHTS_FILE;
    byte[] configBytes = Files.readAllBytes(validDir.resolve(config));
    byte[] weightBytes = Files.readAllBytes(validDir.resolve(weights));

    HostileCorpus<Adapter> corpus = new HostileCorpus<Adapter>("peft", validDir, work, Duration.ofSeconds(20))
        .add(Mutators.json(config, configBytes, rnd, 3))
        .add(Mutators.fileSystem(config))
        .add(Mutators.binary(weights, weightBytes, rnd, 120, 150, 100))
        .add(Mutators.lengthFields(weights, 8, 0))
        .add(headerMutations(weights, weightBytes, rnd))
        .add(sectionMutations(weights, weightBytes, rnd))
        .add(Mutators.fileSystem(weights));
    corpus.run(PeftAdapters::read, (loaded, m) -> {
      loaded.requireFinite(m.name());
      assertEquals(original.modules().keySet(), loaded.modules().keySet(), "modules");
      for (String k : original.modules().keySet()) {
        assertEquals(original.modules().get(k).rank(), loaded.modules().get(k).rank(), k);
      }
    });
  }

  /** JSON damage to the safetensors header, re-framed so the header length stays right. */
  static List<Mutation> headerMutations(String file, byte[] bytes, Random rnd) {
    int length = (int) ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    byte[] header = Arrays.copyOfRange(bytes, 8, 8 + length);
    byte[] data = Arrays.copyOfRange(bytes, 8 + length, bytes.length);
    return Mutators.jsonEdits(header, rnd, 2).stream()
        .map(e -> Mutators.bytes(file, "header " + e.name(), b -> frame(e.change().apply(header.clone()), data)))
        .toList();
  }

  /**
   * JSON damage inside lora4j's section, which sits as one string in the header's metadata: the
   * header edits above replace that string whole, these reach its fields.
   */
  static List<Mutation> sectionMutations(String file, byte[] bytes, Random rnd) {
    Safetensors valid = Safetensors.decode(bytes, file);
    byte[] section = valid.metadata().get("lora4j").getBytes(StandardCharsets.UTF_8);
    return Mutators.jsonEdits(section, rnd, 2).stream()
        .map(e -> Mutators.bytes(file, "__metadata__.lora4j " + e.name(), b -> {
          Map<String, String> metadata = new LinkedHashMap<>(valid.metadata());
          metadata.put("lora4j", new String(e.change().apply(section.clone()), StandardCharsets.UTF_8));
          return new Safetensors(valid.tensors(), metadata).encode();
        }))
        .toList();
  }

  private static byte[] frame(byte[] header, byte[] data) {
    ByteBuffer out = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(header.length).put(header).put(data);
    return out.array();
  }
}
