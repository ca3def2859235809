package dev.lora4j.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.inference.Predictor;
import ai.djl.modality.Classifications;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import dev.lora4j.exporter.ExportBundle;
import dev.lora4j.exporter.ExportFormat;
import dev.lora4j.exporter.ExportRequest;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.testing.ReadmeExamples;
import dev.lora4j.models.testing.SyntheticAdapters;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Prediction;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tiny base model exported (merged + multi) with a three-label classifier and an embedding
 * adapter; DJL loads each merged graph through Criteria on its ONNX Runtime engine, and every answer
 * is compared with AdapterRuntime's on the same export (the multi-adapter graph with the adapter
 * activated per run: another graph, another session, so an error in either shows).
 *
 * <p>Tolerance 1e-5: two float32 graphs with the same weights, the update folded in (merged) or
 * added per run (multi), differ by rounding, ~1e-7; a wrong label order, token or pooling moves
 * probabilities by 1e-2 and more.
 */
class Lora4jTranslatorFactoryTest {
  static final List<String> TEXTS = List.of(
      "a good movie", "the worst plot , really boring", "it was not great but fun",
      "brilliant acting and a moving story", "dull", "i loved the characters but hated the end");

  @TempDir static Path dir;
  static Path export;
  static AdapterRuntime rt;

  @BeforeAll
  static void exportTwoAdapters() throws Exception {
    // DJL's engine creates ONNX Runtime's one environment per JVM with thread options, which ORT
    // refuses once any environment exists: in a JVM that also runs AdapterRuntime, DJL goes first.
    Engine.getEngine("OnnxRuntime");
    TinyBert.Written tiny = TinyBert.writeBase(dir.resolve("base"), 7);
    EncoderDescription d = tiny.description();
    BaseModelRef ref = tiny.files().ref();
    Map<String, Integer> ranks = new LinkedHashMap<>();
    ranks.put("encoder.layer.0.attention.self.query", 4);
    ranks.put("encoder.layer.1.attention.self.value", 2);
    ranks.put("encoder.layer.1.intermediate.dense", 3);
    Adapter sentiment = SyntheticAdapters.classifier(d, ref, "sentiment", ranks, 3, TaskHead.Pooling.MEAN, 11);
    Adapter topics = SyntheticAdapters.classifier(d, ref, "topics", ranks, 2, TaskHead.Pooling.CLS, 12);
    topics = new Adapter("topics", ref, topics.modules(), TaskHead.embeddings(TaskHead.Pooling.CLS),
        Provenance.of("lora"));
    export = dir.resolve("export");
    ExportBundle.export(ExportRequest.of(tiny.files(), List.of(sentiment, topics), EnumSet.of(ExportFormat.MERGED, ExportFormat.MULTI), export),
        line -> { });
    rt = AdapterRuntime.open(export);
    rt.load("sentiment");
    rt.load("topics");
  }

  @AfterAll
  static void close() {
    if (rt != null) {
      rt.close();
    }
  }

  static <O> Criteria<String, O> criteria(Class<O> output, Path graph, Map<String, Object> arguments) {
    return Criteria.builder()
        .setTypes(String.class, output)
        .optModelPath(graph)
        .optEngine("OnnxRuntime")
        .optTranslatorFactory(new Lora4jTranslatorFactory())
        .optArguments(arguments)
        .build();
  }

  @Test
  void classificationsEqualAdapterRuntimePredict() throws Exception {
    List<Prediction> want = rt.predict("sentiment", TEXTS);
    try (ZooModel<String, Classifications> model =
            criteria(Classifications.class, export.resolve(ExportLayout.merged("sentiment")), Map.of()).loadModel();
        Predictor<String, Classifications> predictor = model.newPredictor()) {
      List<Classifications> batch = predictor.batchPredict(TEXTS); // one padded run
      for (int i = 0; i < TEXTS.size(); i++) {
        Classifications single = predictor.predict(TEXTS.get(i)); // no padding
        for (Classifications got : List.of(batch.get(i), single)) {
          assertEquals(want.get(i).labels(), got.getClassNames(), "labels, in the graph's order");
          assertEquals(want.get(i).label(), got.best().getClassName(), TEXTS.get(i));
          double d = maxAbsDiff(want.get(i).probabilities(), got.getProbabilities());
          assertTrue(d <= 1e-5, TEXTS.get(i) + ": probabilities differ by " + d);
        }
      }
    }
  }

