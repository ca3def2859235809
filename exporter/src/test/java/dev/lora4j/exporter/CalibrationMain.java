package dev.lora4j.exporter;

import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Path;
import java.util.List;

/**
 * Run by {@link Int8SmoothingTest} in a fresh JVM with a long command line: int8 calibration is the
 * first thing in the process to start ONNX Runtime, whose start-up recursed once per command-line
 * byte (issue 12). Prints how many activations got a range and exits 0; a native stack overflow
 * kills the JVM instead (exit 134 or 139). Arguments: a tokenizer.json; more only lengthen the line.
 */
public final class CalibrationMain {
  private CalibrationMain() {}

  public static void main(String[] args) {
    ActivationRanges r = ActivationRanges.measure(TinyBert.model(5), Path.of(args[0]), Int8SmoothingTest.TEXTS);
    System.out.println("activations " + r.activations());
  }
}
