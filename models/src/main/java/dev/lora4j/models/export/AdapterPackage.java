package dev.lora4j.models.export;

import dev.lora4j.models.adapter.Provenance;
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
    return PackageManifests.toJson(this, "adapter", name);
  }

  /**
   * Reads a manifest and checks what loading relies on: the format, the name it was packaged under
   * ({@code expectedName}) and two file names that stay inside its directory.
   *
   * @param where names the manifest in messages (its class-path URL)
   */
  public static AdapterPackage parse(byte[] json, String where, String expectedName) {
    AdapterPackage p = PackageManifests.parse(json, where, "adapter", AdapterPackage.class,
        List.of("format", "name", "adapter_file", "sidecar_file"), FORMAT, expectedName);
    PackageManifests.requireFileName(p.adapterFile(), "adapter_file", where, "adapter");
    PackageManifests.requireFileName(p.sidecarFile(), "sidecar_file", where, "adapter");
    return p;
  }
}
