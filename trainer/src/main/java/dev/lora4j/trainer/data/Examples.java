package dev.lora4j.trainer.data;

import dev.lora4j.models.text.Encoding;
import dev.lora4j.models.text.Tokenizer;
import java.util.ArrayList;
import java.util.List;

/** Tokenizes a data set once, up front; batches are then padded per batch, not to max length. */
public final class Examples {
  private static final int CHUNK = 512;

  private Examples() {}

  public static List<Example> of(TsvDataset data, LabelSet labels, Tokenizer tokenizer, int maxLength) {
    List<Example> out = new ArrayList<>(data.size());
    List<LabeledText> rows = data.rows();
    for (int from = 0; from < rows.size(); from += CHUNK) {
      List<LabeledText> chunk = rows.subList(from, Math.min(rows.size(), from + CHUNK));
      Encoding e = tokenizer.encode(chunk.stream().map(LabeledText::text).toList(), maxLength);
      for (int i = 0; i < chunk.size(); i++) {
        out.add(new Example(e.rowIds(i), labels.index(chunk.get(i), data.source())));
      }
    }
    return out;
  }

  /** Tokens over all examples (special tokens included). */
  public static long tokens(List<Example> examples) {
    return examples.stream().mapToLong(Example::length).sum();
  }
}
