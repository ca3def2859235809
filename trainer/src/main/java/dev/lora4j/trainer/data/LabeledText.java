package dev.lora4j.trainer.data;

/** One row of a data file; {@code line} (1-based) is kept for error messages. */
public record LabeledText(String text, String label, int line) {}
