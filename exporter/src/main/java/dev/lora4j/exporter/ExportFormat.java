package dev.lora4j.exporter;

import dev.lora4j.models.Lora4jException;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/** What {@code lora4j export --format} can write; see {@code ExportLayout} for the files. */
public enum ExportFormat {
  /** {@code <adapter>.merged.onnx}: weights merged, head appended. */
  MERGED,
  /** {@code <adapter>.factored.onnx}: low-rank branches with constant factors, head appended. */
  FACTORED,
  /** {@code base.multi.onnx} + per adapter {@code .onnx_adapter} and sidecar. */
  MULTI,
  /** {@code base.mixed.onnx} + per adapter {@code .onnx_adapter} and sidecar (the runtime packs them). */
  MIXED;

  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Parses {@code merged,factored,multi,mixed} or {@code all}. */
  public static Set<ExportFormat> parseList(String list) {
    EnumSet<ExportFormat> out = EnumSet.noneOf(ExportFormat.class);
    for (String raw : list.split(",")) {
      String t = raw.trim().toLowerCase(Locale.ROOT);
      if (t.isEmpty()) {
        continue;
      }
      if (t.equals("all")) {
        return EnumSet.allOf(ExportFormat.class);
      }
      ExportFormat f = Arrays.stream(values()).filter(v -> v.id().equals(t)).findFirst()
          .orElseThrow(() -> new Lora4jException("unknown export format '" + raw.trim() + "'; known: "
              + Arrays.stream(values()).map(ExportFormat::id).collect(Collectors.joining(", ")) + ", all"));
      out.add(f);
    }
    if (out.isEmpty()) {
      throw new Lora4jException("no export format given (e.g. --format merged,multi)");
    }
    return out;
  }
}
