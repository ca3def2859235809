package dev.lora4j.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.ChatMessageDeserializer;
import dev.langchain4j.data.message.ChatMessageSerializer;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import dev.langchain4j.store.embedding.EmbeddingSearchRequest;
import dev.langchain4j.store.embedding.EmbeddingSearchResult;
import dev.langchain4j.store.embedding.EmbeddingStore;
import dev.langchain4j.store.embedding.inmemory.InMemoryEmbeddingStore;
import dev.lora4j.exporter.ExportBundle;
import dev.lora4j.exporter.ExportFormat;
import dev.lora4j.exporter.ExportRequest;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.BaseModelCatalog;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.models.testing.ReadmeExamples;
import dev.lora4j.models.text.Tokenizer;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.RuntimeOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real all-MiniLM-L6-v2, exported once with one embedding adapter ("support"), served by one
 * runtime whose batches hold at most {@value #MAX_BATCH} texts, so every {@code embedAll} below spans
 * several runs. One class, one export: every MiniLM session costs about a second.
 *
 * <p>Tolerance 1e-5 everywhere: the same float32 graph on other batch compositions (padding to a
 * different length, another ONNX Runtime session) differs by rounding only, ~1e-7; a wrong pooling,
 * a missing normalisation, another truncation or a swapped row moves components by 1e-2 and more.
 */
class Lora4jEmbeddingModelTest {
  static final int MAX_BATCH = 4;
  static final String LONG = String.join(" ", Collections.nCopies(60, "the quick brown fox jumps"));
  static final String VERY_LONG = String.join(" ", Collections.nCopies(130, "a refund for the broken camera"));
  static final List<String> SENTENCES = List.of(
      "A man is eating food.",
      "The new movie is awesome",
      "lora4j trains, shrinks and serves low-rank adapters from the JVM.",
      "Crème brûlée, naïve café — Größe!",
      "Hi",
      LONG, // ~300 tokens: both sides keep the first 128, [CLS] and [SEP] included
      "how do I get my money back?",
      "東京は日本の首都です",
      "The app crashes when I open the camera.",
      VERY_LONG); // ~780 tokens: past langchain4j's 510-token partitions too, still cut to 128 on both sides

  @TempDir static Path dir;
  static Path export;
  static AdapterRuntime rt;

  @BeforeAll
  static void exportMiniLmWithAnAdapter() {
    BaseModelFiles files = new BaseModelCatalog(dir.resolve("cache")).resolve(BaseModelCatalog.DEFAULT_ID);
    EncoderDescription base = EncoderDescription.of(OnnxModel.read(files.onnx()));
    export = dir.resolve("export");
    ExportBundle.export(ExportRequest.of(files, List.of(supportAdapter(base, files)), EnumSet.of(ExportFormat.MULTI),
        export), line -> { });
    rt = AdapterRuntime.open(export, RuntimeOptions.defaults().withMaxBatch(MAX_BATCH));
    rt.load("support");
  }

  @AfterAll
  static void close() {
    if (rt != null) {
      rt.close();
    }
  }

  /**
   * An embedding adapter: LoRA rank 4 on every query and value projection, updates small enough to
   * keep the base's sense of similarity, large enough to move every vector (checked below).
   */
  static Adapter supportAdapter(EncoderDescription base, BaseModelFiles files) {
    Random rnd = new Random(14);
    List<LowRankModule> modules = new ArrayList<>();
    for (LinearModule m : base.resolveTargets("query,value")) {
      modules.add(LowRankModule.lora(m.name(), gaussian(rnd, 4, m.inFeatures(), 1 / Math.sqrt(m.inFeatures())),
          gaussian(rnd, m.outFeatures(), 4, 0.05), 1.0));
    }
    return new Adapter("support", files.ref(), Adapter.byName(modules), TaskHead.embeddings(TaskHead.Pooling.MEAN),
        Provenance.of("lora"));
  }

  private static Matrix gaussian(Random rnd, int rows, int cols, double std) {
    float[] v = new float[rows * cols];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (rnd.nextGaussian() * std);
    }
    return new Matrix(rows, cols, v);
  }

  private static List<TextSegment> segments() {
    return SENTENCES.stream().map(TextSegment::from).toList();
  }

  @Test
  void withoutAnAdapterTheVectorsAreLangchain4jsAllMiniLmL6V2() {
    try (Tokenizer tok = Tokenizer.open(export.resolve(ExportLayout.TOKENIZER))) {
      assertTrue(tok.encode(List.of(LONG)).isTruncated(0) && tok.encode(List.of(VERY_LONG)).isTruncated(0),
          "the long sentences are past 128 tokens, so truncation is compared too");
    }
    List<Embedding> ours = new Lora4jEmbeddingModel(rt).embedAll(segments()).content();
    AllMiniLmL6V2EmbeddingModel reference = new AllMiniLmL6V2EmbeddingModel();
    assertEquals(SENTENCES.size(), ours.size(), "one vector per segment, across " + MAX_BATCH + "-text runs");
    double worst = 0;
    for (int i = 0; i < SENTENCES.size(); i++) {
      float[] want = reference.embed(SENTENCES.get(i)).content().vector(); // one at a time: no padding at all
      double d = maxAbsDiff(want, ours.get(i).vector());
      assertTrue(d <= 1e-5, "segment " + i + " (" + SENTENCES.get(i) + "): max abs diff " + d);
      worst = Math.max(worst, d);
    }
    System.out.printf("lora4j base vs langchain4j AllMiniLmL6V2: %d sentences, max abs diff %.2e%n",
        SENTENCES.size(), worst);
  }

  @Test
  void withAnAdapterTheVectorsAreTheRuntimesEmbed() {
    List<Embedding> ours = new Lora4jEmbeddingModel(rt, "support").embedAll(segments()).content();
    assertEquals(SENTENCES.size(), ours.size());
    double leastMoved = Double.POSITIVE_INFINITY;
    for (int i = 0; i < SENTENCES.size(); i++) {
      List<String> one = List.of(SENTENCES.get(i));
      double d = maxAbsDiff(rt.embed("support", one).get(0), ours.get(i).vector());
      assertTrue(d <= 1e-5, "segment " + i + ": max abs diff " + d + " from AdapterRuntime.embed");
      leastMoved = Math.min(leastMoved, maxAbsDiff(rt.embed(AdapterRuntime.BASE, one).get(0), ours.get(i).vector()));
    }
    assertTrue(leastMoved > 1e-2, "the adapter answered, not the base: it moves every vector, least " + leastMoved);
  }

  @Test
  void aRefusalPastTheFirstRunSaysWhereItsTextNumbersCountFrom() {
    List<TextSegment> segs = new ArrayList<>(segments().subList(0, 5));
    segs.add(TextSegment.from("x".repeat(RuntimeOptions.defaults().maxTextChars() + 1)));
    Lora4jException e = assertThrows(Lora4jException.class, () -> new Lora4jEmbeddingModel(rt).embedAll(segs));
    assertEquals("segments 4 to 5 (text numbers below count from segment 4): text 1 has 10001 characters, over the"
        + " limit of 10000", e.getMessage());
  }

  @Test
  void anAdapterThatIsNotLoadedIsRefusedWhenTheModelIsMade() {
    Lora4jException e = assertThrows(Lora4jException.class, () -> new Lora4jEmbeddingModel(rt, "suport"));
    assertEquals("adapter 'suport' is not loaded", e.getMessage());
  }

  @Test
  void dimensionAndNameComeFromTheExport() {
    EmbeddingModel model = new Lora4jEmbeddingModel(rt, "support");
    assertEquals(384, model.dimension());
    assertEquals(model.dimension(), model.embed("Hi").content().dimension());
    assertEquals("minilm-l6+support", model.modelName());
    assertEquals("minilm-l6", new Lora4jEmbeddingModel(rt, null).modelName());
    assertEquals(List.of(), new Lora4jEmbeddingModel(rt).embedAll(List.of()).content());
  }

  @Test
  void readmeExampleRuns() {
    // --- README langchain4j example starts
    try (AdapterRuntime rt = AdapterRuntime.open(export)) {
      rt.load("support");                                                // export/support.onnx_adapter
      EmbeddingModel model = new Lora4jEmbeddingModel(rt, "support");    // new Lora4jEmbeddingModel(rt): no adapter
      EmbeddingStore<TextSegment> store = new InMemoryEmbeddingStore<>();
      List<TextSegment> docs = List.of(TextSegment.from("Refunds reach your card within five days."),
          TextSegment.from("The app crashes when I open the camera."), TextSegment.from("We are closed on Sundays."));
      store.addAll(model.embedAll(docs).content(), docs);                // batched: one run per maxBatch texts
      Embedding question = model.embed("how do I get my money back?").content();
      EmbeddingSearchResult<TextSegment> found = store.search(EmbeddingSearchRequest.builder()
          .queryEmbedding(question).maxResults(1).build());
      System.out.println(found.matches().get(0).embedded().text());     // Refunds reach your card within five days.
      // --- README langchain4j example ends

      // The nearest document by the runtime's own vectors (dot product of unit vectors), no
      // langchain4j in between, and the one a reader expects.
      List<String> texts = docs.stream().map(TextSegment::text).toList();
      List<float[]> vectors = rt.embed("support", texts);
      float[] q = rt.embed("support", List.of("how do I get my money back?")).get(0);
      int best = 0;
      for (int i = 1; i < vectors.size(); i++) {
        best = dot(vectors.get(i), q) > dot(vectors.get(best), q) ? i : best;
      }
      assertEquals(texts.get(best), found.matches().get(0).embedded().text());
      assertEquals("Refunds reach your card within five days.", texts.get(best));
    }
  }

  /**
   * langchain4j-core 1.20.0 names Jackson 2.22.1; the root pom pins every module to one Jackson
   * (jackson.version, 2.18.2). Its Jackson code (the chat-message codec with mix-ins, the store's
   * codec) must still run on it.
   */
  @Test
  void langchain4jsJacksonCodeRunsOnTheProjectsJackson() {
    List<ChatMessage> messages = List.of(UserMessage.from("how do I get my money back?"),
        AiMessage.from("Refunds reach your card within five days."));
    assertEquals(messages, ChatMessageDeserializer.messagesFromJson(ChatMessageSerializer.messagesToJson(messages)));
    InMemoryEmbeddingStore<TextSegment> store = new InMemoryEmbeddingStore<>();
    store.add(Embedding.from(new float[] {0.6f, 0.8f}), TextSegment.from("refunds"));
    String json = store.serializeToJson();
    assertEquals(json, InMemoryEmbeddingStore.fromJson(json).serializeToJson());
  }

  /** The example above is README's langchain4j block, line for line (spacing aside). */
  @Test
  void theReadmeExampleIsTheTestWordForWord() throws Exception {
    List<String> want = ReadmeExamples.block("## langchain4j").stream()
        .map(l -> l.replace("Path.of(\"export\")", "export")).toList();
    List<String> have = new ArrayList<>(ReadmeExamples.region(
        Path.of("src/test/java/dev/lora4j/langchain4j/Lora4jEmbeddingModelTest.java"), "README langchain4j example"));
    have.add("}"); // the test keeps the runtime open for its checks; README closes the block
    assertEquals(ReadmeExamples.normalised(want), ReadmeExamples.normalised(have));
  }

  private static double dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  static double maxAbsDiff(float[] a, float[] b) {
    if (a.length != b.length) {
      return Double.POSITIVE_INFINITY;
    }
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]));
    }
    return m;
  }
}
