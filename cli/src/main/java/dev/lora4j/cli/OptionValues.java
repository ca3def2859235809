package dev.lora4j.cli;

import dev.lora4j.models.Lora4jException;
import org.apache.commons.cli.CommandLine;

/** Numeric option values, with one clear message for a value that is not a number. */
final class OptionValues {
  private OptionValues() {}

  static int integer(CommandLine line, String option, int fallback) {
    String v = line.getOptionValue(option);
    if (v == null) {
      return fallback;
    }
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new Lora4jException("--" + option + " needs a whole number, not '" + v + "'");
    }
  }

  static double real(CommandLine line, String option, double fallback) {
    String v = line.getOptionValue(option);
    if (v == null) {
      return fallback;
    }
    try {
      return Double.parseDouble(v.trim());
    } catch (NumberFormatException e) {
      throw new Lora4jException("--" + option + " needs a number, not '" + v + "'");
    }
  }
}