  @Test
  void aTextPastTheBasesPositionsIsTruncatedThere() throws Exception {
    // the tiny base has 64 positions and the default is 128 tokens: export.json's max_positions bounds
    // the truncation, as in AdapterRuntime, instead of ONNX Runtime failing on the longer input
    String text = "a good movie but the plot is dull ".repeat(20).strip(); // 160 words
    Prediction want = rt.predict("sentiment", text);
    try (ZooModel<String, Classifications> model =
            criteria(Classifications.class, export.resolve(ExportLayout.merged("sentiment")), Map.of()).loadModel();
        Predictor<String, Classifications> predictor = model.newPredictor()) {
      Classifications got = predictor.predict(text);
      assertEquals(want.label(), got.best().getClassName());
      double d = maxAbsDiff(want.probabilities(), got.getProbabilities());
      assertTrue(d <= 1e-5, "probabilities differ by " + d);
    }
  }

  @Test
  void embeddingsEqualAdapterRuntimeEmbed() throws Exception {
    List<float[]> want = rt.embed("topics", TEXTS);
    try (ZooModel<String, float[]> model =
            criteria(float[].class, export.resolve(ExportLayout.merged("topics")), Map.of()).loadModel();
        Predictor<String, float[]> predictor = model.newPredictor()) {
      List<float[]> got = predictor.batchPredict(TEXTS);
      for (int i = 0; i < TEXTS.size(); i++) {
        List<Double> g = new java.util.ArrayList<>();
        for (float v : got.get(i)) {
          g.add((double) v);
        }
        double d = maxAbsDiff(want.get(i), g);
        assertTrue(d <= 1e-5, TEXTS.get(i) + ": embeddings differ by " + d);
      }
      assertTrue(maxAbsDiff(rt.embed(AdapterRuntime.BASE, TEXTS.subList(0, 1)).get(0),
          Arrays.asList(box(got.get(0)))) > 1e-2, "the adapter's graph answered, not the base");
    }
  }

  @Test
  void readmeExampleRuns() throws Exception {
    // --- README DJL example starts
    Criteria<String, Classifications> criteria = Criteria.builder()
        .setTypes(String.class, Classifications.class)
        .optModelPath(export.resolve("sentiment.merged.onnx"))           // labels: sentiment.adapter.json beside it
        .optEngine("OnnxRuntime")
        .optTranslatorFactory(new Lora4jTranslatorFactory())
        .build();
    try (ZooModel<String, Classifications> model = criteria.loadModel();
        Predictor<String, Classifications> predictor = model.newPredictor()) {
      Classifications c = predictor.predict("a gripping , funny film");
      System.out.println(c.best().getClassName() + " " + c.best().getProbability());
      List<Classifications> batch = predictor.batchPredict(List.of("dull", "fun"));   // one padded run
      // --- README DJL example ends
      List<Prediction> want = rt.predict("sentiment", List.of("a gripping , funny film", "dull", "fun"));
      List<Classifications> got = List.of(c, batch.get(0), batch.get(1));
      for (int i = 0; i < want.size(); i++) {
        assertEquals(want.get(i).label(), got.get(i).best().getClassName());
        assertTrue(maxAbsDiff(want.get(i).probabilities(), got.get(i).getProbabilities()) <= 1e-5);
      }
    }
  }

