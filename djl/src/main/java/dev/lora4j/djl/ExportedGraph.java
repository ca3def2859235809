package dev.lora4j.djl;

import ai.djl.Model;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.ArgumentsUtil;
import ai.djl.util.PairList;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.export.AdapterSidecar;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.export.ExportManifest;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.text.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * What a translator needs from the export directory DJL loaded the graph from: the tokenizer, the
 * adapter's labels (null when neither the sidecar nor the arguments give them) and the graph's input
 * names (MiniLM-style exports take token_type_ids, others may not).
 */
record ExportedGraph(String adapter, Path dir, Tokenizer tokenizer, List<String> labels, Set<String> inputs) {

  static ExportedGraph of(Model model, java.util.Map<String, ?> arguments) {
    Path dir = model.getModelPath();
    String adapter = ArgumentsUtil.stringValue(arguments, Lora4jTranslatorFactory.ADAPTER, adapterOf(model.getName()));
    if (!ExportLayout.isValidAdapterName(adapter)) {
      throw new Lora4jException("'" + adapter + "' is not a valid adapter name (letters, digits, . _ -); pass the"
          + " adapter's name as the '" + Lora4jTranslatorFactory.ADAPTER + "' argument");
    }
    ExportManifest manifest = Files.isRegularFile(dir.resolve(ExportLayout.MANIFEST)) ? ExportManifest.read(dir) : null;
    String tokenizerName =
        manifest == null || manifest.tokenizer() == null ? ExportLayout.TOKENIZER : manifest.tokenizer();
    Path tokenizerFile = dir.resolve(tokenizerName);
    if (!Files.isRegularFile(tokenizerFile)) {
      throw new Lora4jException(dir + ": no " + tokenizerName + " beside the graph; load the graph from the"
          + " export directory lora4j wrote, which holds it");
    }
    if (manifest != null) {
      // In an export directory, as AdapterRuntime does: an edited tokenizer.json or graph would load
      // and answer wrong labels without an error. (A graph copied out alone has nothing to check against.)
      manifest.requireRecordedHash(tokenizerFile, tokenizerName, AtomicFiles.sha256(tokenizerFile));
      String graphName = model.getName() + ".onnx";
      Path graph = dir.resolve(graphName);
      if (Files.isRegularFile(graph)) {
        manifest.requireRecordedHash(graph, graphName, AtomicFiles.sha256(graph));
      }
    }
    int maxTokens = ArgumentsUtil.intValue(arguments, Lora4jTranslatorFactory.MAX_TOKENS, Tokenizer.DEFAULT_MAX_LENGTH);
    if (manifest != null) {
      maxTokens = manifest.base().tokensFor(maxTokens);
    }
    Tokenizer tokenizer = Tokenizer.open(tokenizerFile, maxTokens);
    return new ExportedGraph(adapter, dir, tokenizer, labels(dir, adapter, arguments), inputNames(model));
  }

  /** {@code sentiment.merged} (DJL's name for {@code sentiment.merged.onnx}) is adapter {@code sentiment}. */
  private static String adapterOf(String modelName) {
    for (String ending : List.of(".merged", ".factored")) {
      if (modelName.endsWith(ending)) {
        return modelName.substring(0, modelName.length() - ending.length());
      }
    }
    return modelName;
  }

  private static List<String> labels(Path dir, String adapter, java.util.Map<String, ?> arguments) {
    String given = ArgumentsUtil.stringValue(arguments, Lora4jTranslatorFactory.LABELS);
    if (given != null) {
      return Arrays.stream(given.split(",", -1)).map(String::strip).toList();
    }
    Path sidecar = dir.resolve(ExportLayout.sidecar(adapter));
    return Files.isRegularFile(sidecar) ? AdapterSidecar.read(sidecar).labels() : null;
  }

  private static Set<String> inputNames(Model model) {
    PairList<String, Shape> described = model.describeInput();
    return described == null ? Set.of("input_ids", "attention_mask", "token_type_ids") : Set.copyOf(described.keys());
  }
}
