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
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.text.Encoding;
import dev.lora4j.models.text.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

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
  /**
   * The name that means "no adapter": {@link #embed} with it returns the plain base model's
   * embeddings. Reserved, so no adapter can be loaded under it; the base has no classifier, so
   * {@link #predict} refuses it.
   */
  public static final String BASE = "__base__";
  /** How long {@link #close()} waits for running requests before it gives up on freeing natives. */
  private static final long CLOSE_WAIT_MILLIS = 30_000;

  private final OrtEnvironment env = ExecutionProviders.environment();
  private final NativeThreads natives;
  private final RuntimeOptions options;
  private final ExportManifest manifest;
  private final Tokenizer tokenizer;
  private final OrtSession multi;
  private final Set<String> multiInputs;
  private final Device device;
  /** The multi-adapter graph file in use: {@code base.multi.onnx}, or its int8 variant. */
  private final String baseGraph;
  private final MixedBatchRunner mixed;
  private final AdapterLoader loader;
  private final AdapterRegistry<ResidentAdapter> registry;
  private final MicroBatcher<MixedRequest, Prediction> batcher;
  /**
   * What listings show of each adapter ever loaded, kept so that listing never reloads an evicted
   * one; a few hundred bytes per name, overwritten by the next load of that name.
   */
  private final Map<String, AdapterDescription> described = new ConcurrentHashMap<>();
  private final AtomicBoolean closed = new AtomicBoolean();

  /** Runs on a native thread (see {@link NativeThreads}): it reads graphs, opens sessions and the tokenizer. */
  private AdapterRuntime(Path dir, RuntimeOptions options, NativeThreads natives) throws OrtException {
    this.natives = natives;
    this.options = options;
    this.manifest = ExportManifest.read(dir);
    if (manifest.multiGraph() == null) {
      throw new Lora4jException(dir + ": this export has no multi-adapter base graph; export with --format multi");
    }
    String tokName = manifest.tokenizer() == null ? ExportLayout.TOKENIZER : manifest.tokenizer();
    Path tok = dir.resolve(tokName);
    if (!Files.isRegularFile(tok)) {
      throw new Lora4jException(dir + ": the export has no tokenizer.json");
    }
    // Hashed at every open, on the bytes read for the sessions anyway (0.25 s per 86 MB graph), not
    // cached by stamps: a stamp's fingerprint survives an in-place edit (see VerifiedHashes). Both
    // graphs are checked before any session exists, so a refusal leaks nothing.
    manifest.requireRecordedHash(tok, tokName, AtomicFiles.sha256(tok));
    // the int8 base has the float graphs' inputs and outputs; only their file names differ
    String multiName = graphName(dir, manifest.multiGraph());
    String mixedName = manifest.mixedGraph() == null ? null : graphName(dir, manifest.mixedGraph());
    Path multiFile = dir.resolve(multiName);
    byte[] multiBytes = read(multiFile);
    manifest.requireRecordedHash(multiFile, multiName, multiBytes);
    byte[] mixedBytes = null;
    if (mixedName != null) {
      Path mixedFile = dir.resolve(mixedName);
      mixedBytes = read(mixedFile);
      manifest.requireRecordedHash(mixedFile, mixedName, mixedBytes);
    }
    MixedBatchStacks.Layout layout = manifest.requireAdapterLayout(dir);
    ExecutionProviders.OpenedSession opened =
        ExecutionProviders.open(multiBytes, options.session(), multiName);
    this.multi = opened.session();
    this.device = opened.device();
    this.multiInputs = multi.getInputNames();
    this.baseGraph = multiName;
    if (mixedName != null) {
      OrtSession mixedSession = ExecutionProviders.open(mixedBytes,
          options.session().withDevice(device), mixedName).session();
      this.mixed = new MixedBatchRunner(env, mixedSession, layout);
    } else {
      this.mixed = null;
    }
    this.tokenizer = Tokenizer.open(tok, maxTokens(dir, manifest.base(), options.maxTokens()));
    this.loader = new AdapterLoader(dir, manifest, layout);
    this.registry = new AdapterRegistry<>(this::loadAdapter, options.adapterBudgetBytes());
    // the batcher's thread runs each batch in place, with no hop to the native pool
    this.batcher = new MicroBatcher<>(this::runSingles, options.batchRows(), options.batchWindow(),
        options.queueCapacity(), NativeThreads.threadFactory("lora4j-micro-batcher"));
  }

  /** {@link RuntimeOptions#maxTokens()}, or the base's positions where it has fewer (a debug line says so). */
  private static int maxTokens(Path dir, ExportManifest.Base base, int asked) {
    int kept = base.tokensFor(asked);
    if (kept < asked) {
      System.getLogger("lora4j.runtime").log(System.Logger.Level.DEBUG, "lora4j: truncating texts at " + kept
          + " tokens, not " + asked + ": base model '" + base.id() + "' of " + dir + " has " + kept + " positions");
    }
    return kept;
  }

  private String graphName(Path dir, String graph) {
    return options.int8Base() ? manifest.requireInt8(dir, graph) : graph;
  }

  /** The multi-adapter graph this runtime serves: {@code base.multi.onnx} or {@code base.multi.int8.onnx}. */
  public String baseGraph() {
    return baseGraph;
  }

  /**
   * The registry's loader: reads and checks on a native thread (ONNX Runtime copies the adapter
   * there), and charges the budget for every copy the runtime then holds (see {@link #residentBytes}).
   */
  private AdapterRegistry.Loaded<ResidentAdapter> loadAdapter(String name, Object source) {
    AdapterRegistry.Loaded<ResidentAdapter> l = natives.run(() -> loader.load(name, source));
    ResidentAdapter r = l.value();
    long bytes = residentBytes(r);
    AutoCloseable ortCopy = l.resource();
    AutoCloseable release = mixed == null ? ortCopy : () -> {
      mixed.forget(r.adapter()); // the stacks hold copies of its weights and pin its Java copy
      ortCopy.close();
    };
    Adapter a = r.adapter();
    described.put(name, new AdapterDescription(new AdapterInfo(name, r.source(), true, a.ranks(), a.parameterCount(),
        bytes, a.head().labels(), a.head().pooling().id()), false, a.base(), a.provenance()));
    return new AdapterRegistry.Loaded<>(r, release, bytes);
  }

  /**
   * What one resident adapter costs: ONNX Runtime's copy of its {@code .onnx_adapter} parameters,
   * the Java copy of its factors and head (kept to pack mixed batches), and, with a mixed-batch
   * graph, its share of every cached stack set (up to {@link MixedBatchRunner#CACHED_SETS} of them
   * can hold it at once; rank padding to a wider adapter in the same set is not charged to it).
   */
  private long residentBytes(ResidentAdapter r) {
    long javaCopy = Float.BYTES * r.adapter().parameterCount();
    long stacks = mixed == null ? 0 : (long) MixedBatchRunner.CACHED_SETS * javaCopy;
    return r.bytes() + javaCopy + stacks;
  }

  /** Opens an export directory with default options (device auto). */
  public static AdapterRuntime open(Path exportDir) {
    return open(exportDir, RuntimeOptions.defaults());
  }

  public static AdapterRuntime open(Path exportDir, RuntimeOptions options) {
    NativeThreads natives = new NativeThreads("lora4j-native", Math.max(2, Runtime.getRuntime().availableProcessors()));
    try {
      return natives.call(() -> new AdapterRuntime(exportDir, options, natives));
    } catch (OrtException e) {
      natives.close();
      throw new Lora4jException(exportDir + ": ONNX Runtime failed: " + e.getMessage(), e);
    } catch (RuntimeException | Error e) {
      natives.close();
      throw e;
    }
  }

  /**
   * Threads on which requests skip a hop: their stacks are sized for ONNX Runtime (8 MB), so a
   * request made on one runs there in place. On any other thread a request hands its ONNX Runtime
   * work to the runtime's own big-stack threads and waits, since native stack use must not meet a
   * host's small stack (see docs/RELIABILITY.md); that hand-off costs a few microseconds on an idle
   * machine and up to milliseconds on a loaded one. For request pools that call the runtime:
   * {@code Executors.newFixedThreadPool(n, AdapterRuntime.threadFactory("work"))}.
   */
  public static java.util.concurrent.ThreadFactory threadFactory(String namePrefix) {
    return NativeThreads.threadFactory(namePrefix);
  }

  /**
   * Makes every runtime this process opens afterwards run its ONNX Runtime sessions on one shared
   * pool of {@code threads} threads (0: one per core) instead of a pool per session. Call it once at
   * start-up, before anything in the process uses ONNX Runtime (its environment, and so its pools,
   * exist once per process); afterwards, or a second time, it throws {@link Lora4jException}, and
   * {@link SessionSettings}' thread counts must stay 0.
   *
   * <p>Why: an application that alternates sessions (an int8 and a float32 runtime, two bases, or
   * one runtime's single-adapter and mixed-batch graphs) pays for each session's idle pool: measured
   * on two cores, one text a call alternating a float32 and an int8 runtime, 5.2-5.4 and 2.2 ms a
   * call with a pool per session against 3.5 and 1.8-1.9 ms on a shared one (3.0-3.5 and 1.7-1.8 ms
   * in blocks of one runtime, either way). Not the default: a library must not take the process-wide
   * choice from the application hosting it ({@code lora4j serve}, which owns its process, does share).
   */
  public static void shareThreadPool(int threads) {
    NativeThreads.shareThreads(threads);
  }

  /**
   * Opens the base packaged as {@code name} by {@code lora4j package --base} from the class path
   * (the context class loader's, else this library's): a jar added as a plain Maven dependency, so
   * an application names no file at all. See {@link #openFromClasspath(String, RuntimeOptions, ClassLoader)}.
   */
  public static AdapterRuntime openFromClasspath(String name) {
    return openFromClasspath(name, RuntimeOptions.defaults());
  }

  /** As {@link #openFromClasspath(String)}, with {@code options}. */
  public static AdapterRuntime openFromClasspath(String name, RuntimeOptions options) {
    return openFromClasspath(name, options, defaultClassLoader());
  }

  /** Where packaged bases and adapters are looked up by default: the context class loader, else lora4j's. */
  static ClassLoader defaultClassLoader() {
    ClassLoader context = Thread.currentThread().getContextClassLoader();
    return context != null ? context : AdapterRuntime.class.getClassLoader();
  }

  /**
   * Opens the packaged base {@code name} from {@code classLoader}'s class path. Its files are
   * extracted once into the base-model cache ({@code LORA4J_CACHE}, {@code -Dlora4j.cache}, else
   * {@code ~/.cache/lora4j}), under {@code bases/<SHA-256 of its export.json>/}, and opened there as by
   * {@link #open(Path, RuntimeOptions)}, which checks every file against export.json: a changed cache
   * is refused, naming the directory to delete. Refused when no jar or two jars on the class path
   * hold the name.
   */
  public static AdapterRuntime openFromClasspath(String name, RuntimeOptions options, ClassLoader classLoader) {
    return openFromClasspath(name, options, classLoader, dev.lora4j.models.base.BaseModelCatalog.defaultCacheRoot());
  }

  static AdapterRuntime openFromClasspath(String name, RuntimeOptions options, ClassLoader classLoader,
      Path cacheRoot) {
    ClasspathBases.Source source = ClasspathBases.find(name, classLoader);
    Path dir = ClasspathBases.extract(source, cacheRoot).dir();
    try {
      return open(dir, options);
    } catch (Lora4jException e) {
      if (!e.getMessage().contains(dir.toString())) {
        throw e;
      }
      throw new Lora4jException(source + ", extracted to " + dir + ": " + e.getMessage() + "; "
          + ClasspathBases.deleteHint(dir), e);
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

  /** The options it was opened with: callers split their work by {@link RuntimeOptions#maxBatch()}. */
  public RuntimeOptions options() {
    return options;
  }

  /**
   * Loads (or replaces) an adapter under {@code name}. Requests already running keep the version
   * they started with.
   */
  public AdapterInfo load(String name, Path adapterFile) {
    return loadFrom(name, adapterFile);
  }

  /**
   * Loads the adapter packaged as {@code name} by {@code lora4j package} from the class path (the
   * context class loader's, else this library's): a jar added as a plain Maven dependency. Checked
   * like {@link #load(String, Path)}; refused when no jar or two jars on the class path hold it.
   */
  public AdapterInfo loadFromClasspath(String name) {
    return loadFromClasspath(name, defaultClassLoader());
  }

  /** As {@link #loadFromClasspath(String)}, from {@code classLoader}'s class path. */
  public AdapterInfo loadFromClasspath(String name, ClassLoader classLoader) {
    requireOpen();
    return load(name, ClasspathAdapters.find(name, classLoader));
  }

  /** Loads a packaged adapter already found on a class path (the server finds it first to answer 404). */
  AdapterInfo load(String name, ClasspathAdapters.Source packaged) {
    return loadFrom(name, packaged);
  }

  /** Loads from a source the registry keeps for reloads: a file, or a packaged adapter on the class path. */
  private AdapterInfo loadFrom(String name, Object source) {
    if (!ExportLayout.isValidAdapterName(name)) {
      throw new Lora4jException("'" + name + "' is not a valid adapter name (letters, digits, . _ -)");
    }
    if (name.equals(BASE)) {
      throw new Lora4jException("'" + BASE + "' is reserved for the plain base model (no adapter); load the adapter"
          + " under another name");
    }
    requireOpen();
    ResidentAdapter r = registry.load(name, source);
    AdapterInfo i = described.get(name).info();
    return new AdapterInfo(name, r.source(), registry.isResident(name), i.ranks(), i.parameters(), i.bytes(),
        i.labels(), i.pooling());
  }

  /** Loads the adapter of that name from the export directory. */
  public AdapterInfo load(String name) {
    return load(name, loader.defaultSource(name));
  }

  /** Unloads; returns false if it was not loaded. In-flight requests finish on it. */
  public boolean unload(String name) {
    boolean was = registry.unload(name);
    described.remove(name);
    return was;
  }

  /**
   * Every loaded adapter, resident or evicted, by name. Read-only: it neither reloads an evicted
   * adapter nor changes which one the budget evicts next.
   */
  public List<AdapterInfo> adapters() {
    List<AdapterInfo> out = new ArrayList<>();
    for (AdapterRegistry.Status s : registry.snapshot()) {
      AdapterDescription d = described.get(s.name());
      if (d != null) {
        AdapterInfo i = d.info();
        out.add(new AdapterInfo(i.name(), i.source(), s.resident(), i.ranks(), i.parameters(), i.bytes(), i.labels(),
            i.pooling()));
      }
    }
    return out;
  }

  /**
   * One loaded adapter in full: ranks, bytes, labels, pooling, the base model it records, its
   * provenance, whether it is resident and pinned. Read-only like {@link #adapters()}: it neither
   * reloads an evicted adapter nor changes which one the budget evicts next.
   */
  public AdapterDescription describe(String name) {
    requireOpen();
    for (AdapterRegistry.Status s : registry.snapshot()) {
      AdapterDescription d = described.get(s.name());
      if (s.name().equals(name) && d != null) {
        AdapterInfo i = d.info();
        return new AdapterDescription(new AdapterInfo(i.name(), i.source(), s.resident(), i.ranks(), i.parameters(),
            i.bytes(), i.labels(), i.pooling()), s.pinned(), d.base(), d.provenance());
      }
    }
    throw new Lora4jException("adapter '" + name + "' is not loaded");
  }

  /**
   * Keeps a loaded adapter resident: the memory budget never evicts it (reloaded now if it had
   * been). Refused when the pinned adapters together would exceed the budget. The pin lasts until
   * {@link #unpin} or {@link #unload}; loading a new version under the name keeps it.
   */
  public AdapterDescription pin(String name) {
    requireOpen();
    if (name.equals(BASE)) {
      throw new Lora4jException("'" + BASE + "' is the base model itself, always resident; only adapters are pinned");
    }
    registry.pin(name);
    return describe(name);
  }

  /** Lets the budget evict {@code name} again; false if it was not pinned, "not loaded" if unknown. */
  public boolean unpin(String name) {
    requireOpen();
    return registry.unpin(name);
  }

  /**
   * Makes the named adapters resident before the first request needs them: each one already loaded
   * is reloaded if evicted, any other is loaded from the export directory by its name. Refused when
   * they do not all fit in the adapter budget at once (a later one would evict an earlier one).
   */
  public List<AdapterInfo> preload(List<String> names) {
    requireOpen();
    for (String n : names) {
      if (registry.names().contains(n)) {
        registry.acquire(n).close(); // the lease reloads an evicted adapter and marks it used now
      } else {
        load(n);
      }
    }
    List<AdapterInfo> infos = adapters().stream().filter(i -> names.contains(i.name())).toList();
    List<String> evicted = infos.stream().filter(i -> !i.resident()).map(AdapterInfo::name).toList();
    if (!evicted.isEmpty()) {
      throw new Lora4jException("preloading " + String.join(", ", names) + " needs "
          + infos.stream().mapToLong(AdapterInfo::bytes).sum() + " bytes, over the adapter budget of "
          + registry.budgetBytes() + " bytes (" + String.join(", ", evicted) + " did not stay resident)");
    }
    return infos;
  }

  /** The memory budget for resident adapters, in bytes ({@link RuntimeOptions#adapterBudgetBytes()}). */
  public long adapterBudgetBytes() {
    return registry.budgetBytes();
  }

  /** How many times the budget has evicted an adapter since this runtime opened. */
  public long evictions() {
    return registry.evictions();
  }

  /**
   * The registry's read-only view (names, residency, bytes charged, last use), for health and
   * metrics: reading it loads nothing and touches nothing.
   */
  List<AdapterRegistry.Status> residency() {
    return registry.snapshot();
  }

  /** Classifies one text with {@code adapter}. */
  public Prediction predict(String adapter, String text) {
    return predict(adapter, List.of(text)).get(0);
  }

  /** Classifies a batch of texts with one adapter, in one run. */
  public List<Prediction> predict(String adapter, List<String> texts) {
    requireNotBase(adapter);
    checkTexts(texts);
    try (Lease<ResidentAdapter> lease = acquire(adapter)) {
      requireClassifier(adapter, lease.value());
      return predictWith(adapter, lease.value(), texts);
    }
  }

  private List<Prediction> predictWith(String name, ResidentAdapter r, List<String> texts) {
    float[][][] out = runMulti(texts, r, AdapterTensorNames.LOGITS, AdapterTensorNames.PROBABILITIES);
    List<Prediction> ps = new ArrayList<>();
    for (int i = 0; i < texts.size(); i++) {
      ps.add(new Prediction(name, r.adapter().head().labels(), FiniteOutputs.require(out[0][i], name, "logits", i),
          FiniteOutputs.require(out[1][i], name, "probabilities", i)));
    }
    return ps;
  }

  /**
   * Pooled, L2-normalised sentence vectors; {@code adapter} {@link #BASE} (or null) runs the plain
   * base model (the adapter's pooling otherwise).
   */
  public List<float[]> embed(String adapter, List<String> texts) {
    checkTexts(texts);
    if (adapter == null || adapter.equals(BASE)) {
      return FiniteOutputs.requireRows(runMulti(texts, null, AdapterTensorNames.SENTENCE_EMBEDDING)[0], null);
    }
    try (Lease<ResidentAdapter> lease = acquire(adapter)) {
      return FiniteOutputs.requireRows(runMulti(texts, lease.value(), AdapterTensorNames.SENTENCE_EMBEDDING)[0],
          adapter);
    }
  }

  /**
   * One batch whose rows name different adapters, computed in one run of the mixed-batch graph
   * (each row answered by its own adapter, whatever their ranks). Fails as a whole if any row names
   * an adapter that is not loaded.
   */
  public List<Prediction> predictMixed(List<MixedRequest> requests) {
    requireMixed();
    requests.forEach(r -> requireNotBase(r.adapter()));
    checkTexts(requests.stream().map(MixedRequest::text).toList());
    Map<String, Lease<ResidentAdapter>> leases = new LinkedHashMap<>();
    try {
      for (MixedRequest r : requests) {
        if (!leases.containsKey(r.adapter())) {
          Lease<ResidentAdapter> l = acquire(r.adapter());
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
      List<String> texts = rows.stream().map(MixedRequest::text).toList();
      float[][][] out = natives.call(() -> byLength(texts, (enc, part) -> {
        int[] slotOfPart = new int[part.length];
        for (int i = 0; i < part.length; i++) {
          slotOfPart[i] = slotOfRow[part[i]];
        }
        MixedBatchRunner.RowOutputs o = mixed.run(enc, slots, slotOfPart);
        return new float[][][] {o.logits(), o.probabilities()};
      }));
      List<Prediction> ps = new ArrayList<>();
      for (int i = 0; i < rows.size(); i++) {
        String name = rows.get(i).adapter();
        ps.add(new Prediction(name, leases.get(name).value().adapter().head().labels(),
            FiniteOutputs.require(out[0][i], name, "logits", i),
            FiniteOutputs.require(out[1][i], name, "probabilities", i)));
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
      requireNotBase(adapter);
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
          Lease<ResidentAdapter> l = acquire(name);
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

  /**
   * Runs the multi-adapter graph with {@code adapter} active (none: plain base); one array per
   * output, rows in the order of {@code texts}. On the CPU texts of mixed lengths run in several
   * runs of similar length ({@link PaddingRuns}).
   */
  private float[][][] runMulti(List<String> texts, ResidentAdapter adapter, String... outputs) {
    try {
      return natives.call(() -> byLength(texts, (enc, rows) -> runMultiHere(enc, adapter, outputs)));
    } catch (OrtException e) {
      throw new Lora4jException("inference failed: " + e.getMessage(), e);
    }
  }

  /** Tokenizes {@code texts} and runs them, on the CPU in runs of similar length ({@link PaddingRuns}). */
  private float[][][] byLength(List<String> texts, PaddingRuns.Run run) throws OrtException {
    return PaddingRuns.run(tokenizer.encode(texts), device == Device.CPU, run);
  }

  private float[][][] runMultiHere(Encoding enc, ResidentAdapter adapter, String... outputs) throws OrtException {
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
    }
  }

  private static void requireNotBase(String adapter) {
    if (BASE.equals(adapter)) {
      throw new Lora4jException("'" + BASE + "' (the plain base model) has no classifier; use embed");
    }
  }

  private static void requireClassifier(String name, ResidentAdapter r) {
    if (!r.isClassifier()) {
      throw new Lora4jException("adapter '" + name + "' is an embedding adapter: use embed, not predict");
    }
  }

  /** A lease on {@code name}; after close every adapter is gone, and the error says why. */
  private Lease<ResidentAdapter> acquire(String name) {
    try {
      return registry.acquire(name);
    } catch (Lora4jException e) {
      requireOpen();
      throw e;
    }
  }

  private void requireOpen() {
    if (closed.get()) {
      throw new Lora4jException("the runtime is closed");
    }
  }

  private void checkTexts(List<String> texts) {
    requireOpen();
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

  /**
   * Refuses new requests, lets queued and running ones finish (up to 30 s), then unloads every
   * adapter and frees the sessions and the tokenizer. Native memory is freed only once nothing
   * runs on it: if requests are still running at the deadline, the sessions stay open (a leak, not
   * a crash) and this says so. Idempotent.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    long deadline = System.nanoTime() + CLOSE_WAIT_MILLIS * 1_000_000;
    boolean batcherStopped = batcher.stop(CLOSE_WAIT_MILLIS);
    boolean idle = natives.shutdown(Math.max(0, (deadline - System.nanoTime()) / 1_000_000));
    registry.clear(); // adapters held by a running request close when it lets go
    if (!batcherStopped || !idle) {
      throw new Lora4jException("requests were still running " + CLOSE_WAIT_MILLIS / 1000
          + " s after close(); the ONNX Runtime sessions were left open so that they can finish");
    }
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
