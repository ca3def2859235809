package dev.lora4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.exporter.ExportBundle;
import dev.lora4j.exporter.ExportFormat;
import dev.lora4j.exporter.ExportRequest;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.testing.ReadmeExamples;
import dev.lora4j.models.testing.SyntheticAdapters;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Prediction;
import dev.lora4j.runtime.RuntimeOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Spark in local mode ({@code local[2]}: one JVM, two task threads, so tasks of one job share the
 * executor's runtime while running in parallel) scores DataFrames of texts, compared with
 * {@link AdapterRuntime#predict} on a runtime the test opens itself, one text at a time.
 *
 * <p>Tolerance 1e-6 on probabilities: the same multi-adapter graph on the same ONNX Runtime, with
 * the same options; only the batching differs (Spark's runs of up to maxBatch texts, padded to the
 * longest, against single unpadded texts), which changes the kernels' summation order: 3.6e-7 at
 * most, measured. Any two of these 48 distinct texts differ by 2e-5 or more (measured), so a row
 * paired with another row's prediction fails.
 */
class Lora4jSparkTest {
  static final String ADAPTER = "sentiment";
  static final StructType SCHEMA = new StructType()
      .add("id", DataTypes.LongType, false)
      .add("text", DataTypes.StringType, true);

  @TempDir static Path dir;
  static String exportDir;
  static SparkSession spark;
  static AdapterRuntime reference;

  @BeforeAll
  static void exportAndStartSpark() throws Exception {
    TinyBert.Written tiny = TinyBert.writeBase(dir.resolve("base"), 5);
    EncoderDescription d = tiny.description();
    BaseModelRef ref = tiny.files().ref();
    Map<String, Integer> ranks = new LinkedHashMap<>();
    ranks.put("encoder.layer.0.attention.self.query", 4);
    ranks.put("encoder.layer.1.attention.self.value", 2);
    ranks.put("encoder.layer.1.intermediate.dense", 3);
    Adapter sentiment = SyntheticAdapters.classifier(d, ref, ADAPTER, ranks, 3, TaskHead.Pooling.MEAN, 31);
    Path export = dir.resolve("export");
    ExportBundle.export(ExportRequest.of(tiny.files(), List.of(sentiment), EnumSet.of(ExportFormat.MULTI), export), line -> { });
    exportDir = export.toString();
    reference = AdapterRuntime.open(export);
    reference.load(ADAPTER);
    spark = SparkSession.builder()
        .master("local[2]")
        .appName("lora4j-spark-test")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate();
  }

  @AfterAll
  static void stop() {
    if (spark != null) {
      spark.stop();
    }
    if (reference != null) {
      reference.close();
    }
    ExecutorRuntimes.closeAll();
  }

  /** 50 reviews of 1 to 17 words (padding differs within every run), ids 0..49, a null text at 7 and 30. */
  static List<Row> reviews() {
    String[] openings = {"a good movie", "the worst plot , really boring", "it was not great but fun",
        "brilliant acting and a moving story", "dull", "i loved the characters but hated the end",
        "too long", "a charming mess", "two hours of tedious acting", "the director loved this story"};
    String[] endings = {"", " .", " ! really", " , and the end was very bad", " ; we hated the plot but loved the time"};
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < openings.length * endings.length; i++) {
      String text = openings[i % openings.length] + endings[i / openings.length];
      rows.add(RowFactory.create((long) i, i == 7 || i == 30 ? null : text));
    }
    return rows;
  }

  static Dataset<Row> frame(List<Row> rows, int partitions) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    return spark.createDataFrame(jsc.parallelize(rows, partitions), SCHEMA);
  }

  /** Every output row against the reference runtime's answer for its own text, alone. */
  static void assertScoredLikeAdapterRuntime(List<Row> in, List<Row> out) {
    assertEquals(in.size(), out.size(), "one output row per input row");
    Map<Long, String> texts = new HashMap<>();
    in.forEach(r -> texts.put(r.getLong(0), r.getString(1)));
    for (Row r : out) {
      long id = r.getLong(r.fieldIndex("id"));
      String text = r.getString(r.fieldIndex("text"));
      assertEquals(texts.get(id), text, "row " + id + " keeps its own columns");
      if (text == null) {
        assertNull(r.get(r.fieldIndex(Lora4jSpark.LABEL)), "row " + id + ": a null text has no label");
        assertNull(r.get(r.fieldIndex(Lora4jSpark.PROBABILITIES)), "row " + id + ": nor probabilities");
        continue;
      }
      Prediction want = reference.predict(ADAPTER, text);
      assertEquals(want.label(), r.getString(r.fieldIndex(Lora4jSpark.LABEL)), text);
      Map<String, Float> got = r.getJavaMap(r.fieldIndex(Lora4jSpark.PROBABILITIES));
      assertEquals(want.labels().size(), got.size(), text + ": one probability per label");
      for (int i = 0; i < want.labels().size(); i++) {
        double diff = Math.abs(want.probabilities()[i] - got.get(want.labels().get(i)));
        assertTrue(diff <= 1e-6, text + ": " + want.labels().get(i) + " differs by " + diff);
      }
    }
  }

  @Test
  void everyPartitionIsScoredAsAdapterRuntimePredictScoresEachText() {
    List<Row> rows = reviews();
    Dataset<Row> texts = frame(rows, 4);
    assertEquals(4, texts.rdd().getNumPartitions());
    Dataset<Row> scored = Lora4jSpark.predict(texts, "text", exportDir, ADAPTER);
    assertEquals(List.of("id", "text", "label", "probabilities"), List.of(scored.columns()));
    assertEquals("map<string,float>", scored.schema().apply("probabilities").dataType().simpleString());
    assertScoredLikeAdapterRuntime(rows, scored.collectAsList());
  }

  /** maxBatch 5: each partition of 12 or 13 rows is three runs, one with a null text in it. */
  @Test
  void runsOfMaxBatchTextsAnswerAsWholePartitionsDo() {
    List<Row> rows = reviews();
    Dataset<Row> scored =
        Lora4jSpark.predict(frame(rows, 4), "text", exportDir, ADAPTER, RuntimeOptions.defaults().withMaxBatch(5));
    assertScoredLikeAdapterRuntime(rows, scored.collectAsList());
  }

  /**
   * Two jobs of 4 partitions each, on two task threads: one runtime opened for them all. Options no
   * other test uses, so the count is this test's own whatever ran before.
   */
  @Test
  void oneRuntimePerJvmServesEveryTaskOfEveryJob() {
    RuntimeOptions options = RuntimeOptions.defaults().withMaxBatch(7);
    int before = ExecutorRuntimes.opened();
    List<Row> rows = reviews();
    for (int job = 0; job < 2; job++) {
      assertScoredLikeAdapterRuntime(rows,
          Lora4jSpark.predict(frame(rows, 4), "text", exportDir, ADAPTER, options).collectAsList());
    }
    assertEquals(1, ExecutorRuntimes.opened() - before, "runtimes opened for 2 jobs x 4 partitions");
  }

  @Test
  void anUnknownAdapterFailsTheJobWithLora4jsMessage() {
    Dataset<Row> scored = Lora4jSpark.predict(frame(reviews(), 3), "text", exportDir, "sentimnet");
    Exception e = assertThrows(Exception.class, scored::collectAsList);
    String lora4j = Path.of(exportDir).resolve("sentimnet.onnx_adapter").toAbsolutePath()
        + ": no such adapter file";
    assertTrue(e.getMessage().contains("dev.lora4j.models.Lora4jException: " + lora4j), e.getMessage());
    assertEquals(lora4j, lora4jCause(e).getMessage(), "Spark keeps lora4j's exception as the cause");
  }

  @Test
  void aBlankTextFailsTheJobNamingItsRows() {
    List<Row> rows = List.of(RowFactory.create(0L, "a good movie"), RowFactory.create(1L, " "));
    Dataset<Row> scored = Lora4jSpark.predict(frame(rows, 1), "text", exportDir, ADAPTER);
    Exception e = assertThrows(Exception.class, scored::collectAsList);
    assertEquals("column 'text', rows 0..1 of partition 0 (their non-null texts are numbered from 0): text 1 is empty",
        lora4jCause(e).getMessage());
  }

  @Test
  void columnProblemsAreRefusedBeforeTheJobStarts() {
    Dataset<Row> texts = frame(reviews(), 1);
    assertEquals("no column 'review' in the DataFrame; its columns are [id, text]", assertThrows(Lora4jException.class,
        () -> Lora4jSpark.predict(texts, "review", exportDir, ADAPTER)).getMessage());
    assertEquals("column 'id' holds bigint, not string: lora4j scores texts", assertThrows(Lora4jException.class,
        () -> Lora4jSpark.predict(texts, "id", exportDir, ADAPTER)).getMessage());
    assertEquals("the DataFrame already has a column 'label', which predict adds; rename or drop it first",
        assertThrows(Lora4jException.class, () -> Lora4jSpark.predict(texts.withColumnRenamed("id", "Label"), "text",
            exportDir, ADAPTER)).getMessage());
  }

  /**
   * Spark's parent-first class path: ONNX Runtime (lora4j's, Spark brings none) and Jackson (Spark
   * names 2.18.6, the root pom pins 2.18.2 for every module) must each be there once, or whichever
   * copy loads first wins.
   */
  @Test
  void oneOnnxRuntimeAndOneJacksonOnTheClassPath() throws Exception {
    for (String cls : List.of("ai/onnxruntime/OrtEnvironment.class", "com/fasterxml/jackson/databind/ObjectMapper.class",
        "com/fasterxml/jackson/core/JsonFactory.class", "com/google/protobuf/Message.class")) {
      List<String> copies = new ArrayList<>();
      getClass().getClassLoader().getResources(cls).asIterator().forEachRemaining(u -> copies.add(u.toString()));
      assertEquals(1, copies.size(), cls + ": " + copies);
    }
  }

  /** The outermost Lora4jException among the causes: what lora4j threw in the task. */
  static Lora4jException lora4jCause(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof Lora4jException l) {
        return l;
      }
    }
    throw new AssertionError("no Lora4jException among the causes of " + e, e);
  }

  @Test
  void readmeJobRuns() throws Exception {
    String input = dir.resolve("reviews.parquet").toString();
    String output = dir.resolve("scored.parquet").toString();
    frame(reviews(), 3).write().parquet(input);
    // --- README Spark example starts
    SparkSession spark = SparkSession.builder().appName("score-reviews").getOrCreate();   // master: spark-submit's
    Dataset<Row> reviews = spark.read().parquet(input);                                   // columns id, text
    Dataset<Row> scored = Lora4jSpark.predict(reviews, "text", exportDir, "sentiment");   // + label, probabilities
    scored.write().parquet(output);
    // --- README Spark example ends
    assertScoredLikeAdapterRuntime(reviews(), spark.read().parquet(output).collectAsList());
  }

  /** The example above is README's Spark block, line for line (spacing aside). */
  @Test
  void theReadmeJobIsTheTestWordForWord() throws Exception {
    assertEquals(ReadmeExamples.normalised(ReadmeExamples.block("## Spark")), ReadmeExamples.normalised(
        ReadmeExamples.region(Path.of("src/test/java/dev/lora4j/spark/Lora4jSparkTest.java"), "README Spark example")));
  }

}
