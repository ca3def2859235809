package dev.lora4j.models.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/**
 * README examples that a test runs word for word: the README's first {@code ```java} block under a
 * heading, and the region of a test source between {@code // --- <name> starts} and
 * {@code // --- <name> ends}, compared line for line with spacing normalised. Paths are relative to
 * a module directory (where surefire runs), so the README is {@code ../README.md}.
 */
public final class ReadmeExamples {
  private ReadmeExamples() {}

  /** The lines of the first {@code ```java} block after the line starting with {@code heading}. */
  public static List<String> block(String heading) throws IOException {
    List<String> readme = Files.readAllLines(Path.of("..", "README.md"));
    int open = indexOf(readme, "```java", indexOf(readme, heading, 0));
    return readme.subList(open + 1, indexOf(readme, "```", open + 1));
  }

  /** The lines of {@code source} between the {@code // --- <name> starts} and {@code ends} markers. */
  public static List<String> region(Path source, String name) throws IOException {
    List<String> lines = Files.readAllLines(source);
    int from = indexOf(lines, "// --- " + name + " starts", 0) + 1;
    return lines.subList(from, indexOf(lines, "// --- " + name + " ends", from));
  }

  /** One string of the lines, each stripped and with inner runs of white space made one space. */
  public static String normalised(List<String> lines) {
    return lines.stream().map(l -> l.strip().replaceAll("\\s+", " ")).collect(Collectors.joining("\n"));
  }

  private static int indexOf(List<String> lines, String prefix, int from) {
    for (int i = from; i < lines.size(); i++) {
      if (lines.get(i).strip().startsWith(prefix)) {
        return i;
      }
    }
    throw new AssertionError("no line starts with " + prefix + " after line " + from);
  }
}
