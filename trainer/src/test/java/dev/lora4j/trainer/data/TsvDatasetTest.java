package dev.lora4j.trainer.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TsvDatasetTest {
  @TempDir Path dir;

  Path file(String name, String... lines) throws Exception {
    return Files.write(dir.resolve(name), List.of(lines));
  }

  @Test
  void readsRowsWithLineNumbersAndSortsIntegerLabelsNumerically() throws Exception {
    TsvDataset d = TsvDataset.read(file("a.tsv", "sentence\tlabel", "good\t10", "", "bad\t2", "ok\t2"));
    assertEquals(3, d.size());
    assertEquals(new LabeledText("bad", "2", 4), d.rows().get(1));
    assertEquals(List.of("2", "10"), LabelSet.of(d).names());
    TsvDataset text = TsvDataset.read(file("b.tsv", "text\tlabel", "x\tpos", "y\tneg"));
    assertEquals(List.of("neg", "pos"), LabelSet.of(text).names());
  }

  @Test
  void textsToClassifyMayComeWithoutLabels() throws Exception {
    Path unlabelled = file("texts.tsv", "id\tsentence", "1\ta fine film", "2\tdull");
    TsvDataset d = TsvDataset.readTexts(unlabelled);
    assertEquals(List.of("a fine film", "dull"), d.texts());
    assertEquals(new LabeledText("dull", null, 3), d.rows().get(1));
    assertEquals("pos", TsvDataset.readTexts(file("l.tsv", "sentence\tlabel", "x\tpos")).rows().get(0).label());
    Lora4jException e = assertThrows(Lora4jException.class, () -> TsvDataset.read(unlabelled));
    assertTrue(e.getMessage().contains("and a 'label' column"), e.getMessage());
    Path noText = file("notext.tsv", "review", "x");
    e = assertThrows(Lora4jException.class, () -> TsvDataset.readTexts(noText));
    assertEquals(noText + ":1: header must name a 'sentence' (or 'text') column, found 'review'", e.getMessage());
  }

  @Test
  void problemsNameTheFileAndLine() throws Exception {
    Path missing = dir.resolve("nope.tsv");
    Lora4jException e = assertThrows(Lora4jException.class, () -> TsvDataset.read(missing));
    assertTrue(e.getMessage().contains(missing.toAbsolutePath().toString()), e.getMessage());

    Path bad = file("bad.tsv", "sentence\tlabel", "fine\t1", "no tab here");
    e = assertThrows(Lora4jException.class, () -> TsvDataset.read(bad));
    assertEquals(bad + ":3: expected 2 tab-separated columns (sentence, label), found 1", e.getMessage());

    Path header = file("header.tsv", "review,stars", "x,1");
    e = assertThrows(Lora4jException.class, () -> TsvDataset.read(header));
    assertTrue(e.getMessage().startsWith(header + ":1: header must name"), e.getMessage());

    Path empty = file("empty.tsv", "sentence\tlabel", "x\t");
    e = assertThrows(Lora4jException.class, () -> TsvDataset.read(empty));
    assertEquals(empty + ":2: empty label", e.getMessage());

    LabelSet labels = LabelSet.of(TsvDataset.read(file("t.tsv", "sentence\tlabel", "a\t0", "b\t1")));
    TsvDataset dev = TsvDataset.read(file("d.tsv", "sentence\tlabel", "a\t0", "c\t2"));
    e = assertThrows(Lora4jException.class, () -> labels.index(dev.rows().get(1), dev.source()));
    assertEquals(dev.source() + ":3: label '2' is not one of the training labels [0, 1]", e.getMessage());

    Path one = file("one.tsv", "sentence\tlabel", "a\t1", "b\t1");
    e = assertThrows(Lora4jException.class, () -> LabelSet.of(TsvDataset.read(one)));
    assertTrue(e.getMessage().contains("needs at least two"), e.getMessage());
  }

  @Test
  void trainingBatchesAreBucketedAndRepeatPerSeedAndEpoch() {
    java.util.Random rnd = new java.util.Random(4);
    List<Example> ex = new java.util.ArrayList<>();
    for (int i = 0; i < 300; i++) {
      ex.add(new Example(new long[3 + rnd.nextInt(40)], i % 2));
    }
    List<int[]> a = BatchPlan.training(ex, 8, 1, 0);
    List<int[]> b = BatchPlan.training(ex, 8, 1, 0);
    List<int[]> c = BatchPlan.training(ex, 8, 1, 1);
    assertEquals(BatchPlan.batchesPerEpoch(300, 8), a.size());
    for (int i = 0; i < a.size(); i++) {
      assertTrue(java.util.Arrays.equals(a.get(i), b.get(i)));
    }
    assertTrue(java.util.stream.IntStream.range(0, a.size()).anyMatch(i -> !java.util.Arrays.equals(a.get(i),
        c.get(i))), "another epoch, another order");
    assertEquals(300, a.stream().flatMapToInt(java.util.Arrays::stream).distinct().count());
    // bucketing: padding waste far below that of random batches
    long padded = a.stream().mapToLong(idx -> {
      Batch batch = Batch.of(ex, idx);
      return (long) batch.rows() * batch.seq() - batch.tokens();
    }).sum();
    assertTrue(padded < 300 * 3, "padding tokens " + padded);
  }
}
