package dev.lora4j.spark;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.RuntimeOptions;
import java.util.Arrays;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Scores a DataFrame of texts with one exported adapter, on Spark's executors.
 *
 * <pre>{@code
 * Dataset<Row> scored = Lora4jSpark.predict(reviews, "text", "/data/export/sst2", "sentiment");
 * scored.select("id", "label", "probabilities").show();
 * }</pre>
 *
 * <p>Each executor JVM opens one {@link AdapterRuntime} for the export directory (a path every
 * executor can read: shipped with the job or on a shared file system) and the options, on its first
 * task, and shares it among all its tasks, parallel ones included, until the JVM exits. A partition is
 * scored in runs of {@link RuntimeOptions#maxBatch()} texts, one {@link AdapterRuntime#predict(String,
 * java.util.List)} each. The result is the input with two columns more: {@value #LABEL} (the winning
 * label) and {@value #PROBABILITIES} (every label's probability, by label); a null text gets nulls
 * there. Anything lora4j refuses (an unknown adapter, a blank or too long text) fails the job with
 * lora4j's message.
 */
public final class Lora4jSpark {
  /** The winning label, a string column. */
  public static final String LABEL = "label";
  /** Label to probability, a {@code map<string, float>} column. */
  public static final String PROBABILITIES = "probabilities";

  private Lora4jSpark() {}

  /** {@link #predict(Dataset, String, String, String, RuntimeOptions)} with the runtime's defaults. */
  public static Dataset<Row> predict(Dataset<Row> texts, String textColumn, String exportDir, String adapter) {
    return predict(texts, textColumn, exportDir, adapter, RuntimeOptions.defaults());
  }

  /**
   * Adds {@value #LABEL} and {@value #PROBABILITIES} to every row of {@code texts}, from the string
   * column {@code textColumn}, scored by {@code adapter} of the export in {@code exportDir}. Lazy, like
   * any Dataset transformation: nothing runs until an action.
   */
  public static Dataset<Row> predict(Dataset<Row> texts, String textColumn, String exportDir, String adapter,
      RuntimeOptions options) {
    if (texts == null || textColumn == null || exportDir == null || adapter == null || options == null) {
      throw new Lora4jException("Lora4jSpark.predict needs a Dataset, a text column, an export directory, an adapter"
          + " and options; one of them is null");
    }
    StructType in = texts.schema();
    int column = Arrays.asList(in.fieldNames()).indexOf(textColumn);
    if (column < 0) {
      throw new Lora4jException("no column '" + textColumn + "' in the DataFrame; its columns are "
          + Arrays.toString(in.fieldNames()));
    }
    StructField field = in.fields()[column];
    if (!(field.dataType() instanceof StringType)) {
      throw new Lora4jException("column '" + textColumn + "' holds " + field.dataType().simpleString()
          + ", not string: lora4j scores texts");
    }
    for (String added : new String[] {LABEL, PROBABILITIES}) {
      // Spark resolves column names case-insensitively by default: "Label" would make "label" ambiguous.
      if (Arrays.stream(in.fieldNames()).anyMatch(added::equalsIgnoreCase)) {
        throw new Lora4jException("the DataFrame already has a column '" + added + "', which predict adds;"
            + " rename or drop it first");
      }
    }
    StructType out = in
        .add(LABEL, DataTypes.StringType, true)
        .add(PROBABILITIES, DataTypes.createMapType(DataTypes.StringType, DataTypes.FloatType, false), true);
    return texts.mapPartitions(new PartitionScorer(exportDir, adapter, textColumn, column, ShippedOptions.of(options)),
        Encoders.row(out));
  }
}
