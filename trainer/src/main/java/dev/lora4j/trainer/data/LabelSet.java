package dev.lora4j.trainer.data;

import dev.lora4j.models.Lora4jException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;

/**
 * The classes of a task, in a fixed order: sorted, numerically when every label is an integer (so
 * SST-2's {@code 0, 1} map to logits 0 and 1, and {@code 10} comes after {@code 9}), else by text.
 */
public record LabelSet(List<String> names) {

  public LabelSet {
    names = List.copyOf(names);
    if (names.size() < 2) {
      throw new Lora4jException("a classifier needs at least two labels, found " + names);
    }
  }

  public static LabelSet of(TsvDataset data) {
    boolean numeric = data.rows().stream().allMatch(r -> r.label().matches("-?\\d{1,18}"));
    Comparator<String> order = numeric ? Comparator.comparingLong(Long::parseLong) : Comparator.naturalOrder();
    TreeSet<String> set = new TreeSet<>(order);
    data.rows().forEach(r -> set.add(r.label()));
    if (set.size() < 2) {
      throw new Lora4jException(data.source() + ": every row has the label '" + set.first()
          + "'; a classifier needs at least two");
    }
    return new LabelSet(new ArrayList<>(set));
  }

  public int size() {
    return names.size();
  }

  public int index(LabeledText row, Object source) {
    int i = names.indexOf(row.label());
    if (i < 0) {
      throw new Lora4jException(source + ":" + row.line() + ": label '" + row.label()
          + "' is not one of the training labels " + names);
    }
    return i;
  }
}
