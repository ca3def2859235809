package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The runtime is what a JVM application adds to its build, so its class path is a promise (README,
 * "Dependencies"): ONNX Runtime, Jackson, the SLF4J API and lora4j's own code. Maven resolves the
 * real list at build time (maven-dependency-plugin {@code list}, runtime scope, transitives
 * included, into {@code target/runtime-dependencies.txt}); this test compares it with the committed
 * {@code runtime/dependencies.allowed}, so a dependency that sneaks in through {@code models} (as the
 * 83 MB MiniLM jar once did) fails the build.
 */
class RuntimeDependenciesTest {
  /** {@code groupId:artifactId:type[:classifier]:version:scope}, the first word of each listed line. */
  private static final Pattern RESOLVED =
      Pattern.compile("^\\s*([^:\\s]+):([^:\\s]+):[^:\\s]+(?::[^:\\s]+)?:[^:\\s]+:(compile|runtime)\\b");

  @Test
  void runtimeClassPathHoldsOnlyTheAllowedArtifacts() throws IOException {
    Set<String> resolved = resolved(file("lora4j.runtimeDependencies"));
    Set<String> allowed = allowed(file("lora4j.allowedDependencies"));

    Set<String> added = new TreeSet<>(resolved);
    added.removeAll(allowed);
    Set<String> removed = new TreeSet<>(allowed);
    removed.removeAll(resolved);
    assertTrue(added.isEmpty() && removed.isEmpty(),
        "lora4j-runtime's class path changed: new " + added + ", gone " + removed + " (resolved " + resolved
            + "). If intended, update runtime/dependencies.allowed and README's Dependencies paragraph together.");
  }

  @Test
  void exactlyOneOnnxRuntimeJar() throws IOException {
    Set<String> onnxRuntimes = new TreeSet<>();
    for (String ga : resolved(file("lora4j.runtimeDependencies"))) {
      if (ga.startsWith("com.microsoft.onnxruntime:")) {
        onnxRuntimes.add(ga);
      }
    }
    // CPU and GPU jars hold the same classes; with both, whichever loads first silently wins.
    assertEquals(Set.of("com.microsoft.onnxruntime:" + System.getProperty("lora4j.onnxruntimeArtifact")),
        onnxRuntimes);
  }

  private static Set<String> resolved(Path list) throws IOException {
    Set<String> out = new TreeSet<>();
    for (String line : Files.readAllLines(list)) {
      Matcher m = RESOLVED.matcher(line);
      if (m.find()) {
        out.add(m.group(1) + ":" + m.group(2));
      }
    }
    // An empty parse would mean the plugin's format changed, not that the runtime needs nothing.
    assertTrue(out.contains("dev.lora4j:lora4j-models"), "no lora4j-models in " + list + ": cannot read it");
    return out;
  }

  private static Set<String> allowed(Path file) throws IOException {
    Set<String> out = new TreeSet<>();
    for (String line : Files.readAllLines(file)) {
      String entry = line.strip();
      if (!entry.isEmpty() && !entry.startsWith("#")) {
        out.add(entry.replace("${onnxruntime.artifact}", System.getProperty("lora4j.onnxruntimeArtifact")));
      }
    }
    return out;
  }

  /** Paths come from the runtime pom; outside Maven (an IDE run) they are missing, and this says so. */
  private static Path file(String property) {
    String value = System.getProperty(property);
    assertTrue(value != null && Files.isRegularFile(Path.of(value)),
        "system property " + property + " (" + value + ") names no file: run this test through Maven,"
            + " which writes the resolved list in generate-test-resources");
    return Path.of(value);
  }
}
