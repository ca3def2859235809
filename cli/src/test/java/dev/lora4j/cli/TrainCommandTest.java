package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code train} then {@code eval} on the tiny model: files, provenance, and one-line user errors. */
class TrainCommandTest {
  @TempDir Path dir;

  private Path tsv(String name, int rows, long seed) throws Exception {
    Random rnd = new Random(seed);
    List<String> lines = new ArrayList<>(List.of("sentence\tlabel"));
    for (int i = 0; i < rows; i++) {
      boolean pos = rnd.nextBoolean();
      lines.add("the film was " + (pos ? "great" : "awful") + " .\t" + (pos ? "pos" : "neg"));
    }
    return Files.write(dir.resolve(name), lines);
  }

  @Test
  void trainWritesAPeftAdapterThatEvalScores() throws Exception {
    TinyBert.writeBaseModel(dir.resolve("base"), 3);
    Path train = tsv("train.tsv", 64, 1);
    Path dev = tsv("dev.tsv", 32, 2);
    Path out = dir.resolve("adapters/tiny-sora");
    MainTest.Run r = MainTest.run("train", "--base", dir.resolve("base").toString(), "--train", train.toString(),
        "--dev", dev.toString(), "--out", out.toString(), "--method", "sora", "--rank", "2", "--epochs", "1",
        "--batch-size", "16", "--device", "cpu", "--quiet");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("Training sora on cpu()"), r.out());
    assertTrue(r.out().contains("dev accuracy"), r.out());
    assertTrue(Files.isRegularFile(out.resolve(PeftAdapters.CONFIG_FILE)));
    assertTrue(Files.isRegularFile(dir.resolve("adapters/tiny-sora.run/metrics.jsonl")));
    Adapter a = PeftAdapters.read(out);
    assertEquals("tiny-sora", a.name());
    assertEquals("sora", a.provenance().method());
    assertEquals(List.of("neg", "pos"), a.head().labels());
    assertEquals(2, ((Number) a.provenance().hyperParameters().get("rank")).intValue());
    assertTrue(a.modules().values().iterator().next().gate() != null, "gates are kept in the adapter");

    MainTest.Run e = MainTest.run("eval", "--base", dir.resolve("base").toString(), "--adapter", out.toString(),
        "--data", dev.toString(), "--device", "cpu");
    assertEquals(0, e.code(), e.err());
    // eval scores the adapter read back from its PEFT files as training scored the weights it kept
    double trained = ((Number) a.provenance().metrics().get("dev_accuracy")).doubleValue();
    assertTrue(e.out().contains(String.format(java.util.Locale.ROOT, "Accuracy  %.2f%%%n", 100 * trained)),
        trained + " vs\n" + e.out());
    assertTrue(e.out().contains("(32 examples)"), e.out());
  }

  @Test
  void badDataIsOneLineWithTheLineNumber() throws Exception {
    TinyBert.writeBaseModel(dir.resolve("base"), 3);
    Path bad = Files.write(dir.resolve("bad.tsv"), List.of("sentence\tlabel", "fine\t1", "broken line"));
    MainTest.Run r = MainTest.run("train", "--base", dir.resolve("base").toString(), "--train", bad.toString(),
        "--no-dev", "--out", dir.resolve("x").toString());
    assertEquals(2, r.code());
    assertEquals("lora4j train: " + bad + ":3: expected 2 tab-separated columns (sentence, label), found 1",
        r.err().strip());
    MainTest.Run m = MainTest.run("train", "--method", "magic", "--out", dir.resolve("x").toString());
    assertEquals(2, m.code());
    assertTrue(m.err().contains("unknown method 'magic'; known: lora, sora, salora, mtlora, dylora, erat, probe"), m.err());
    assertFalse(m.err().contains("\tat "), m.err());
  }
}
