package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.exporter.ExportBundle;
import dev.lora4j.exporter.ExportFormat;
import dev.lora4j.exporter.ExportRequest;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.testing.TinySentiment;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.MixedRequest;
import dev.lora4j.runtime.Prediction;
import dev.lora4j.trainer.AdapterModel;
import dev.lora4j.trainer.BaseModel;
import dev.lora4j.trainer.Trainer;
import dev.lora4j.trainer.TrainingConfig;
import dev.lora4j.trainer.TrainingRun;
import dev.lora4j.trainer.data.TsvDataset;
import dev.lora4j.trainer.loop.TrainingListener;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's 60-second tour of the Java API, as code that must compile and run: train, export,
 * serve. The tour's text is this test's body (checked below) but for the base model (the tiny fixture
 * instead of minilm-l6) and the directory relative paths resolve against.
 */
class ApiTourTest {
  static final String BEGIN = "// --- README tour starts";
  static final String END = "// --- README tour ends";
  /** Read-me text -> test text: the only differences allowed between the two. */
  static final List<String[]> SUBSTITUTIONS = List.of(
      new String[] {"BaseModel.open(\"minilm-l6\")", "BaseModel.open(tiny)"},
      new String[] {"Path.of(\"", "dir.resolve(\""});

  @Test
  void trainExportServe(@TempDir Path dir) throws Exception {
    TinySentiment.write(dir, 4096, 256); // the tour trains one epoch: enough rows to learn
    String tiny = dir.resolve("base").toString();

    // --- README tour starts
    // train (trainer): a SoRA adapter and its classifier on a frozen base; TSV rows are sentence<TAB>label
    BaseModel base = BaseModel.open(tiny);
    TrainingConfig config = TrainingConfig.builder().method("sora").rank(16).epochs(1).build();
    Adapter adapter = Trainer.train(new TrainingRun(config, base, TsvDataset.read(dir.resolve("train.tsv")),
        TsvDataset.read(dir.resolve("dev.tsv")), null, false, "sentiment"), TrainingListener.NONE).adapter();
    PeftAdapters.write(adapter, dir.resolve("adapters/sentiment"));          // PEFT layout

    // export (exporter): prune, fold, write ONNX + .onnx_adapter
    ExportBundle.export(ExportRequest.of(base.files(), List.of(adapter),
        EnumSet.of(ExportFormat.MERGED, ExportFormat.MULTI, ExportFormat.MIXED), dir.resolve("export")),
        System.out::println);

    // serve (runtime, ONNX Runtime only): one base session, adapters chosen per request
    try (AdapterRuntime rt = AdapterRuntime.open(dir.resolve("export"))) {
      rt.load("sentiment");                                               // export/sentiment.onnx_adapter
      rt.load("sentiment-peft", dir.resolve("adapters/sentiment"));          // a PEFT directory loads too
      Prediction p = rt.predict("sentiment", "a great movie");
      System.out.println(p.label() + " " + p.probability());
      List<Prediction> mixed = rt.predictMixed(List.of(                   // one run, many adapters
          new MixedRequest("sentiment", "dull"), new MixedRequest("sentiment-peft", "fun")));
      // --- README tour ends

      // Every answer is the adapter's merged graph's answer in a bare ONNX Runtime session (the
      // same weights with the update folded in, no runtime in between) and the trainer's own
      // PyTorch forward pass (another engine: catches an exporter bug the merged graph shares).
      // 1e-4: float32 rounding of two engines over two layers; a wrong weight moves logits by 1e-2+.
      List<String> texts = List.of("a great movie", "dull", "fun");
      float[][] merged = MergedGraph.logits(dir.resolve("export"), "sentiment", texts);
      float[][] torch = AdapterModel.logits(adapter, base, texts);
      List<Prediction> got = List.of(p, mixed.get(0), mixed.get(1));
      List<String> adapters = List.of("sentiment", "sentiment", "sentiment-peft");
      for (int i = 0; i < texts.size(); i++) {
        Prediction g = got.get(i);
        assertEquals(adapters.get(i), g.adapter());
        assertEquals(List.of("0", "1"), g.labels(), "the labels of train.tsv, in order");
        assertClose(merged[i], g.logits(), texts.get(i) + " vs merged graph");
        assertClose(torch[i], g.logits(), texts.get(i) + " vs the trainer's forward pass");
        assertEquals(g.labels().get(MergedGraph.argmax(merged[i])), g.label(), texts.get(i));
      }
      // The served adapter has learnt the task. On these 256 dev rows (TinySentiment, seed 1) a
      // constant answer scores the majority share (checked below 0.56), a random one 0.5 +- 0.03 and
      // an adapter with its labels swapped 1 - 0.69; the tour's settings (MiniLM's learning rate,
      // one epoch of 4,096 rows) reach 0.69, so 0.62 is four standard deviations above chance.
      TsvDataset dev = TsvDataset.read(dir.resolve("dev.tsv"));
      List<Prediction> answers = rt.predict("sentiment", dev.texts());
      int right = 0;
      int positive = 0;
      for (int i = 0; i < dev.size(); i++) {
        right += answers.get(i).label().equals(dev.rows().get(i).label()) ? 1 : 0;
        positive += dev.rows().get(i).label().equals("1") ? 1 : 0;
      }
      double accuracy = right / (double) dev.size();
      double majority = Math.max(positive, dev.size() - positive) / (double) dev.size();
      assertTrue(majority < 0.56, "majority share " + majority);
      assertTrue(accuracy >= 0.62, "dev accuracy " + accuracy + " (constant answer " + majority + ")");
      // and it is the accuracy the trainer measured on the same rows with its own engine (one row
      // near p = 0.5 may fall either side between the two engines)
      double trained = ((Number) adapter.provenance().metrics().get("dev_accuracy")).doubleValue();
      assertEquals(trained, accuracy, 1.0 / dev.size() + 1e-9, "runtime vs trainer on dev.tsv");
    }
  }

