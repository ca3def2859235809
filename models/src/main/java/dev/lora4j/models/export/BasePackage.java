package dev.lora4j.models.export;

import dev.lora4j.models.Lora4jException;
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
    return PackageManifests.toJson(this, "base", name);
  }

  /**
   * Reads a manifest and checks what extraction relies on: the format, the name it was packaged
   * under ({@code expectedName}), and file names that stay inside its directory.
   *
   * @param where names the manifest in messages (its class-path URL)
   */
  public static BasePackage parse(byte[] json, String where, String expectedName) {
    BasePackage p = PackageManifests.parse(json, where, "base", BasePackage.class, List.of("format", "name", "files"),
        FORMAT, expectedName);
    for (String f : p.files()) {
      if (f == null || f.equals(ExportLayout.MANIFEST) || f.equals(MANIFEST)) {
        throw new Lora4jException(where + ": field 'files' lists '" + f + "', not a serving file of the export");
      }
      PackageManifests.requireFileName(f, "files", where, "base");
    }
    return p;
  }
}
