package dev.lora4j.models.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The public top-level types of a module's main sources, by a scan of the source files (no class
 * loading, so a module's optional dependencies need not be present). Each module's
 * {@code PublicSurfaceTest} compares them with the list it commits, so the public API cannot grow
 * without a line in a test: a new type is package-private unless a user must call it.
 */
public final class PublicTypes {
  private static final Pattern PACKAGE = Pattern.compile("^package\\s+([\\w.]+)\\s*;", Pattern.MULTILINE);
  private static final Pattern PUBLIC_TYPE = Pattern.compile(
      "^public\\s+(?:(?:final|abstract|sealed|non-sealed|strictfp)\\s+)*(?:class|interface|enum|record|@interface)"
          + "\\s+(\\w+)", Pattern.MULTILINE);

  private PublicTypes() {}

  /** Fully qualified names of the public top-level types under {@code sourceRoot}. */
  public static Set<String> in(Path sourceRoot) {
    Set<String> out = new TreeSet<>();
    try (Stream<Path> files = Files.walk(sourceRoot)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
        String text = Files.readString(f);
        Matcher type = PUBLIC_TYPE.matcher(text);
        if (type.find()) {
          Matcher pkg = PACKAGE.matcher(text);
          out.add((pkg.find() ? pkg.group(1) + "." : "") + type.group(1));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (out.isEmpty()) {
      throw new AssertionError("no public types under " + sourceRoot.toAbsolutePath() + ": not a module's source root");
    }
    return out;
  }

  /**
   * Fails unless the module's public types (sources under {@code src/main/java}, relative to the
   * working directory, which Maven sets to the module) are exactly {@code expected}, naming what was
   * added and what is gone.
   */
  public static void requireExactly(Set<String> expected) {
    Set<String> actual = in(Path.of("src", "main", "java"));
    Set<String> added = new TreeSet<>(actual);
    added.removeAll(expected);
    Set<String> gone = new TreeSet<>(expected);
    gone.removeAll(actual);
    if (!added.isEmpty() || !gone.isEmpty()) {
      throw new AssertionError("the public types changed: new " + added + ", gone " + gone + ". Keep a new type "
          + "package-private unless a user must call it; if it must be public, add it to this test's list.");
    }
  }
}
