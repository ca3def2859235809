package dev.lora4j.models.export;

import com.fasterxml.jackson.annotation.JsonAlias;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.MixedBatchStacks;
import dev.lora4j.models.io.AtomicFiles;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code export.json}: what an export directory holds (see {@link ExportLayout}). File entries are
 * names relative to the directory, null when that format was not written.
 *
 * @param formatVersion {@link #FORMAT_VERSION}; a reader refuses newer major versions
 * @param multiGraph {@link ExportLayout#MULTI_GRAPH} or null
 * @param mixedGraph {@link ExportLayout#MIXED_GRAPH} or null
 * @param adapterLayout the modules (with their shapes) and the hidden size that the multi-adapter and
 *     mixed-batch graphs take adapters for; null when neither graph was written. The runtime checks
 *     adapters and packs mixed batches by it, so it never parses a graph itself. Exports before the
 *     field wrote it as {@code mixed_layout}, and only with the mixed graph
 * @param sha256 SHA-256 (lower-case hex) of every file the export wrote, by name relative to the
 *     directory ({@code export.json} itself aside); the runtime checks the graphs it loads against it
 * @param int8Graphs the int8-base variant of each graph ({@code export --quantize int8}), by the
 *     float graph's name: {@code base.multi.onnx -> base.multi.int8.onnx}; empty when none was written
 * @param adapterModules how {@link #adapterLayout}'s modules were chosen ({@code export --adapter-modules}):
 *     {@code used} (the exported adapters' modules), {@code all}, or the list given; null in exports
 *     before the field, whose graphs have a branch on every adaptable module
 */
public record ExportManifest(
    int formatVersion,
    String tool,
    String created,
    Base base,
    String tokenizer,
    String multiGraph,
    String mixedGraph,
    @JsonAlias("mixed_layout") MixedBatchStacks.Layout adapterLayout,
    List<AdapterEntry> adapters,
    java.util.Map<String, String> sha256,
    java.util.Map<String, String> int8Graphs,
    String adapterModules) {

  public static final int FORMAT_VERSION = 1;
  /** {@code adapter_modules} of graphs with a branch on every adaptable module ({@code --adapter-modules all}). */
  public static final String ALL_MODULES = "all";

  /**
   * The base model the directory was exported against.
   *
   * @param maxPositions how many positions the base has embeddings for, so the longest input it
   *     takes; 0 in exports before the field
   */
  public record Base(String id, String onnxSha256, int layers, int hidden, long opset, int maxPositions) {

    /**
     * How many tokens a text may keep when {@code asked} were wanted: no more than the base has
     * positions for, past which ONNX Runtime fails every longer text ("input index out of range").
     * Exports before {@code max_positions} do not say; {@code asked} stands.
     */
    public int tokensFor(int asked) {
      return maxPositions > 0 ? Math.min(asked, maxPositions) : asked;
    }
  }

  /**
   * One adapter's files.
   *
   * @param outputs the outputs of its merged / factored graphs
   * @param budget the rank / size budget the export applied ({@code --rank-budget}, {@code --max-size}):
   *     what was asked and the ranks and bytes that resulted; null when none was given
   * @param adapterDtype how its {@code .onnx_adapter} and PEFT factors are stored ({@code fp32},
   *     {@code fp16}, {@code int8}); absent in exports before the field, which are fp32
   */
  public record AdapterEntry(
      String name,
      String merged,
      String factored,
      String onnxAdapter,
      String sidecar,
      String peft,
      List<String> outputs,
      java.util.Map<String, Object> budget,
      String adapterDtype) {

    /** An entry of float32 files (what exports before {@code adapter_dtype} hold). */
    public AdapterEntry(String name, String merged, String factored, String onnxAdapter, String sidecar, String peft,
        List<String> outputs) {
      this(name, merged, factored, onnxAdapter, sidecar, peft, outputs, null, null);
    }
  }

  public ExportManifest {
    adapters = adapters == null ? List.of() : List.copyOf(adapters);
    sha256 = sha256 == null ? java.util.Map.of() : java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(sha256));
    int8Graphs = int8Graphs == null ? java.util.Map.of()
        : java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(int8Graphs));
  }

  /** A manifest of graphs with a branch on every adaptable module (exports before {@code adapter_modules}). */
  public ExportManifest(int formatVersion, String tool, String created, Base base, String tokenizer,
      String multiGraph, String mixedGraph, MixedBatchStacks.Layout adapterLayout, List<AdapterEntry> adapters,
      java.util.Map<String, String> sha256, java.util.Map<String, String> int8Graphs) {
    this(formatVersion, tool, created, base, tokenizer, multiGraph, mixedGraph, adapterLayout, adapters, sha256,
        int8Graphs, null);
  }

  /**
   * Whether the graphs' branches cover only some of the base model's modules (the layout was chosen
   * by {@code --adapter-modules} other than {@code all}): an adapter on another module of the same
   * base model then needs another export, not a different base.
   */
  public boolean branchesOnSomeModules() {
    return adapterModules != null && !adapterModules.equals(ALL_MODULES);
  }

  /** A manifest without int8 graphs. */
  public ExportManifest(int formatVersion, String tool, String created, Base base, String tokenizer,
      String multiGraph, String mixedGraph, MixedBatchStacks.Layout adapterLayout, List<AdapterEntry> adapters,
      java.util.Map<String, String> sha256) {
    this(formatVersion, tool, created, base, tokenizer, multiGraph, mixedGraph, adapterLayout, adapters, sha256, null,
        null);
  }

  /**
   * The int8-base variant of {@code graph} (a name this manifest lists), refused clearly when the
   * export has none: the caller asked for the quantized base explicitly, so a silent float32
   * fallback would misreport what is being served.
   */
  public String requireInt8(Path dir, String graph) {
    String q = int8Graphs.get(graph);
    if (q == null) {
      throw new Lora4jException(dir + ": this export has no int8 base for " + graph + " (" + ExportLayout.MANIFEST
          + " lists " + (int8Graphs.isEmpty() ? "none" : String.join(", ", int8Graphs.values()))
          + "); export again with --quantize int8, or run without the int8 option");
    }
    return q;
  }

  /** A manifest without file hashes (what exports before the hashes were added hold). */
  public ExportManifest(int formatVersion, String tool, String created, Base base, String tokenizer,
      String multiGraph, String mixedGraph, MixedBatchStacks.Layout adapterLayout, List<AdapterEntry> adapters) {
    this(formatVersion, tool, created, base, tokenizer, multiGraph, mixedGraph, adapterLayout, adapters, null, null,
        null);
  }

  /**
   * Refuses {@code bytes} read from {@code file} (named {@code name} in the manifest) unless they
   * hash to what the export recorded: a damaged or edited graph (one weight set to NaN is enough)
   * would otherwise load and answer NaN or wrong labels.
   */
  public void requireRecordedHash(Path file, String name, byte[] bytes) {
    requireRecordedHash(file, name, AtomicFiles.sha256(bytes));
  }

  /** As {@link #requireRecordedHash(Path, String, byte[])}, for a hash computed by the caller. */
  public void requireRecordedHash(Path file, String name, String actualSha256) {
    String want = sha256.get(name);
    if (want == null) {
      throw new Lora4jException(file + ": " + ExportLayout.MANIFEST + " records no SHA-256 for " + name
          + ", so it cannot be verified; export again with this lora4j");
    }
    if (!want.equalsIgnoreCase(actualSha256)) {
      throw new Lora4jException(file + ": its SHA-256 " + actualSha256.substring(0, 12) + "… differs from the "
          + want.substring(0, Math.min(12, want.length())) + "… that " + ExportLayout.MANIFEST
          + " records: the file was damaged or changed after export; export again");
    }
  }

  /**
   * {@link #adapterLayout}, refused clearly where this export does not record it: exports written
   * before the field, with a multi graph but no mixed graph, record none.
   */
  public MixedBatchStacks.Layout requireAdapterLayout(Path dir) {
    if (adapterLayout == null) {
      throw new Lora4jException(dir.resolve(ExportLayout.MANIFEST) + ": records no adapter_layout (the modules "
          + "and shapes the multi-adapter graph takes adapters for; exports "
          + "written before the field record it only with the mixed graph, as mixed_layout); export again with this "
          + "lora4j");
    }
    return adapterLayout;
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
    requireSaneLayout(file, m.adapterLayout(), m.base().hidden());
    for (java.util.Map.Entry<String, String> e : m.int8Graphs().entrySet()) {
      paths.check("int8_graphs." + e.getKey(), e.getValue(), false);
    }
    return m;
  }

  /** The layout sizes the stacks the runtime allocates: refuse what no export writes. */
  private static void requireSaneLayout(Path file, MixedBatchStacks.Layout layout, int baseHidden) {
    if (layout == null) {
      return;
    }
    if (baseHidden > 0 && layout.hidden() != baseHidden) {
      throw new Lora4jException(file + ": adapter_layout gives hidden size " + layout.hidden() + " but base gives "
          + baseHidden + "; export again");
    }
    if (layout.hidden() < 1 || layout.modules().isEmpty()) {
      throw new Lora4jException(file + ": adapter_layout needs a hidden size of at least 1 and at least one module,"
          + " found hidden " + layout.hidden() + " and " + layout.modules().size() + " modules");
    }
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (MixedBatchStacks.ModuleShape s : layout.modules()) {
      if (s == null || s.name() == null || s.in() < 1 || s.out() < 1 || !seen.add(s.name())) {
        throw new Lora4jException(file + ": adapter_layout lists " + (s == null || s.name() == null
            ? "a module without a name" : "module " + s.name() + " (in " + s.in() + ", out " + s.out() + ")")
            + "; each module needs a unique name and sizes of at least 1");
      }
    }
  }
}