  /** The example above is README's DJL block, line for line (spacing aside). */
  @Test
  void theReadmeExampleIsTheTestWordForWord() throws Exception {
    List<String> want = ReadmeExamples.block("## DJL").stream()
        .map(l -> l.replace("Path.of(\"export/", "export.resolve(\"")).toList();
    List<String> have = new java.util.ArrayList<>(ReadmeExamples.region(
        Path.of("src/test/java/dev/lora4j/djl/Lora4jTranslatorFactoryTest.java"), "README DJL example"));
    have.add("}"); // the test keeps the predictor open for its checks; README closes the block
    assertEquals(ReadmeExamples.normalised(want), ReadmeExamples.normalised(have));
  }

  /** A merged graph copied out alone (no sidecar): labels must come from the argument, never be guessed. */
  @Test
  void aGraphWithoutSidecarTakesItsLabelsFromTheArgumentOrIsRefused(@TempDir Path alone) throws Exception {
    Files.copy(export.resolve(ExportLayout.merged("sentiment")), alone.resolve(ExportLayout.merged("sentiment")));
    Files.copy(export.resolve(ExportLayout.TOKENIZER), alone.resolve(ExportLayout.TOKENIZER));
    Path graph = alone.resolve(ExportLayout.merged("sentiment"));
    Exception e = assertThrows(Exception.class, () -> criteria(Classifications.class, graph, Map.of()).loadModel());
    assertEquals(alone + ": no labels for adapter 'sentiment': its sidecar sentiment.adapter.json is missing (export"
        + " with --format merged,multi) and no 'labels' argument was given", rootMessage(e));
    try (ZooModel<String, Classifications> model =
            criteria(Classifications.class, graph, Map.of("labels", "neg, neutral, pos")).loadModel();
        Predictor<String, Classifications> predictor = model.newPredictor()) {
      Classifications got = predictor.predict(TEXTS.get(0));
      assertEquals(List.of("neg", "neutral", "pos"), got.getClassNames());
      assertTrue(maxAbsDiff(rt.predict("sentiment", TEXTS.get(0)).probabilities(), got.getProbabilities()) <= 1e-5);
    }
  }

  /** In an export directory the files are checked against export.json, as AdapterRuntime checks them. */
  @Test
  void anEditedTokenizerInTheExportIsRefused(@TempDir Path copy) throws Exception {
    try (var files = Files.list(export)) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        Files.copy(f, copy.resolve(f.getFileName()));
      }
    }
    Path tok = copy.resolve(ExportLayout.TOKENIZER);
    String json = Files.readString(tok);
    assertTrue(json.contains("\"good\""));
    Files.writeString(tok, json.replace("\"good\"", "\"goad\"")); // "good" would become [UNK]: wrong answers, no error
    Exception e = assertThrows(Exception.class,
        () -> criteria(Classifications.class, copy.resolve(ExportLayout.merged("sentiment")), Map.of()).loadModel());
    String message = rootMessage(e);
    assertTrue(message.startsWith(tok + ": its SHA-256 ") && message.contains("damaged or changed after export"),
        message);
  }

  /** DJL downloads nothing here, and the engine runs on the project's one ONNX Runtime jar. */
  @Test
  void djlRunsOfflineOnTheOneOnnxRuntimeJar() {
    assertEquals("true", System.getProperty("ai.djl.offline"));
    List<String> ortJars = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
        .filter(p -> p.replace('\\', '/').contains("/com/microsoft/onnxruntime/")).toList();
    assertEquals(1, ortJars.size(), "ONNX Runtime jars on the class path: " + ortJars);
  }

  private static String rootMessage(Throwable t) {
    while (t.getCause() != null) {
      t = t.getCause();
    }
    return t.getMessage();
  }

  private static Double[] box(float[] v) {
    Double[] b = new Double[v.length];
    for (int i = 0; i < v.length; i++) {
      b[i] = (double) v[i];
    }
    return b;
  }

  static double maxAbsDiff(float[] want, List<Double> got) {
    if (want.length != got.size()) {
      return Double.POSITIVE_INFINITY;
    }
    double m = 0;
    for (int i = 0; i < want.length; i++) {
      m = Math.max(m, Math.abs(want[i] - got.get(i)));
    }
    return m;
  }
}
