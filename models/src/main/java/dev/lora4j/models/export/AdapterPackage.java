package dev.lora4j.models.export;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Provenance;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * The manifest of an adapter packaged as a jar ({@code lora4j package}): the jar holds the adapter's
 * {@code .onnx_adapter} and sidecar under {@code META-INF/lora4j/adapters/<name>/} beside this
 * manifest, which says which files they are and, for people and tools that look before loading, what
 * the adapter is. The runtime trusts only the files: the sidecar, tied to the adapter file by hash,
 * decides the base model and labels, exactly as when the files are loaded from disk.
 *
 * @param format this manifest's layout version ({@link #FORMAT})
 * @param adapterFile the {@code .onnx_adapter} file's name in the adapter's directory
 * @param sidecarFile its sidecar's name in the same directory
 * @param bytes the two files' size together
 * @param lora4jVersion the lora4j that packaged it
 * @param groupId the Maven coordinates it was packaged under
 */
public record AdapterPackage(
    int format,
    String name,
    String adapterFile,
    String sidecarFile,
    String baseId,
    String baseOnnxSha256,
    List<String> labels,
    Map<String, Integer> ranks,
    long bytes,
    String lora4jVersion,
    Provenance provenance,
    String groupId,
    String artifactId,
    String version) {

  public static final int FORMAT = 1;
  /** Where packaged adapters live in a jar (and so on the class path), one directory per name. */
  public static final String ROOT = "META-INF/lora4j/adapters/";
  public static final String MANIFEST = "lora4j-adapter.json";

  /** The class-path directory of the adapter {@code name}, ending in '/'. */
  public static String directory(String name) {
    return ROOT + name + "/";
  }

  public byte[] toJson() {
    try {
      return ExportJson.MAPPER.writeValueAsBytes(this);
    } catch (JsonProcessingException e) {
      throw new Lora4jException("could not write the manifest of adapter '" + name + "': " + e.getMessage(), e);
    }
  }

  /**
   * Reads a manifest and checks what loading relies on: the format, the name it was packaged under
   * ({@code expectedName}) and two file names that stay inside its directory.
   *
   * @param where names the manifest in messages (its class-path URL)
   */
  public static AdapterPackage parse(byte[] json, String where, String expectedName) {
    JsonNode tree;
    AdapterPackage p;
    try {
      tree = ExportJson.MAPPER.readTree(json);
      if (tree == null || !tree.isObject()) {
        throw new Lora4jException(where + ": not an adapter package manifest (expected a JSON object)");
      }
      p = ExportJson.MAPPER.treeToValue(tree, AdapterPackage.class);
    } catch (IOException e) {
      throw new Lora4jException(where + ": not a valid adapter package manifest ("
          + e.getMessage().lines().findFirst().orElse("") + ")", e);
    }
    for (String field : List.of("format", "name", "adapter_file", "sidecar_file")) {
      if (!tree.hasNonNull(field)) {
        throw new Lora4jException(where + ": field '" + field + "' is missing");
      }
    }
    if (p.format() != FORMAT) {
      throw new Lora4jException(where + ": package format " + p.format() + " is not one this lora4j reads (" + FORMAT
          + "); use the lora4j version that packaged it, or package the adapter again");
    }
    if (!p.name().equals(expectedName)) {
      throw new Lora4jException(where + ": the manifest names adapter '" + p.name() + "', but it lies in the directory"
          + " of '" + expectedName + "'");
    }
    requireFileName(p.adapterFile(), "adapter_file", where, "adapter");
    requireFileName(p.sidecarFile(), "sidecar_file", where, "adapter");
    return p;
  }

  /** A plain file name: a manifest must not point at another adapter's files, or out of its jar directory. */
  static void requireFileName(String file, String field, String where, String kind) {
    if (file.isEmpty() || file.contains("/") || file.contains("\\") || file.equals(".") || file.equals("..")
        || !ExportLayout.isValidAdapterName(file)) {
      throw new Lora4jException(where + ": field '" + field + "' is '" + file + "', not a file name in the " + kind + "'s"
          + " directory");
    }
  }
}
