package dev.lora4j.models.text;

import java.util.Arrays;

/** A growable list of ints, so a row of token ids is not a list of boxed Integers. */
final class IntList {
  private int[] values = new int[32];
  private int size;

  void add(int value) {
    if (size == values.length) {
      values = Arrays.copyOf(values, size * 2);
    }
    values[size++] = value;
  }

  int size() {
    return size;
  }

  int get(int index) {
    return values[index];
  }

  void truncate(int newSize) {
    size = newSize;
  }

  int[] toArray() {
    return Arrays.copyOf(values, size);
  }
}
