package dev.lora4j.exporter;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterDtype;
import dev.lora4j.models.adapter.AdapterFit;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.MixedBatchStacks;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.export.AdapterFiles;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.export.ExportManifest;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.io.OutputKind;
import dev.lora4j.models.io.OutputTargets;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.proto.Onnx.StringStringEntryProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Writes an export directory (layout: {@link ExportLayout}, also {@code docs/EXPORT.md}): checks
 * every adapter against the base model first, compacts them, then writes each requested format
 * into a fresh directory that replaces {@code out} only when complete. A refused adapter or a
 * failed write leaves nothing behind, not even a half directory.
 */
public final class ExportBundle {
  private final ExportRequest request;
  private final Consumer<String> progress;
  private final Map<String, Duration> stages = new LinkedHashMap<>();
  private final Map<String, Long> files = new LinkedHashMap<>();
  private final Map<String, Map<String, Object>> budgets = new LinkedHashMap<>();
  /** int8 only: the float32 compact adapters the files are quantised from, by name. */
  private final Map<String, Adapter> exact = new LinkedHashMap<>();
  /** Float graph name to its int8-base variant, for export.json. */
  private final Map<String, String> int8Graphs = new LinkedHashMap<>();
  /** int8 only: the calibration's per-channel activation ranges (none without calibration texts). */
  private ActivationRanges ranges = ActivationRanges.none();
  private long stageStart;

  private ExportBundle(ExportRequest request, Consumer<String> progress) {
    this.request = request;
    this.progress = progress;
  }

  /** Runs the export; {@code progress} gets one line per finished stage. */
  public static ExportResult export(ExportRequest request, Consumer<String> progress) {
    return new ExportBundle(request, progress).run();
  }

