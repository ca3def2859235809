package dev.lora4j.models.export;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.MixedBatchStacks;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code export.json}: what an export directory holds (see {@link ExportLayout}). File entries are
 * names relative to the directory, null when that format was not written.
 *
 * @param formatVersion {@link #FORMAT_VERSION}; a reader refuses newer major versions
 * @param multiGraph {@link ExportLayout#MULTI_GRAPH} or null
 * @param mixedGraph {@link ExportLayout#MIXED_GRAPH} or null
 * @param mixedLayout the modules and hidden size to pack stacks for the mixed graph, or null
 */
public record ExportManifest(
    int formatVersion,
    String tool,
    String created,
    Base base,
    String tokenizer,
    String multiGraph,
    String mixedGraph,
    MixedBatchStacks.Layout mixedLayout,
    List<AdapterEntry> adapters) {

  public static final int FORMAT_VERSION = 1;

  /** The base model the directory was exported against. */
  public record Base(String id, String onnxSha256, int layers, int hidden, long opset) {}

  /**
   * One adapter's files.
   *
   * @param outputs the outputs of its merged / factored graphs
   */
  public record AdapterEntry(
      String name,
      String merged,
      String factored,
      String onnxAdapter,
      String sidecar,
      String peft,
      List<String> outputs) {}

  public ExportManifest {
    adapters = adapters == null ? List.of() : List.copyOf(adapters);
  }

  public void write(Path file) {
    ExportJson.write(file, this);
  }

  /**
   * Reads and checks {@code dir/export.json}: a supported version, a base model, and file entries
   * that name files inside {@code dir} (see {@link ExportPaths}), so a runtime that resolves them
   * against {@code dir} never reads outside it or from a device.
   */
  public static ExportManifest read(Path dir) {
    Path file = dir.resolve(ExportLayout.MANIFEST);
    ExportManifest m = ExportJson.read(file, ExportManifest.class);
    if (m.formatVersion() < 1 || m.formatVersion() > FORMAT_VERSION) {
      throw new Lora4jException(file + ": export format version " + m.formatVersion()
          + " is not supported by this lora4j (reads version " + FORMAT_VERSION + ")");
    }
    if (m.base() == null || m.base().id() == null || m.base().onnxSha256() == null) {
      throw new Lora4jException(file + ": base (with id and onnx_sha256) is missing");
    }
    ExportPaths paths = new ExportPaths(dir, file);
    paths.check("tokenizer", m.tokenizer(), false);
    paths.check("multi_graph", m.multiGraph(), false);
    paths.check("mixed_graph", m.mixedGraph(), false);
    for (AdapterEntry a : m.adapters()) {
      if (a == null || a.name() == null || !ExportLayout.isValidAdapterName(a.name())) {
        throw new Lora4jException(file + ": adapters lists " + (a == null || a.name() == null
            ? "an entry without a name" : "an entry named '" + a.name() + "', not a valid adapter name"));
      }
      String at = "adapters." + a.name() + ".";
      paths.check(at + "merged", a.merged(), false);
      paths.check(at + "factored", a.factored(), false);
      paths.check(at + "onnx_adapter", a.onnxAdapter(), false);
      paths.check(at + "sidecar", a.sidecar(), false);
      paths.check(at + "peft", a.peft(), true);
    }
    return m;
  }
}
