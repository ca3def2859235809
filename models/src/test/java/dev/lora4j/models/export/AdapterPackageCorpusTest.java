package dev.lora4j.models.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.testing.corpus.HostileCorpus;
import dev.lora4j.models.testing.corpus.Mutators;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile-input corpus of the adapter-package manifest {@code lora4j-adapter.json}, as
 * {@code lora4j package} writes it (with labels, ranks and provenance) and the runtime's class-path
 * loader parses it: JSON damage to every value, whole-document replacements, and byte damage. The
 * loader reads the bytes itself (size-limited there), so what is damaged here is the content. A parse
 * that succeeds must name the adapter it was looked up as, and two plain file names in its
 * directory: those are all the runtime takes from a manifest.
 */
class AdapterPackageCorpusTest {
  @TempDir Path tmp;

  @Test
  void adapterPackageManifestsAreRefusedWithAMessageOrParseSane() throws Exception {
    Adapter a = OrtAdapterCorpusTest.adapter().compact();
    AdapterPackage valid = new AdapterPackage(AdapterPackage.FORMAT, "tiny", ExportLayout.onnxAdapter("tiny"),
        ExportLayout.sidecar("tiny"), "tiny-bert", "ab".repeat(32), a.head().labels(), a.ranks(), 12345, "0.9.0",
        a.provenance(), "dev.example", "tiny", "1.0");
    Path validDir = Files.createDirectories(tmp.resolve("valid"));
    String file = AdapterPackage.MANIFEST;
    byte[] bytes = valid.toJson();
    Files.write(validDir.resolve(file), bytes);
    Random rnd = new Random(1219);

    HostileCorpus<AdapterPackage> corpus = new HostileCorpus<AdapterPackage>("adapter package manifest", validDir,
        Files.createDirectories(tmp.resolve("work")), Duration.ofSeconds(20))
        .add(Mutators.json(file, bytes, rnd, 3))
        .add(Mutators.binary(file, bytes, rnd, 60, 100, 60));
    corpus.run(dir -> AdapterPackage.parse(Files.readAllBytes(dir.resolve(file)), dir.resolve(file).toString(),
        "tiny"), (loaded, m) -> {
          assertEquals(AdapterPackage.FORMAT, loaded.format(), "format");
          assertEquals("tiny", loaded.name(), "name");
          for (String f : List.of(loaded.adapterFile(), loaded.sidecarFile())) {
            assertTrue(ExportLayout.isValidAdapterName(f) && !f.equals(".") && !f.equals(".."), "a plain file name: " + f);
          }
        });
  }
}
