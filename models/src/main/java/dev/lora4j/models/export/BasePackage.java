package dev.lora4j.models.export;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.models.Lora4jException;
import java.io.IOException;
import java.util.List;

/**
 * The manifest of an export's serving files packaged as a jar ({@code lora4j package --base}): the
 * jar holds {@code export.json} and the files a runtime opens (tokenizer, multi-adapter graph and,
 * where exported, the mixed-batch graph, int8 variants and external data) under
 * {@code META-INF/lora4j/bases/<name>/} beside this manifest. The per-adapter files are not in it:
 * adapters ship as their own artifacts ({@link AdapterPackage}).
 *
 * <p>The runtime trusts only {@code export.json}, which records every file's SHA-256: it extracts
 * the files into a cache directory named by {@code export.json}'s own hash ({@link #exportSha256}
 * tells people which export it is; the runtime hashes the resource itself) and opens them there.
 *
 * @param format this manifest's layout version ({@link #FORMAT})
 * @param files the serving files beside {@code export.json}, by their names in the export
 * @param bytes all packaged files' size together, {@code export.json} included
 */
public record BasePackage(
    int format,
    String name,
    String exportSha256,
    List<String> files,
    String baseId,
    String baseOnnxSha256,
    long bytes,
    String lora4jVersion,
    String groupId,
    String artifactId,
    String version) {

  public static final int FORMAT = 1;
  /** Where packaged bases live in a jar (and so on the class path), one directory per name. */
  public static final String ROOT = "META-INF/lora4j/bases/";
  public static final String MANIFEST = "lora4j-base.json";

  public BasePackage {
    files = files == null ? null : List.copyOf(files);
  }

  /** The class-path directory of the base {@code name}, ending in '/'. */
  public static String directory(String name) {
    return ROOT + name + "/";
  }

  public byte[] toJson() {
    try {
      return ExportJson.MAPPER.writeValueAsBytes(this);
    } catch (JsonProcessingException e) {
      throw new Lora4jException("could not write the manifest of base '" + name + "': " + e.getMessage(), e);
    }
  }

  /**
   * Reads a manifest and checks what extraction relies on: the format, the name it was packaged
   * under ({@code expectedName}), and file names that stay inside its directory.
   *
   * @param where names the manifest in messages (its class-path URL)
   */
  public static BasePackage parse(byte[] json, String where, String expectedName) {
    JsonNode tree;
    BasePackage p;
    try {
      tree = ExportJson.MAPPER.readTree(json);
      if (tree == null || !tree.isObject()) {
        throw new Lora4jException(where + ": not a base package manifest (expected a JSON object)");
      }
      p = ExportJson.MAPPER.treeToValue(tree, BasePackage.class);
    } catch (IOException e) {
      throw new Lora4jException(where + ": not a valid base package manifest ("
          + e.getMessage().lines().findFirst().orElse("") + ")", e);
    }
    for (String field : List.of("format", "name", "files")) {
      if (!tree.hasNonNull(field)) {
        throw new Lora4jException(where + ": field '" + field + "' is missing");
      }
    }
    if (p.format() != FORMAT) {
      throw new Lora4jException(where + ": package format " + p.format() + " is not one this lora4j reads (" + FORMAT
          + "); use the lora4j version that packaged it, or package the base again");
    }
    if (!p.name().equals(expectedName)) {
      throw new Lora4jException(where + ": the manifest names base '" + p.name() + "', but it lies in the directory"
          + " of '" + expectedName + "'");
    }
    for (String f : p.files()) {
      if (f == null || f.equals(ExportLayout.MANIFEST) || f.equals(MANIFEST)) {
        throw new Lora4jException(where + ": field 'files' lists '" + f + "', not a serving file of the export");
      }
      AdapterPackage.requireFileName(f, "files", where, "base");
    }
    return p;
  }
}
