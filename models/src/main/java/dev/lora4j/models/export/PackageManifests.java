package dev.lora4j.models.export;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.models.Lora4jException;
import java.io.IOException;
import java.util.List;

/**
 * What the adapter and base package manifests ({@link AdapterPackage}, {@link BasePackage}) share:
 * JSON in and out, required fields, the format version, the name they were packaged under, and
 * file names that stay inside their jar directory. {@code kind} ("adapter" / "base") words the messages.
 */
final class PackageManifests {
  private PackageManifests() {}

  static byte[] toJson(Object manifest, String kind, String name) {
    try {
      return ExportJson.MAPPER.writeValueAsBytes(manifest);
    } catch (JsonProcessingException e) {
      throw new Lora4jException("could not write the manifest of " + kind + " '" + name + "': " + e.getMessage(), e);
    }
  }

  /**
   * Parses {@code json} as {@code type} and checks the fields every manifest needs: {@code required}
   * present, {@code format} this lora4j's, {@code name} the directory's ({@code expectedName}).
   */
  static <T> T parse(byte[] json, String where, String kind, Class<T> type, List<String> required, int format,
      String expectedName) {
    JsonNode tree;
    T manifest;
    String article = kind.startsWith("a") ? "an " : "a ";
    try {
      tree = ExportJson.MAPPER.readTree(json);
      if (tree == null || !tree.isObject()) {
        throw new Lora4jException(where + ": not " + article + kind + " package manifest (expected a JSON object)");
      }
      manifest = ExportJson.MAPPER.treeToValue(tree, type);
    } catch (IOException e) {
      throw new Lora4jException(where + ": not a valid " + kind + " package manifest ("
          + e.getMessage().lines().findFirst().orElse("") + ")", e);
    }
    for (String field : required) {
      if (!tree.hasNonNull(field)) {
        throw new Lora4jException(where + ": field '" + field + "' is missing");
      }
    }
    int found = tree.get("format").asInt();
    if (found != format) {
      throw new Lora4jException(where + ": package format " + found + " is not one this lora4j reads (" + format
          + "); use the lora4j version that packaged it, or package the " + kind + " again");
    }
    String name = tree.get("name").asText();
    if (!name.equals(expectedName)) {
      throw new Lora4jException(where + ": the manifest names " + kind + " '" + name + "', but it lies in the directory"
          + " of '" + expectedName + "'");
    }
    return manifest;
  }

  /** A plain file name: a manifest must not point at another package's files, or out of its jar directory. */
  static void requireFileName(String file, String field, String where, String kind) {
    if (file.isEmpty() || file.contains("/") || file.contains("\\") || file.equals(".") || file.equals("..")
        || !ExportLayout.isValidAdapterName(file)) {
      throw new Lora4jException(where + ": field '" + field + "' is '" + file + "', not a file name in the " + kind + "'s"
          + " directory");
    }
  }
}