  private ExportResult run() {
    long t0 = System.nanoTime();
    stageStart = t0;
    if (request.adapters().isEmpty()) {
      throw new Lora4jException("nothing to export: no adapter given");
    }
    if (request.adapterDtype() == AdapterDtype.INT8 && request.formats().contains(ExportFormat.PEFT)) {
      throw new Lora4jException("adapter dtype int8 cannot be written in the peft format (PEFT loads float LoRA "
          + "weights only); use fp16, or leave peft out of the formats");
    }
    if (request.int8Base() && request.formats().stream().allMatch(f -> f == ExportFormat.PEFT)) {
      throw new Lora4jException("--quantize int8 quantizes ONNX graphs, and no graph format was asked for "
          + "(add merged, factored, multi or mixed to --format)");
    }
    BaseModelFiles baseFiles = request.base();
    if (!Files.isRegularFile(baseFiles.tokenizer())) {
      throw new Lora4jException(baseFiles.tokenizer() + ": the base model's tokenizer is missing");
    }
    // before the work, not only when the directory is renamed into place minutes later
    OutputKind kind = ExportLayout.outputKind(request.extraFiles().keySet());
    OutputTargets.requireReplaceable(request.out(), kind, request.overwrite());
    OutputTargets.requireApart(request.out(), "the export directory", baseFiles.onnx(), "base model file");
    OutputTargets.requireApart(request.out(), "the export directory", baseFiles.tokenizer(), "base tokenizer");
    EncoderDescription base = EncoderDescription.of(OnnxModel.read(baseFiles.onnx()));
    String sha = baseFiles.onnxSha256();
    AdapterFit.Base fit = fitOf(base, baseFiles.id(), sha);
    long baseBytes = size(baseFiles.onnx());
    stage("base", String.format(Locale.ROOT, "read %s: %d layers, hidden %d, %d adaptable modules, %s",
        baseFiles.id(), base.spec().layers(), base.spec().hidden(), base.modules().size(), mb(baseBytes)));
    if (!request.int8Calibration().isEmpty()) {
      ranges = ActivationRanges.measure(base.model(), baseFiles.tokenizer(), request.int8Calibration());
      stage("int8 calibration", String.format(Locale.ROOT, "%d texts, ranges of %d activations",
          ranges.texts(), ranges.activations()));
    }

    Set<String> names = new HashSet<>();
    for (Adapter a : request.adapters()) {
      if (!ExportLayout.isValidAdapterName(a.name())) {
        throw new Lora4jException("adapter name '" + a.name() + "' cannot be a file name; use letters, digits, "
            + "'.', '-' and '_' (rename it with --name)");
      }
      if (!names.add(a.name())) {
        throw new Lora4jException("two adapters are named '" + a.name() + "'; adapter names must be unique");
      }
      AdapterFit.require(a, "adapter '" + a.name() + "'", fit);
      requireServable(a);
      // the budget's SVD and the fp16 / int8 rounding re-factor B·A and would drop the magnitudes
      if (request.budget() != null) {
        a.requireNoDora("--rank-budget / --max-size");
      }
      if (request.adapterDtype() != AdapterDtype.FP32) {
        a.requireNoDora("--adapter-dtype " + request.adapterDtype().id());
      }
    }
    List<Adapter> compact = new ArrayList<>();
    exact.clear();
    List<ExportResult.AdapterReport> reports = new ArrayList<>();
    for (Adapter a : request.adapters()) {
      Adapter c = a.compact();
      stage("compact " + a.name(), String.format(Locale.ROOT, "%d modules, ranks %s -> %s, %,d -> %,d values",
          a.modules().size(), rankRange(a), rankRange(c), a.parameterCount(), c.parameterCount()));
      if (request.budget() != null) {
        RankBudget.Result budgeted = request.budget().apply(c, request.adapterDtype());
        c = budgeted.adapter();
        budgets.put(a.name(), budgeted.applied().asMap());
        stage("budget " + a.name(), String.format(Locale.ROOT, "%d -> %d ranks in %d modules (ranks %s), "
            + ".onnx_adapter %s", budgeted.applied().ranksBefore(), budgeted.applied().ranksKept(),
            budgeted.applied().modulesKept(), rankRange(c), kb(budgeted.applied().onnxAdapterBytes())));
      }
      // With fp16 / int8 every format is built from the values the adapter file holds, so the merged
      // and factored graphs answer as the runtime serving that file does. Writing these values again
      // as fp16 is exact (rounding is idempotent); int8 files are quantised from them, which gives
      // back the same q and scales only approximately, so they are quantised from the float32 values.
      Adapter served = request.adapterDtype().served(c, "adapter '" + a.name() + "'");
      if (request.adapterDtype() == AdapterDtype.INT8) {
        exact.put(a.name(), c);
      }
      compact.add(served);
      reports.add(new ExportResult.AdapterReport(a.name(), a.ranks(), served.ranks(), a.parameterCount(),
          served.parameterCount()));
    }

    List<LinearModule> branches = null;
    if (request.formats().contains(ExportFormat.MULTI) || request.formats().contains(ExportFormat.MIXED)) {
      // from the adapters as written (compacted, budgeted): a module pruned to rank 0 needs no branch
      branches = BranchModules.resolve(base, request.adapterModules(), compact);
      stage("branches", String.format(Locale.ROOT, "multi / mixed graphs: low-rank branches on %d of %d modules "
          + "(--adapter-modules %s)", branches.size(), base.modules().size(), BranchModules.recorded(request.adapterModules())));
    }
    List<LinearModule> branchModules = branches;
    try {
      AtomicFiles.writeDirectory(request.out(), kind, request.overwrite(),
          dir -> write(dir, base, sha, compact, branchModules));
    } catch (Lora4jException e) {
      // the cause names a file in the hidden temporary directory; say what it means for the user
      throw new Lora4jException("export to " + request.out() + " failed, nothing was changed there: "
          + e.getMessage(), e);
    }
    Duration total = Duration.ofNanos(System.nanoTime() - t0);
    return new ExportResult(request.out(), sha, baseBytes, reports, files, stages, total);
  }

  /**
   * Formats that feed bare factor pairs to a shared graph cannot carry DoRA's renormalisation; the
   * merged and factored graphs and the PEFT directory can. Checked before anything is written.
   */
  private void requireServable(Adapter a) {
    if (request.formats().contains(ExportFormat.MULTI) || request.formats().contains(ExportFormat.MIXED)) {
      a.requireNoDora("the multi-adapter and mixed-batch graphs (--format multi / mixed, and their .onnx_adapter"
          + " files)");
    }
  }

  /** What adapters are checked against: the same check the runtime runs when it loads one. */
  static AdapterFit.Base fitOf(EncoderDescription base, String id, String sha) {
    Map<String, MixedBatchStacks.ModuleShape> modules = new LinkedHashMap<>();
    for (LinearModule m : base.modules()) {
      modules.put(m.name(), new MixedBatchStacks.ModuleShape(m.name(), m.inFeatures(), m.outFeatures()));
    }
    return new AdapterFit.Base(id, sha, base.spec().hidden(), modules);
  }

