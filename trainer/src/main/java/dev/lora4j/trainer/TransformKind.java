package dev.lora4j.trainer;

import dev.lora4j.models.Lora4jException;
import java.util.Locale;

/**
 * MTLoRA's structures for the transformation {@code T (r x r)} between A and B (Liang et al., 2024),
 * each starting at the identity so training starts from plain LoRA:
 * <ul>
 *   <li>{@code full} (SHIM): T itself is learned, a free change of basis;
 *   <li>{@code psd} (ICFM): {@code T = L L^T}, L lower-triangular from I: a metric, symmetric PSD;
 *   <li>{@code staged} (CTCM): {@code T = T2 T1}, two transforms applied one after the other;
 *   <li>{@code dual} (DTSM): {@code T = T1 + T2}, two transforms superposed (T1 from I, T2 from 0).
 * </ul>
 */
public enum TransformKind {
  FULL,
  PSD,
  STAGED,
  DUAL;

  public static TransformKind parse(String s) {
    try {
      return valueOf(s.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new Lora4jException("--transform must be full, psd, staged or dual, not '" + s + "'");
    }
  }

  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }
}
