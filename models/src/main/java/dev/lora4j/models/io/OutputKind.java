package dev.lora4j.models.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.function.Predicate;

/**
 * A kind of directory lora4j writes, recognised by its manifest so that a later run may replace
 * its own earlier output but nothing else (see {@link OutputTargets#requireReplaceable}).
 *
 * @param description what the user calls it, e.g. "an export directory"
 * @param manifest the file that marks it, e.g. {@code export.json}
 * @param manifestIsOurs whether the manifest (an existing regular file) is the one lora4j writes,
 *     not a user's file that happens to share its name
 * @param writes whether a top-level entry of that name is one this kind of output holds: a
 *     directory with anything else in it is not ours to delete
 */
public record OutputKind(String description, String manifest, Predicate<Path> manifestIsOurs,
    Predicate<String> writes) {

  /** Manifests are small; a bigger file of that name is not one, and is not read whole. */
  private static final int MAX_MANIFEST_BYTES = 16 << 20;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** A kind whose top-level entries are exactly {@code names}, the first being the manifest. */
  public static OutputKind of(String description, Predicate<Path> manifestIsOurs, String manifest, String... more) {
    Set<String> names = Set.of(more);
    return new OutputKind(description, manifest, manifestIsOurs, n -> n.equals(manifest) || names.contains(n));
  }

  /**
   * A manifest test for JSON manifests: the file is a JSON object (at most 16 MB) that
   * {@code test} accepts; false for anything unreadable or malformed, never an exception.
   */
  public static Predicate<Path> jsonObject(Predicate<JsonNode> test) {
    return file -> {
      try {
        if (!Files.isRegularFile(file) || Files.size(file) > MAX_MANIFEST_BYTES) {
          return false;
        }
        JsonNode node;
        try (InputStream in = Files.newInputStream(file)) {
          node = JSON.readTree(in);
        }
        return node != null && node.isObject() && test.test(node);
      } catch (IOException | RuntimeException e) {
        return false;
      }
    };
  }
}
