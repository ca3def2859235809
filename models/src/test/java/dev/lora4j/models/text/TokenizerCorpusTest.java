package dev.lora4j.models.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.models.testing.corpus.HostileCorpus;
import dev.lora4j.models.testing.corpus.Mutators;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile-input corpus of {@code tokenizer.json}: JSON damage to every section (vocabulary entries,
 * special tokens, post-processor, padding, truncation), byte damage, and file-system substitutes.
 * A tokenizer that opens must encode a batch into rows that hold ids and a mask of matching shape.
 */
class TokenizerCorpusTest {
  private static final long SEED = 1216;
  private static final String FILE = "tokenizer.json";
  private static final List<String> TEXTS = List.of("a great movie", "bad");

  @TempDir Path tmp;

  @Test
  void tokenizerFilesAreRefusedWithAMessageOrEncodeSanely() throws Exception {
    Path validDir = Files.createDirectories(tmp.resolve("valid"));
    byte[] json = TinyBert.tokenizerJson().getBytes(StandardCharsets.UTF_8);
    Files.write(validDir.resolve(FILE), json);
    Random rnd = new Random(SEED);

    HostileCorpus<Encoding> corpus = new HostileCorpus<Encoding>("tokenizer.json", validDir,
        Files.createDirectories(tmp.resolve("work")), Duration.ofSeconds(20))
        .add(Mutators.json(FILE, json, rnd, 2))
        .add(Mutators.binary(FILE, json, rnd, 40, 40, 30))
        .add(Mutators.fileSystem(FILE));
    corpus.run(dir -> {
      try (Tokenizer t = Tokenizer.open(dir.resolve(FILE), 16)) {
        return t.encode(TEXTS);
      }
    }, (e, m) -> {
      assertEquals(TEXTS.size(), e.batchSize());
      for (int r = 0; r < e.batchSize(); r++) {
        assertTrue(e.tokenCounts()[r] > 0 && e.tokenCounts()[r] <= 16, "row length " + e.tokenCounts()[r]);
      }
    });
  }
}
