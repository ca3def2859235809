package dev.lora4j.spark;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Prediction;
import dev.lora4j.runtime.RuntimeOptions;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import scala.jdk.javaapi.CollectionConverters;

/**
 * What runs on an executor for one partition: the rows come back in order, each with its label and
 * probabilities, scored in runs of {@code maxBatch} texts. Lazy: a run is predicted when Spark pulls
 * its first row, so a partition is never held in memory whole, and an empty one opens no runtime.
 */
final class PartitionScorer implements MapPartitionsFunction<Row, Row> {
  private static final long serialVersionUID = 1L;

  private final String exportDir;
  private final String adapter;
  private final String textColumn;
  private final int column;
  private final ShippedOptions options;

  PartitionScorer(String exportDir, String adapter, String textColumn, int column, ShippedOptions options) {
    this.exportDir = exportDir;
    this.adapter = adapter;
    this.textColumn = textColumn;
    this.column = column;
    this.options = options;
  }

  @Override
  public Iterator<Row> call(Iterator<Row> rows) {
    RuntimeOptions o = options.toOptions();
    return new Iterator<>() {
      private final ArrayDeque<Row> scored = new ArrayDeque<>();
      private long rowsRead;

      @Override
      public boolean hasNext() {
        if (scored.isEmpty() && rows.hasNext()) {
          scoreNextRun();
        }
        return !scored.isEmpty();
      }

      @Override
      public Row next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        return scored.poll();
      }

      private void scoreNextRun() {
        List<Row> run = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        long first = rowsRead;
        while (run.size() < o.maxBatch() && rows.hasNext()) {
          Row r = rows.next();
          run.add(r);
          if (!r.isNullAt(column)) {
            texts.add(r.getString(column));
          }
        }
        rowsRead += run.size();
        Iterator<Prediction> predictions = predict(o, texts, first, rowsRead - 1).iterator();
        for (Row r : run) {
          scored.add(r.isNullAt(column) ? append(r, null, null) : scoredRow(r, predictions.next()));
        }
      }
    };
  }

  private List<Prediction> predict(RuntimeOptions o, List<String> texts, long firstRow, long lastRow) {
    if (texts.isEmpty()) {
      return List.of();
    }
    AdapterRuntime rt = ExecutorRuntimes.withAdapter(exportDir, o, adapter);
    try {
      return rt.predict(adapter, texts);
    } catch (Lora4jException e) {
      // the runtime numbers the texts of one run from 0; say which rows of which partition that run is
      TaskContext task = TaskContext.get();
      throw new Lora4jException("column '" + textColumn + "', rows " + firstRow + ".." + lastRow
          + (task == null ? "" : " of partition " + task.partitionId())
          + " (their non-null texts are numbered from 0): " + e.getMessage(), e);
    }
  }

  private static Row scoredRow(Row r, Prediction p) {
    Map<String, Float> byLabel = new LinkedHashMap<>();
    float[] probabilities = p.probabilities();
    for (int i = 0; i < probabilities.length; i++) {
      byLabel.put(p.labels().get(i), probabilities[i]);
    }
    // Spark's Row encoder takes a Scala map for a map column
    return append(r, p.label(), CollectionConverters.asScala(byLabel));
  }

  private static Row append(Row r, String label, Object probabilities) {
    Object[] values = new Object[r.length() + 2];
    for (int i = 0; i < r.length(); i++) {
      values[i] = r.get(i);
    }
    values[r.length()] = label;
    values[r.length() + 1] = probabilities;
    return RowFactory.create(values);
  }
}
