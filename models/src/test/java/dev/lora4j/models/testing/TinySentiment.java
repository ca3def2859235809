package dev.lora4j.models.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A separable sentiment task in {@link TinyBert#VOCAB}: short reviews whose label is decided by the
 * one positive or negative word among neutral ones, in two sentence templates. Trainer, exporter and
 * command-line tests all learn this task, so it lives here once.
 */
public final class TinySentiment {
  static final List<String> POSITIVE = List.of("good", "great", "wonderful", "brilliant", "fun", "moving", "best",
      "charming");
  static final List<String> NEGATIVE = List.of("bad", "awful", "boring", "dull", "worst", "terrible", "mess",
      "tedious");
  static final List<String> SUBJECTS = List.of("the film", "this movie", "the story", "the plot", "the acting",
      "the characters", "the end", "it");
  static final List<String> FILLERS = List.of("really", "quite", "very", "so", "too");

  private TinySentiment() {}

  /** Writes {@code base/} (model.onnx + tokenizer.json), {@code train.tsv} and {@code dev.tsv} into {@code dir}. */
  public static Path write(Path dir, int train, int dev) throws IOException {
    TinyBert.writeBaseModel(dir.resolve("base"), 7);
    Random rnd = new Random(1);
    Files.write(dir.resolve("train.tsv"), rows(rnd, train));
    Files.write(dir.resolve("dev.tsv"), rows(rnd, dev));
    return dir;
  }

  private static List<String> rows(Random rnd, int n) {
    List<String> lines = new ArrayList<>();
    lines.add("sentence\tlabel");
    for (int i = 0; i < n; i++) {
      boolean pos = rnd.nextBoolean();
      String word = (pos ? POSITIVE : NEGATIVE).get(rnd.nextInt(POSITIVE.size()));
      String subject = SUBJECTS.get(rnd.nextInt(SUBJECTS.size()));
      String filler = FILLERS.get(rnd.nextInt(FILLERS.size()));
      String s = rnd.nextBoolean()
          ? subject + " was " + filler + " " + word + " ."
          : "in the end , " + subject + " is " + word + " , " + filler + " " + (rnd.nextBoolean() ? "!" : ".");
      lines.add(s + "\t" + (pos ? "1" : "0"));
    }
    return lines;
  }
}
