package dev.lora4j.models.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A module an application adds (runtime, langchain4j, djl) makes a promise with its class path
 * (README, "Dependencies"). Maven resolves the real list at build time (maven-dependency-plugin
 * {@code list}, runtime scope, transitives included, into {@code target/runtime-dependencies.txt};
 * the execution is in the parent pom), and the module's dependency test compares it with its
 * committed {@code dependencies.allowed}, so a dependency that sneaks in (as the 83 MB MiniLM jar
 * once did through {@code models}) fails the build.
 */
public final class DependencyList {
  /** {@code groupId:artifactId:type[:classifier]:version:scope}, the first word of each listed line. */
  private static final Pattern RESOLVED =
      Pattern.compile("^\\s*([^:\\s]+):([^:\\s]+):[^:\\s]+(?::[^:\\s]+)?:[^:\\s]+:(compile|runtime)\\b");

  private DependencyList() {}

  /** Fails unless the resolved class path is exactly the module's {@code dependencies.allowed}. */
  public static void requireExactlyTheAllowed() {
    Set<String> resolved = resolved();
    Set<String> allowed = allowed(file("lora4j.allowedDependencies"));
    Set<String> added = new TreeSet<>(resolved);
    added.removeAll(allowed);
    Set<String> removed = new TreeSet<>(allowed);
    removed.removeAll(resolved);
    if (!added.isEmpty() || !removed.isEmpty()) {
      throw new AssertionError("the class path changed: new " + added + ", gone " + removed + " (resolved " + resolved
          + "). If intended, update the module's dependencies.allowed and README's Dependencies paragraph together.");
    }
  }

  /** Fails unless exactly one ONNX Runtime jar, the build's (CPU, or GPU under -Pcuda), is resolved. */
  public static void requireOneOnnxRuntime() {
    Set<String> onnxRuntimes = new TreeSet<>();
    for (String ga : resolved()) {
      if (ga.startsWith("com.microsoft.onnxruntime:")) {
        onnxRuntimes.add(ga);
      }
    }
    // CPU and GPU jars hold the same classes; with both, whichever loads first silently wins.
    Set<String> want = Set.of("com.microsoft.onnxruntime:" + System.getProperty("lora4j.onnxruntimeArtifact"));
    if (!want.equals(onnxRuntimes)) {
      throw new AssertionError("expected exactly " + want + " on the class path, found " + onnxRuntimes);
    }
  }

  /** {@code groupId:artifactId} of every resolved compile or runtime dependency. */
  static Set<String> resolved() {
    Path list = file("lora4j.runtimeDependencies");
    Set<String> out = new TreeSet<>();
    try {
      for (String line : Files.readAllLines(list)) {
        Matcher m = RESOLVED.matcher(line);
        if (m.find()) {
          out.add(m.group(1) + ":" + m.group(2));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    // An empty parse would mean the plugin's format changed, not that the module needs nothing.
    if (!out.contains("dev.lora4j:lora4j-models")) {
      throw new AssertionError("no lora4j-models in " + list + ": cannot read it");
    }
    return out;
  }

  private static Set<String> allowed(Path file) {
    Set<String> out = new TreeSet<>();
    try {
      for (String line : Files.readAllLines(file)) {
        String entry = line.strip();
        if (!entry.isEmpty() && !entry.startsWith("#")) {
          out.add(entry.replace("${onnxruntime.artifact}", System.getProperty("lora4j.onnxruntimeArtifact")));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  /** Paths come from the parent pom's surefire settings; outside Maven (an IDE run) they are missing. */
  private static Path file(String property) {
    String value = System.getProperty(property);
    if (value == null || !Files.isRegularFile(Path.of(value))) {
      throw new AssertionError("system property " + property + " (" + value + ") names no file: run this test "
          + "through Maven, which writes the resolved list in generate-test-resources");
    }
    return Path.of(value);
  }
}
