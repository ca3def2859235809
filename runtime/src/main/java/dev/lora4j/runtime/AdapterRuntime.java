package dev.lora4j.runtime;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.MixedBatchStacks;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.export.ExportManifest;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.text.Encoding;
import dev.lora4j.models.text.Tokenizer;
import dev.lora4j.runtime.batch.MicroBatcher;
import dev.lora4j.runtime.registry.AdapterRegistry;
import dev.lora4j.runtime.registry.Lease;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * One base model, loaded once, serving many swappable adapters chosen per request. Thread-safe.
 *
 * <pre>{@code
 * try (AdapterRuntime rt = AdapterRuntime.open(Path.of("export/sst2"))) {
 *   rt.load("sentiment", Path.of("export/sst2/sst2-sora.onnx_adapter"));
 *   Prediction p = rt.predict("sentiment", "a gripping, funny film");
 *   p.label();          // "1"
 * }
 * }</pre>
 *
 * <p>The directory is what {@code lora4j export --format multi[,mixed]} writes. A request activates
 * its adapter on the one multi-adapter session ({@code RunOptions.addActiveLoraAdapter}), so
 * switching adapters costs no reload. When the export has the mixed-batch graph, concurrent single
 * requests ({@link #submit}) are micro-batched into one run even when they name different adapters.
 */
public final class AdapterRuntime implements AutoCloseable {
  private final OrtEnvironment env = ExecutionProviders.environment();
  private final RuntimeOptions options;
  private final ExportManifest manifest;
  private final Tokenizer tokenizer;
  private final OrtSession multi;
  private final Set<String> multiInputs;
  private final Device device;
  private final MixedBatchRunner mixed;
  private final AdapterLoader loader;
  private final AdapterRegistry<ResidentAdapter> registry;
  private final MicroBatcher<MixedRequest, Prediction> batcher;

  private AdapterRuntime(Path dir, RuntimeOptions options) throws OrtException {
    this.options = options;
    this.manifest = ExportManifest.read(dir);
    if (manifest.multiGraph() == null) {
      throw new Lora4jException(dir + ": this export has no multi-adapter base graph; export with --format multi");
    }
    Path tok = dir.resolve(manifest.tokenizer() == null ? ExportLayout.TOKENIZER : manifest.tokenizer());
    if (!Files.isRegularFile(tok)) {
      throw new Lora4jException(dir + ": the export has no tokenizer.json");
    }
    Path multiFile = dir.resolve(manifest.multiGraph());
    byte[] multiBytes = read(multiFile);
    MixedBatchStacks.Layout layout = GraphLayouts.of(OnnxModel.parse(multiBytes, multiFile.toString()));
    ExecutionProviders.OpenedSession opened =
        ExecutionProviders.open(multiBytes, options.session(), manifest.multiGraph());
    this.multi = opened.session();
    this.device = opened.device();
    this.multiInputs = multi.getInputNames();
    if (manifest.mixedGraph() != null) {
      OrtSession mixedSession = ExecutionProviders.open(read(dir.resolve(manifest.mixedGraph())),
          options.session().withDevice(device), manifest.mixedGraph()).session();
      this.mixed = new MixedBatchRunner(env, mixedSession, layout);
    } else {
      this.mixed = null;
    }
    this.tokenizer = Tokenizer.open(tok, options.maxTokens());
    this.loader = new AdapterLoader(dir, manifest, layout);
    this.registry = new AdapterRegistry<>(loader, options.adapterBudgetBytes());
    this.batcher = new MicroBatcher<>(this::runSingles, options.batchRows(), options.batchWindow(),
        options.queueCapacity());
  }

  /** Opens an export directory with default options (device auto). */
  public static AdapterRuntime open(Path exportDir) {
    return open(exportDir, RuntimeOptions.defaults());
  }

  public static AdapterRuntime open(Path exportDir, RuntimeOptions options) {
    try {
      return new AdapterRuntime(exportDir, options);
    } catch (OrtException e) {
      throw new Lora4jException(exportDir + ": ONNX Runtime failed: " + e.getMessage(), e);
    }
  }

  private static byte[] read(Path file) {
    return dev.lora4j.models.io.InputFiles.readAll(file, dev.lora4j.models.io.InputFiles.ARRAY_LIMIT, "ONNX graph");
  }

  /** The device inference really runs on (CPU after a fallback from auto). */
  public Device device() {
    return device;
  }

  /** The base model this runtime serves. */
  public ExportManifest.Base base() {
    return manifest.base();
  }

  /**
   * Loads (or replaces) an adapter under {@code name}. Requests already running keep the version
   * they started with.
   */
  public AdapterInfo load(String name, Path adapterFile) {
    if (!ExportLayout.isValidAdapterName(name)) {
      throw new Lora4jException("'" + name + "' is not a valid adapter name (letters, digits, . _ -)");
    }
    registry.load(name, adapterFile);
    return info(name);
  }

  /** Loads the adapter of that name from the export directory. */
  public AdapterInfo load(String name) {
    return load(name, loader.defaultSource(name));
  }

  /** Unloads; returns false if it was not loaded. In-flight requests finish on it. */
  public boolean unload(String name) {
    return registry.unload(name);
  }

  /** Every loaded adapter, resident or evicted, by name. */
  public List<AdapterInfo> adapters() {
    List<AdapterInfo> out = new ArrayList<>();
    for (String n : registry.names()) {
      try {
        out.add(info(n));
      } catch (Lora4jException unloadedMeanwhile) {
        // listed and then unloaded by another thread: leave it out
      }
    }
    return out;
  }

  private AdapterInfo info(String name) {
    try (Lease<ResidentAdapter> l = registry.acquire(name)) {
      ResidentAdapter r = l.value();
      Adapter a = r.adapter();
      return new AdapterInfo(name, r.source(), registry.isResident(name), a.ranks(), a.parameterCount(), r.bytes(),
          a.head().labels(), a.head().pooling().id());
    }
  }

  /** Classifies one text with {@code adapter}. */
  public Prediction predict(String adapter, String text) {
    return predict(adapter, List.of(text)).get(0);
  }

  /** Classifies a batch of texts with one adapter, in one run. */
  public List<Prediction> predict(String adapter, List<String> texts) {
    checkTexts(texts);
    try (Lease<ResidentAdapter> lease = registry.acquire(adapter)) {
      requireClassifier(adapter, lease.value());
      return predictWith(adapter, lease.value(), texts);
    }
  }

  private List<Prediction> predictWith(String name, ResidentAdapter r, List<String> texts) {
    Encoding enc = tokenizer.encode(texts);
    float[][][] out = runMulti(enc, r, AdapterTensorNames.LOGITS, AdapterTensorNames.PROBABILITIES);
    List<Prediction> ps = new ArrayList<>();
    for (int i = 0; i < texts.size(); i++) {
      ps.add(new Prediction(name, r.adapter().head().labels(), out[0][i], out[1][i]));
    }
    return ps;
  }

  /**
   * Pooled, L2-normalised sentence vectors; {@code adapter} null runs the plain base model (the
   * adapter's pooling otherwise).
   */
  public List<float[]> embed(String adapter, List<String> texts) {
    checkTexts(texts);
    Encoding enc = tokenizer.encode(texts);
    if (adapter == null) {
      return List.of(runMulti(enc, null, AdapterTensorNames.SENTENCE_EMBEDDING)[0]);
    }
    try (Lease<ResidentAdapter> lease = registry.acquire(adapter)) {
      return List.of(runMulti(enc, lease.value(), AdapterTensorNames.SENTENCE_EMBEDDING)[0]);
    }
  }

  /**
   * One batch whose rows name different adapters, computed in one run of the mixed-batch graph
   * (each row answered by its own adapter, whatever their ranks). Fails as a whole if any row names
   * an adapter that is not loaded.
   */
  public List<Prediction> predictMixed(List<MixedRequest> requests) {
    requireMixed();
    checkTexts(requests.stream().map(MixedRequest::text).toList());
    Map<String, Lease<ResidentAdapter>> leases = new LinkedHashMap<>();
    try {
      for (MixedRequest r : requests) {
        if (!leases.containsKey(r.adapter())) {
          Lease<ResidentAdapter> l = registry.acquire(r.adapter());
          leases.put(r.adapter(), l);
          requireClassifier(r.adapter(), l.value());
        }
      }
      return runMixed(requests, leases);
    } finally {
      leases.values().forEach(Lease::close);
    }
  }

  private void requireMixed() {
    if (mixed == null) {
      throw new Lora4jException("this export has no mixed-batch graph; export with --format multi,mixed");
    }
  }

  /** The mixed-batch run itself, on adapters the caller holds leases on. */
  private List<Prediction> runMixed(List<MixedRequest> rows, Map<String, Lease<ResidentAdapter>> leases) {
    List<Adapter> slots = new ArrayList<>();
    Map<String, Integer> slotOf = new LinkedHashMap<>();
    int[] slotOfRow = new int[rows.size()];
    for (int i = 0; i < rows.size(); i++) {
      String name = rows.get(i).adapter();
      Integer slot = slotOf.get(name);
      if (slot == null) {
        slot = slots.size();
        slotOf.put(name, slot);
        slots.add(leases.get(name).value().adapter());
      }
      slotOfRow[i] = slot;
    }
    try {
      Encoding enc = tokenizer.encode(rows.stream().map(MixedRequest::text).toList());
      MixedBatchRunner.RowOutputs out = mixed.run(enc, slots, slotOfRow);
      List<Prediction> ps = new ArrayList<>();
      for (int i = 0; i < rows.size(); i++) {
        String name = rows.get(i).adapter();
        ps.add(new Prediction(name, leases.get(name).value().adapter().head().labels(), out.logits()[i],
            out.probabilities()[i]));
      }
      return ps;
    } catch (OrtException e) {
      throw new Lora4jException("mixed-batch run failed: " + e.getMessage(), e);
    }
  }

  /**
   * Queues one request for the micro-batcher: concurrent requests, for any adapters, are answered
   * together in one run (the mixed-batch graph when exported, else one run per adapter). A request
   * whose adapter is not loaded fails alone.
   */
  public CompletableFuture<Prediction> submit(String adapter, String text) {
    try {
      checkTexts(List.of(text));
    } catch (Lora4jException e) {
      return CompletableFuture.failedFuture(e);
    }
    return batcher.submit(new MixedRequest(adapter, text));
  }

  private List<MicroBatcher.Outcome<Prediction>> runSingles(List<MixedRequest> batch) {
    Map<String, Lease<ResidentAdapter>> leases = new LinkedHashMap<>();
    Map<String, RuntimeException> refused = new LinkedHashMap<>();
    try {
      for (MixedRequest r : batch) {
        String name = r.adapter();
        if (leases.containsKey(name) || refused.containsKey(name)) {
          continue;
        }
        try {
          Lease<ResidentAdapter> l = registry.acquire(name);
          leases.put(name, l);
          requireClassifier(name, l.value());
        } catch (Lora4jException e) {
          refused.put(name, e);
        }
      }
      List<MixedRequest> runnable = batch.stream().filter(r -> !refused.containsKey(r.adapter())).toList();
      Map<MixedRequest, Prediction> answers = new java.util.IdentityHashMap<>();
      if (!runnable.isEmpty()) {
        if (mixed != null) {
          List<Prediction> ps = runMixed(runnable, leases);
          for (int i = 0; i < runnable.size(); i++) {
            answers.put(runnable.get(i), ps.get(i));
          }
        } else {
          for (String name : leases.keySet()) {
            if (refused.containsKey(name)) {
              continue;
            }
            List<MixedRequest> rows = runnable.stream().filter(r -> r.adapter().equals(name)).toList();
            List<Prediction> ps = predictWith(name, leases.get(name).value(),
                rows.stream().map(MixedRequest::text).toList());
            for (int i = 0; i < rows.size(); i++) {
              answers.put(rows.get(i), ps.get(i));
            }
          }
        }
      }
      return batch.stream().map(r -> refused.containsKey(r.adapter())
          ? MicroBatcher.Outcome.<Prediction>failed(refused.get(r.adapter()))
          : MicroBatcher.Outcome.ok(answers.get(r))).toList();
    } finally {
      leases.values().forEach(Lease::close);
    }
  }

  /** Runs the multi-adapter graph with {@code adapter} active (none: plain base); one array per output. */
  private float[][][] runMulti(Encoding enc, ResidentAdapter adapter, String... outputs) {
    try (EncoderInputs in = new EncoderInputs(env, enc, multiInputs);
        OrtSession.RunOptions ro = new OrtSession.RunOptions()) {
      if (adapter != null) {
        ro.addActiveLoraAdapter(adapter.ort());
      }
      try (OrtSession.Result r = multi.run(in.map(), Set.of(outputs), ro)) {
        float[][][] res = new float[outputs.length][][];
        for (int i = 0; i < outputs.length; i++) {
          res[i] = (float[][]) r.get(outputs[i]).orElseThrow().getValue();
        }
        return res;
      }
    } catch (OrtException e) {
      throw new Lora4jException("inference failed: " + e.getMessage(), e);
    }
  }

  private static void requireClassifier(String name, ResidentAdapter r) {
    if (!r.isClassifier()) {
      throw new Lora4jException("adapter '" + name + "' is an embedding adapter: use embed, not predict");
    }
  }

  private void checkTexts(List<String> texts) {
    if (texts.isEmpty()) {
      throw new Lora4jException("no texts given");
    }
    if (texts.size() > options.maxBatch()) {
      throw new Lora4jException("batch of " + texts.size() + " texts is over the limit of " + options.maxBatch());
    }
    for (int i = 0; i < texts.size(); i++) {
      String t = texts.get(i);
      if (t == null || t.isBlank()) {
        throw new Lora4jException("text " + i + " is empty");
      }
      if (t.length() > options.maxTextChars()) {
        throw new Lora4jException("text " + i + " has " + t.length() + " characters, over the limit of "
            + options.maxTextChars());
      }
    }
  }

  /** Stops the micro-batcher, unloads every adapter and frees the sessions; call when requests are done. */
  @Override
  public void close() {
    batcher.close();
    registry.clear();
    if (mixed != null) {
      mixed.close();
    }
    try {
      multi.close();
    } catch (OrtException e) {
      throw new Lora4jException("closing the session failed: " + e.getMessage(), e);
    }
    tokenizer.close();
  }
}