  private void write(Path dir, EncoderDescription base, String sha, List<Adapter> compact,
      List<LinearModule> branches) throws IOException {
    boolean adapterFiles = request.formats().contains(ExportFormat.MULTI) || request.formats().contains(ExportFormat.MIXED);
    List<ExportManifest.AdapterEntry> entries = new ArrayList<>();
    for (Adapter a : compact) {
      String merged = null;
      String factored = null;
      if (request.formats().contains(ExportFormat.MERGED)) {
        merged = saveGraph(dir, ExportLayout.merged(a.name()), MergedGraphWriter.write(base, a, request.embeddings()),
            "merged", a.name(), sha, base);
      }
      if (request.formats().contains(ExportFormat.FACTORED)) {
        factored = saveGraph(dir, ExportLayout.factored(a.name()),
            FactoredGraphWriter.write(base, a, request.embeddings()), "factored", a.name(), sha, base);
      }
      String onnxAdapter = null;
      String sidecar = null;
      if (adapterFiles) {
        onnxAdapter = ExportLayout.onnxAdapter(a.name());
        sidecar = dir.relativize(AdapterFiles.writeOnnxAdapter(dir.resolve(onnxAdapter), exact.getOrDefault(a.name(), a),
            request.base().id(), sha, request.adapterDtype())).toString();
        record(dir, sidecar);
        stage("adapter " + a.name(), onnxAdapter + " " + kb(record(dir, onnxAdapter)) + " + " + sidecar);
      }
      String peft = null;
      if (request.formats().contains(ExportFormat.PEFT)) {
        peft = ExportLayout.peft(a.name());
        // bound to the base it was checked against, like the sidecar (a PEFT import records none)
        PeftAdapters.write(new Adapter(a.name(), new BaseModelRef(request.base().id(), sha), a.modules(), a.head(),
            a.provenance()), dir.resolve(peft), false, request.adapterDtype());
        stage("peft " + a.name(), peft + "/ " + kb(recordTree(dir, peft)));
      }
      entries.add(new ExportManifest.AdapterEntry(a.name(), merged, factored, onnxAdapter, sidecar, peft,
          merged == null && factored == null ? null : outputs(a), budgets.get(a.name()),
          onnxAdapter == null && peft == null ? null : request.adapterDtype().id()));
    }
    String multi = null;
    if (request.formats().contains(ExportFormat.MULTI)) {
      multi = saveGraph(dir, ExportLayout.MULTI_GRAPH, served(MultiAdapterGraphWriter.write(base, branches), base),
          "multi", null, sha, base);
    }
    String mixed = null;
    if (request.formats().contains(ExportFormat.MIXED)) {
      mixed = saveGraph(dir, ExportLayout.MIXED_GRAPH, served(MixedBatchGraphWriter.write(base, branches), base),
          "mixed", null, sha, base);
    }
    String tokenizer = ExportLayout.TOKENIZER;
    // streamed, not Files.copy, which would carry the cached file's permissions over
    AtomicFiles.write(dir.resolve(tokenizer), o -> Files.copy(request.base().tokenizer(), o));
    record(dir, tokenizer);
    for (Map.Entry<String, byte[]> e : request.extraFiles().entrySet()) {
      AtomicFiles.write(dir.resolve(e.getKey()), e.getValue());
      record(dir, e.getKey());
    }
    ExportManifest manifest = new ExportManifest(ExportManifest.FORMAT_VERSION, Provenance.toolName(),
        Instant.now().toString(),
        new ExportManifest.Base(request.base().id(), sha, base.spec().layers(), base.spec().hidden(), opset(base.model()),
            base.spec().maxPositions()),
        tokenizer, multi, mixed, branches == null ? null : MixedBatchGraphWriter.layout(base, branches), entries,
        hashes(dir),
        int8Graphs, branches == null ? null : BranchModules.recorded(request.adapterModules()));
    manifest.write(dir.resolve(ExportLayout.MANIFEST));
    record(dir, ExportLayout.MANIFEST);
    stage("manifest", ExportLayout.MANIFEST);
  }

