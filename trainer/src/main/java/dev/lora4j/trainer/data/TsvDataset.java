package dev.lora4j.trainer.data;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.InputFiles;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A labelled text file, tab-separated, UTF-8, with a header naming the columns (GLUE style:
 * {@code sentence<TAB>label}). The text column may also be called {@code text}; other columns are
 * ignored. Every problem names the file and line. {@link #readTexts} also takes files without a label
 * column (texts to classify); their rows carry a null label.
 */
public record TsvDataset(Path source, List<LabeledText> rows) {

  public TsvDataset {
    rows = List.copyOf(rows);
  }

  /** A labelled file: the header must name a text and a label column, every row must have both. */
  public static TsvDataset read(Path file) {
    return read(file, true);
  }

  /** Texts to classify, with gold labels where the header names a label column (else each label is null). */
  public static TsvDataset readTexts(Path file) {
    return read(file, false);
  }

  private static TsvDataset read(Path file, boolean labelRequired) {
    // A directory, a device or a pipe is refused by kind rather than read (a pipe could block, a device never end).
    InputFiles.requireRegularFile(file, "data file (tab-separated text)");
    List<LabeledText> rows = new ArrayList<>();
    try (BufferedReader in = new BoundedLines(Files.newBufferedReader(file, StandardCharsets.UTF_8), file)) {
      String header = in.readLine();
      if (header == null) {
        throw new Lora4jException(file + " is empty (expected a header line 'sentence<TAB>label')");
      }
      String[] cols = header.replace("\uFEFF", "").split("\t", -1);
      int text = column(cols, "sentence", "text");
      int label = column(cols, "label");
      if (text < 0 || (label < 0 && labelRequired)) {
        throw new Lora4jException(file + ":1: header must name a 'sentence' (or 'text')"
            + (labelRequired ? " and a 'label' column separated by a tab" : " column") + ", found '" + header + "'");
      }
      int n = 1;
      for (String line; (line = in.readLine()) != null; ) {
        n++;
        if (line.isBlank()) {
          continue;
        }
        String[] f = line.split("\t", -1);
        if (f.length != cols.length) {
          throw new Lora4jException(file + ":" + n + ": expected " + cols.length + " tab-separated columns ("
              + String.join(", ", cols) + "), found " + f.length);
        }
        if (f[text].isBlank()) {
          throw new Lora4jException(file + ":" + n + ": empty text");
        }
        if (label >= 0 && f[label].isBlank()) {
          throw new Lora4jException(file + ":" + n + ": empty label");
        }
        rows.add(new LabeledText(f[text], label >= 0 ? f[label].trim() : null, n));
      }
    } catch (MalformedInputException e) {
      throw new Lora4jException(file + " is not UTF-8 text", e);
    } catch (IOException e) {
      throw new Lora4jException("cannot read " + file + ": " + InputFiles.describe(e), e);
    }
    if (rows.isEmpty()) {
      throw new Lora4jException(file + " has a header but no rows");
    }
    return new TsvDataset(file, rows);
  }

  private static int column(String[] cols, String... names) {
    for (int i = 0; i < cols.length; i++) {
      for (String name : names) {
        if (cols[i].trim().toLowerCase(Locale.ROOT).equals(name)) {
          return i;
        }
      }
    }
    return -1;
  }

  public int size() {
    return rows.size();
  }

  public List<String> texts() {
    return rows.stream().map(LabeledText::text).toList();
  }

  /** How many rows carry each label, in label-set order. */
  public Map<String, Integer> labelCounts(LabelSet labels) {
    Map<String, Integer> m = new LinkedHashMap<>();
    labels.names().forEach(l -> m.put(l, 0));
    rows.forEach(r -> m.merge(r.label(), 1, Integer::sum));
    return m;
  }
}
