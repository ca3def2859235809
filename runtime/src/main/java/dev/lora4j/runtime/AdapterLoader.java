package dev.lora4j.runtime;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoraAdapter;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterFit;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.MixedBatchStacks;
import dev.lora4j.models.adapter.WeightBounds;
import dev.lora4j.models.adapter.ortformat.MultiAdapterParameters;
import dev.lora4j.models.adapter.ortformat.OrtAdapter;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.export.AdapterFiles;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.export.ExportManifest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads an adapter for the runtime and refuses one that does not fit the base model it serves:
 * exported for another base (SHA-256), unknown modules, wrong shapes, NaN weights or weights so large
 * that inference would overflow ({@link WeightBounds}). An {@code .onnx_adapter} must be the file its
 * sidecar was written for and the sidecar must name its base model ({@link dev.lora4j.models.export.AdapterFiles}).
 *
 * <p>Sources: an {@code .onnx_adapter} file with its {@code .adapter.json} sidecar beside it (what
 * {@code lora4j export} writes), or a PEFT adapter directory, which is compacted on load. A PEFT
 * adapter without lora4j's record of its base model is checked by module names and shapes only.
 */
final class AdapterLoader implements AdapterRegistry.Loader<ResidentAdapter> {
  private final Path exportDir;
  private final ExportManifest manifest;
  private final AdapterFit.Base base;

  AdapterLoader(Path exportDir, ExportManifest manifest, MixedBatchStacks.Layout layout) {
    this.exportDir = exportDir;
    this.manifest = manifest;
    Map<String, MixedBatchStacks.ModuleShape> modules = new LinkedHashMap<>();
    layout.modules().forEach(m -> modules.put(m.name(), m));
    this.base = new AdapterFit.Base(manifest.base().id(), manifest.base().onnxSha256(), layout.hidden(), modules);
  }

  /**
   * Refuses an adapter that changes a module the graphs have no branch on: exported with
   * {@code --adapter-modules used} (or a list), the graphs take factors for the layout's modules
   * only, and ONNX Runtime would serve the adapter with that module's update silently missing.
   * Before {@link AdapterFit#require}, whose "module the base model does not have" would be wrong here.
   */
  private void requireBranches(Adapter adapter, String who) {
    if (!manifest.branchesOnSomeModules()) {
      return;
    }
    List<String> missing = adapter.modules().keySet().stream().filter(m -> !base.modules().containsKey(m)).toList();
    if (!missing.isEmpty()) {
      throw new Lora4jException(String.format(Locale.ROOT,
          "%s: adapter '%s' changes %s %s, but the export in %s has low-rank branches only on the %d modules its %s "
              + "adapter_layout lists (exported with --adapter-modules %s); serving the adapter would drop its update "
              + "there. Export again with --adapter-modules all (or a list that includes %s)",
          who, adapter.name(), missing.size() == 1 ? "module" : missing.size() + " modules", String.join(", ", missing),
          exportDir, base.modules().size(), ExportLayout.MANIFEST, manifest.adapterModules(),
          missing.size() == 1 ? "it" : "them"));
    }
  }

  /** Where the adapter named {@code name} lives when the caller gives no path. */
  Path defaultSource(String name) {
    return exportDir.resolve(ExportLayout.onnxAdapter(name));
  }

  @Override
  public AdapterRegistry.Loaded<ResidentAdapter> load(String name, Object source) {
    if (source instanceof ClasspathAdapters.Source packaged) {
      AdapterRegistry.Loaded<ResidentAdapter> l =
          ClasspathAdapters.load(packaged, file -> load(name, file, packaged.toString()));
      ResidentAdapter r = l.value(); // its source is the copy, deleted by now: show the resource
      return new AdapterRegistry.Loaded<>(new ResidentAdapter(r.adapter(), r.ort(), r.bytes(), packaged.toString()),
          l.resource(), l.bytes());
    }
    return load(name, (Path) source, null);
  }

  /** @param shownAs what messages call the adapter when {@code source} is a temporary copy, else null */
  private AdapterRegistry.Loaded<ResidentAdapter> load(String name, Path source, String shownAs) {
    Path file = source.toAbsolutePath();
    if (!Files.exists(file)) {
      throw new Lora4jException(file + ": no such adapter file");
    }
    // fp16 and int8 files are widened to float32 here (AdapterFiles.read decodes them exactly), and
    // ONNX Runtime gets float32 parameters whatever the file held. A Cast in the graph would make the
    // graph's inputs float16, so float32 adapters would need a second multi graph (and the mixed
    // graph, which stacks several adapters into one input, could not hold both kinds in one batch);
    // widening keeps one graph for all and leaves a float32 adapter's path exactly as it was. The
    // price: a resident fp16 adapter takes the same RAM as a float32 one; fp16 saves disk and transfer.
    Adapter adapter = AdapterFiles.read(file).compact().withName(name);
    adapter.requireNoDora("the runtime (loading " + file + "; it serves adapters through the multi-adapter and"
        + " mixed-batch graphs)");
    // another base model's adapter is refused as that, not as one needing other branches
    AdapterFit.requireSameBase(adapter, file.toString(), new BaseModelRef(base.id(), base.onnxSha256()));
    requireBranches(adapter, shownAs == null ? file.toString() : shownAs);
    AdapterFit.require(adapter, file.toString(), base);
    OrtAdapter parameters = MultiAdapterParameters.of(adapter);
    try {
      OrtLoraAdapter ort = OrtLoraAdapter.create(OrtAdapterFile.toBytes(parameters));
      return new AdapterRegistry.Loaded<>(new ResidentAdapter(adapter, ort, parameters.dataBytes(), file.toString()),
          ort, parameters.dataBytes());
    } catch (OrtException e) {
      throw new Lora4jException(file + ": ONNX Runtime refused the adapter: " + e.getMessage(), e);
    }
  }
}
