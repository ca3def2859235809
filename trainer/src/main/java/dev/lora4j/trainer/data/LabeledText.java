package dev.lora4j.trainer.data;

/**
 * One row of a data file; {@code line} (1-based) is kept for error messages. The label is null only
 * for rows read by {@link TsvDataset#readTexts} from a file without a label column.
 */
public record LabeledText(String text, String label, int line) {}