  /** The tour above is the README's Java block, line for line (spacing aside). */
  @Test
  void theTestRunsTheReadmeTourWordForWord() throws Exception {
    List<String> readme = javaBlock(Files.readAllLines(Path.of("..", "README.md")));
    assertEquals("}", readme.get(readme.size() - 1), "the tour ends with the runtime's try block");
    List<String> want = new ArrayList<>();
    for (String line : readme.subList(0, readme.size() - 1)) {
      for (String[] s : SUBSTITUTIONS) {
        line = line.replace(s[0], s[1]);
      }
      want.add(normalise(line));
    }
    List<String> test = Files.readAllLines(Path.of("src/test/java/dev/lora4j/cli/ApiTourTest.java"));
    int from = indexOf(test, BEGIN) + 1;
    int to = indexOf(test, END);
    List<String> have = test.subList(from, to).stream().map(ApiTourTest::normalise).toList();
    assertEquals(String.join("\n", want), String.join("\n", have));
  }

  private static List<String> javaBlock(List<String> readme) {
    int start = indexOf(readme, "## The Java API in 60 seconds");
    int open = start + readme.subList(start, readme.size()).indexOf("```java");
    int close = open + readme.subList(open, readme.size()).indexOf("```");
    assertTrue(open > start && close > open, "README has no ```java block after its API heading");
    return readme.subList(open + 1, close);
  }

  private static int indexOf(List<String> lines, String prefix) {
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).strip().startsWith(prefix)) {
        return i;
      }
    }
    throw new AssertionError("no line starts with " + prefix);
  }

  private static String normalise(String line) {
    return line.strip().replaceAll("\\s+", " ");
  }

  static void assertClose(float[] want, float[] got, String what) {
    double d = MergedGraph.maxAbsDiff(want, got);
    assertTrue(d <= 1e-4, what + ": " + Arrays.toString(got) + " vs " + Arrays.toString(want) + " (diff " + d + ")");
  }
}
