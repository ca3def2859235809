package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunCommandTest {
  @Test
  void classifiesArgumentsAndScoresATsvFile(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    // the head bias favours neg by 0.55 so that this random adapter answers both labels on the texts
    // below (with the fixture's 0.2 it says pos to all five, and a constant answer would pass)
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2", AtomicFiles.sha256(base.resolve("model.onnx")),
        new float[] {0.45f, -0.1f});
    Path out = dir.resolve("export");
    assertEquals(0, MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", out.toString(), "--format", "merged,multi").code());

    List<String> texts = List.of("a good movie", "boring", "the plot was dull", "i loved the characters",
        "it is a mess");
    MainTest.Run r = MainTest.run(Stream.concat(Stream.of("run", "--base", out.toString(), "--adapter", "sst2",
        "--device", "cpu"), texts.stream()).toArray(String[]::new));
    assertEquals(0, r.code(), r.err());
    // each line: the label and probabilities of the adapter's merged graph run in bare ONNX Runtime
    // (printed to 3 decimals), for that line's text, in argument order
    float[][] want = MergedGraph.logits(out, "sst2", texts);
    List<String> labels = List.of("neg", "pos");
    List<String> lines = r.out().lines().toList();
    assertEquals(texts.size(), lines.size(), r.out());
    for (int i = 0; i < texts.size(); i++) {
      Matcher m = LINE.matcher(lines.get(i));
      assertTrue(m.matches(), lines.get(i));
      double[] p = softmax(want[i]);
      assertEquals(labels.get(MergedGraph.argmax(want[i])), m.group(1), lines.get(i));
      // 0.0015: the printed rounding (0.0005) plus float noise between the runtime and the bare graph
      assertEquals(p[0], Double.parseDouble(m.group(2)), 0.0015, lines.get(i));
      assertEquals(p[1], Double.parseDouble(m.group(3)), 0.0015, lines.get(i));
      assertEquals(texts.get(i), m.group(4));
    }
    // the first four texts get both answers from this adapter: a constant answer fails above and below
    assertEquals(2, texts.subList(0, 4).stream().map(t -> MergedGraph.argmax(want[texts.indexOf(t)])).distinct()
        .count(), r.out());

    // accuracy over a file whose labels are the reference's answers but for one row: exactly 4 of 5.
    // The flipped row is chosen so that neither constant answer also scores 4 of 5 (then a runtime
    // that answers every row alike, or inverts, cannot pass).
    Path tsv = dir.resolve("dev.tsv");
    int[] gold = null;
    for (int flip = 0; flip < texts.size() && gold == null; flip++) {
      int[] g = new int[texts.size()];
      int pos = 0;
      for (int i = 0; i < texts.size(); i++) {
        g[i] = i == flip ? 1 - MergedGraph.argmax(want[i]) : MergedGraph.argmax(want[i]);
        pos += g[i];
      }
      gold = pos != 4 && texts.size() - pos != 4 ? g : null;
    }
    assertTrue(gold != null, "no flip separates the answers from a constant one");
    StringBuilder rows = new StringBuilder("sentence\tlabel\n");
    for (int i = 0; i < texts.size(); i++) {
      rows.append(texts.get(i)).append('\t').append(labels.get(gold[i])).append('\n');
    }
    Files.writeString(tsv, rows);
    // in runs of 2 texts (2 + 2 + 1): a row lost or scored twice at a run's edge changes the count
    MainTest.Run eval = MainTest.run("run", "--base", out.toString(), "--adapter",
        out.resolve("sst2.onnx_adapter").toString(), "--device", "cpu", "--input", tsv.toString(), "--batch", "2");
    assertEquals(0, eval.code(), eval.err());
    assertTrue(eval.out().matches("(?s)accuracy 80\\.00% \\(4 of 5\\) on .*dev\\.tsv with adapter sst2\\s*"
        + "5 texts in \\d+\\.\\d\\d s: \\d+ texts/s \\(batches of 2; tokenizing included, loading not\\)\\s*"),
        eval.out());
    MainTest.Run zero = MainTest.run("run", "--base", out.toString(), "--adapter", "sst2", "--input", tsv.toString(),
        "--batch", "0");
    assertEquals(2, zero.code());
    assertEquals("lora4j run: --batch must be between 1 and 256, not 0", zero.err().strip());

    Files.writeString(tsv, "sentence\tlabel\nonly one column\n");
    MainTest.Run bad = MainTest.run("run", "--base", out.toString(), "--adapter", "sst2", "--input", tsv.toString());
    assertEquals(2, bad.code());
    assertEquals("lora4j run: " + tsv + ":2: expected 2 tab-separated columns (sentence, label), found 1",
        bad.err().strip());
  }

  static final Pattern LINE = Pattern.compile("(neg|pos) +p\\(neg\\)=(0\\.\\d{3}|1\\.000) p\\(pos\\)=(0\\.\\d{3}|1\\.000)  (.*)");

  static double[] softmax(float[] logits) {
    double max = Math.max(logits[0], logits[1]);
    double a = Math.exp(logits[0] - max);
    double b = Math.exp(logits[1] - max);
    return new double[] {a / (a + b), b / (a + b)};
  }

  @Test
  void refusesAnUnknownAdapterClearly(@TempDir Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2", AtomicFiles.sha256(base.resolve("model.onnx")));
    Path out = dir.resolve("export");
    MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(), "--out", out.toString(),
        "--format", "multi");
    MainTest.Run r = MainTest.run("run", "--base", out.toString(), "--adapter", "imdb", "--device", "cpu", "fun");
    assertEquals(2, r.code());
    assertEquals("lora4j run: " + out.resolve("imdb.onnx_adapter").toAbsolutePath() + ": no such adapter file",
        r.err().strip());
  }
}
