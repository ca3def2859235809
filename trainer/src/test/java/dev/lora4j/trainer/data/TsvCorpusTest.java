package dev.lora4j.trainer.data;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.testing.TinySentiment;
import dev.lora4j.models.testing.corpus.HostileCorpus;
import dev.lora4j.models.testing.corpus.Mutators;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile-input corpus of labelled TSV files: truncations, bit flips (tabs and line breaks appear
 * and vanish, UTF-8 breaks), byte runs, and file-system substitutes (a directory, an endless
 * device, a 3 GiB sparse file without a line break). A file that reads must hold non-blank texts
 * and labels.
 */
class TsvCorpusTest {
  private static final long SEED = 1218;
  private static final String FILE = "train.tsv";

  @TempDir Path tmp;

  @Test
  void tsvFilesAreRefusedWithAMessageOrReadSane() throws Exception {
    Path validDir = Files.createDirectories(tmp.resolve("valid"));
    Files.copy(TinySentiment.write(tmp.resolve("data"), 24, 8).resolve(FILE), validDir.resolve(FILE));
    byte[] bytes = Files.readAllBytes(validDir.resolve(FILE));
    Random rnd = new Random(SEED);

    HostileCorpus<TsvDataset> corpus = new HostileCorpus<TsvDataset>("tsv", validDir,
        Files.createDirectories(tmp.resolve("work")), Duration.ofSeconds(20))
        .add(Mutators.binary(FILE, bytes, rnd, 60, 80, 60))
        .add(Mutators.fileSystem(FILE));
    corpus.run(dir -> TsvDataset.read(dir.resolve(FILE)), (d, m) -> {
      assertTrue(d.size() > 0);
      for (LabeledText t : d.rows()) {
        assertFalse(t.text().isBlank(), "blank text");
        assertFalse(t.label().isBlank(), "blank label");
      }
    });
  }
}
