package dev.lora4j.models.export;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.ortformat.MultiAdapterParameters;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.models.testing.corpus.HostileCorpus;
import dev.lora4j.models.testing.corpus.Mutators;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.testing.SyntheticAdapters;
import dev.lora4j.models.adapter.TaskHead;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile-input corpus of the {@code .onnx_adapter} file and its {@code .adapter.json} sidecar as an
 * export writes them: FlatBuffers byte damage, every 4-byte field of the file's head set to
 * 0 / -1 / 0x7fffffff / ..., sidecar JSON damage, and file-system substitutes for both. Every case
 * must be refused with a message naming the file, or load finite weights on the valid file's
 * modules.
 */
class OrtAdapterCorpusTest {
  private static final long SEED = 1213;

  @TempDir Path tmp;

  @Test
  void onnxAdaptersAndSidecarsAreRefusedWithAMessageOrLoadSane() throws Exception {
    Adapter original = adapter().compact();
    Path validDir = Files.createDirectories(tmp.resolve("valid"));
    String file = ExportLayout.onnxAdapter("tiny");
    String sidecar = ExportLayout.sidecar("tiny");
    AdapterFiles.writeOnnxAdapter(validDir.resolve(file), original, "tiny-bert", "ab".repeat(32));
    byte[] bytes = Files.readAllBytes(validDir.resolve(file));
    Random rnd = new Random(SEED);
    int[] heads = IntStream.range(0, Math.min(160, bytes.length) / 4).map(i -> i * 4).toArray();

    HostileCorpus<Adapter> corpus = new HostileCorpus<Adapter>("onnx_adapter", validDir,
        Files.createDirectories(tmp.resolve("work")), Duration.ofSeconds(20))
        .add(Mutators.binary(file, bytes, rnd, 100, 150, 100))
        .add(Mutators.lengthFields(file, 4, heads))
        .add(Mutators.fileSystem(file))
        .add(Mutators.json(sidecar, Files.readAllBytes(validDir.resolve(sidecar)), rnd, 2))
        .add(Mutators.fileSystem(sidecar));
    corpus.run(dir -> AdapterFiles.read(dir.resolve(file)), (loaded, m) -> {
      loaded.requireFinite(m.name());
      assertEquals(original.modules().keySet(), loaded.modules().keySet(), "modules");
    });
  }

  static Adapter adapter() {
    EncoderDescription base = EncoderDescription.of(TinyBert.model(3));
    Map<String, Integer> ranks = new LinkedHashMap<>();
    List<LinearModule> targets = base.resolveTargets("query,value");
    ranks.put(targets.get(0).name(), 2);
    ranks.put(targets.get(1).name(), 3);
    return SyntheticAdapters.classifier(base, new BaseModelRef("tiny-bert", "ab".repeat(32)), "tiny", ranks, 2,
        TaskHead.Pooling.MEAN, 5);
  }
}
