package dev.lora4j.runtime;

import java.util.Locale;

/** Where inference runs. */
public enum Device {
  /** CUDA when the provider and a GPU are there, else CPU (with one log line saying why). */
  AUTO,
  CPU,
  /** CUDA or a clear error: for deployments that must not silently run slow. */
  CUDA;

  public static Device parse(String s) {
    try {
      return valueOf(s.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("device must be auto, cpu or cuda, not '" + s + "'");
    }
  }
}