  /**
   * SHA-256 of every file written so far (all but export.json), so that a reader can tell the
   * export's own files from damaged or edited ones.
   */
  private static Map<String, String> hashes(Path dir) throws IOException {
    Map<String, String> out = new LinkedHashMap<>();
    try (var walk = Files.walk(dir)) {
      for (Path f : walk.filter(Files::isRegularFile).sorted().toList()) {
        String name = dir.relativize(f).toString().replace(f.getFileSystem().getSeparator(), "/");
        if (!name.equals(ExportLayout.MANIFEST)) {
          out.put(name, AtomicFiles.sha256(f));
        }
      }
    }
    return out;
  }

  private List<String> outputs(Adapter a) {
    boolean classifier = a.head().isClassifier() && !request.embeddings();
    return classifier
        ? List.of(AdapterTensorNames.LAST_HIDDEN_STATE, AdapterTensorNames.LOGITS, AdapterTensorNames.PROBABILITIES)
        : List.of(AdapterTensorNames.LAST_HIDDEN_STATE, AdapterTensorNames.SENTENCE_EMBEDDING);
  }

  /**
   * The multi and mixed graphs take adapters as inputs only lora4j's runtime feeds, so they are ONNX
   * Runtime graphs anyway and get its fused kernels; merged and factored graphs stay standard ONNX
   * for any runtime (their int8 variants are fused like every int8 graph).
   */
  private static OnnxModel served(OnnxModel graph, EncoderDescription base) {
    OrtFusedOps.apply(graph, base);
    return graph;
  }

  private String saveGraph(Path dir, String file, OnnxModel model, String kind, String adapter, String sha,
      EncoderDescription base) {
    stamp(model, "lora4j.export", kind);
    stamp(model, "lora4j.base_sha256", sha);
    if (adapter != null) {
      stamp(model, "lora4j.adapter", adapter);
    }
    model.save(dir.resolve(file));
    stage(kind + (adapter == null ? "" : " " + adapter), file + " " + mb(record(dir, file)));
    if (request.int8Base()) {
      // after the stamps: the int8 file carries the same provenance as its float twin
      OnnxModel q = Int8BaseWriter.quantize(model, base, ranges);
      stamp(q, "lora4j.quantized", "int8-base");
      if (!ranges.isEmpty()) {
        stamp(q, "lora4j.int8_smoothing", String.format(Locale.ROOT, "SmoothQuant alpha %.2f, ranges from %d texts",
            Int8BaseWriter.SMOOTHING_ALPHA, ranges.texts()));
      }
      String qFile = ExportLayout.int8(file);
      q.save(dir.resolve(qFile));
      int8Graphs.put(file, qFile);
      stage(kind + " int8" + (adapter == null ? "" : " " + adapter), qFile + " " + mb(record(dir, qFile)));
    }
    return file;
  }

  private static void stamp(OnnxModel model, String key, String value) {
    model.proto().addMetadataProps(StringStringEntryProto.newBuilder().setKey(key).setValue(value));
  }

  private static long opset(OnnxModel model) {
    return model.proto().getOpsetImportList().stream()
        .filter(o -> o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx"))
        .mapToLong(o -> o.getVersion()).findFirst().orElse(0);
  }

  private long record(Path dir, String file) {
    long n = size(dir.resolve(file));
    files.put(file, n);
    return n;
  }

  /** Records every file under {@code sub}; returns their total size. */
  private long recordTree(Path dir, String sub) throws IOException {
    long total = 0;
    try (var files = Files.walk(dir.resolve(sub))) {
      for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
        total += record(dir, dir.relativize(f).toString());
      }
    }
    return total;
  }

  private void stage(String name, String detail) {
    long now = System.nanoTime();
    Duration took = Duration.ofNanos(now - stageStart);
    stageStart = now;
    stages.put(name, took);
    progress.accept(String.format(Locale.ROOT, "%-22s %s (%.1f s)", name, detail, took.toNanos() / 1e9));
  }

  private static String rankRange(Adapter a) {
    int min = a.modules().values().stream().mapToInt(m -> m.rank()).min().orElse(0);
    int max = a.maxRank();
    return min == max ? Integer.toString(max) : min + ".." + max;
  }

  private static long size(Path p) {
    try {
      return Files.size(p);
    } catch (IOException e) {
      throw new Lora4jException("Could not read " + p + ": " + e.getMessage(), e);
    }
  }

  static String mb(long bytes) {
    return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
  }

  static String kb(long bytes) {
    return String.format(Locale.ROOT, "%.1f kB", bytes / 1e3);
  }
}
