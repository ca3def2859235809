package dev.lora4j.models.adapter.safetensors;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The safetensors element types lora4j reads: the float types checkpoints come in (all read as
 * float) and I64 for integer bookkeeping. Others (I32, U8, F8_*, ...) are refused by name.
 */
public enum DType {
  F64(8, true),
  F32(4, true),
  F16(2, true),
  BF16(2, true),
  I64(8, false);

  private final int size;
  private final boolean floating;

  DType(int size, boolean floating) {
    this.size = size;
    this.floating = floating;
  }

  /** Bytes per element. */
  public int size() {
    return size;
  }

  /** Whether the values can be read as floats. */
  public boolean isFloat() {
    return floating;
  }

  /** The type spelled as in a safetensors header, or null when lora4j does not read it. */
  static DType parse(String s) {
    for (DType t : values()) {
      if (t.name().equals(s)) {
        return t;
      }
    }
    return null;
  }

  static String supported() {
    return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));
  }
}
