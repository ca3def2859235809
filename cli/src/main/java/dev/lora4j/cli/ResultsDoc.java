package dev.lora4j.cli;

import dev.lora4j.models.io.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code docs/RESULTS.md} is written by several producers (training results, runtime benchmark);
 * each owns one section between markers and replaces only that, so a rerun of one keeps the others.
 */
final class ResultsDoc {
  private ResultsDoc() {}

  public static void replaceSection(Path file, String section, String markdown) {
    String begin = "<!-- begin " + section + " -->";
    String end = "<!-- end " + section + " -->";
    String doc;
    try {
      doc = Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8)
          : "# lora4j: measured results\n\nEvery number here was measured by a command in this repository; "
              + "each section says which, and when.\n";
    } catch (IOException e) {
      throw new dev.lora4j.models.Lora4jException(file + ": cannot read (" + e.getMessage() + ")", e);
    }
    String block = begin + "\n" + markdown.strip() + "\n" + end;
    int b = doc.indexOf(begin);
    int e = doc.indexOf(end);
    String updated = b >= 0 && e > b
        ? doc.substring(0, b) + block + doc.substring(e + end.length())
        : doc.stripTrailing() + "\n\n" + block + "\n";
    AtomicFiles.write(file, updated.getBytes(StandardCharsets.UTF_8));
  }
}
