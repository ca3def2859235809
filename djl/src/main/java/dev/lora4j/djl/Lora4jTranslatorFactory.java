package dev.lora4j.djl;

import ai.djl.Model;
import ai.djl.modality.Classifications;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorFactory;
import ai.djl.util.Pair;
import java.lang.reflect.Type;
import java.util.Map;
import java.util.Set;

/**
 * Lets DJL load a graph lora4j exported ({@code <adapter>.merged.onnx}, or {@code .factored.onnx})
 * on its ONNX Runtime engine and answer {@code String -> Classifications} (classifier adapters) or
 * {@code String -> float[]} (the pooled, L2-normalised sentence embedding of an embedding export).
 *
 * <pre>{@code
 * Criteria<String, Classifications> criteria = Criteria.builder()
 *     .setTypes(String.class, Classifications.class)
 *     .optModelPath(Path.of("export/sentiment.merged.onnx"))
 *     .optEngine("OnnxRuntime")
 *     .optTranslatorFactory(new Lora4jTranslatorFactory())
 *     .build();
 * try (ZooModel<String, Classifications> model = criteria.loadModel();
 *     Predictor<String, Classifications> predictor = model.newPredictor()) {
 *   predictor.predict("a gripping, funny film").best().getClassName();
 * }
 * }</pre>
 *
 * <p>Texts are tokenized by lora4j's pure-Java tokenizer from the export directory's
 * {@code tokenizer.json} (no native tokenizer library), cut at {@value #MAX_TOKENS} tokens (128 by
 * default, as {@code AdapterRuntime}); {@code batchPredict} pads a batch to its longest text and runs
 * it once. Labels come from the adapter's sidecar {@code <adapter>.adapter.json} (written with
 * {@code --format multi}) or from the {@value #LABELS} argument. Arguments (criteria
 * {@code optArgument}): {@value #ADAPTER} (default: the graph's file name before {@code .merged} /
 * {@code .factored}), {@value #LABELS} (comma-separated), {@value #MAX_TOKENS}.
 *
 * <p>In a JVM that also opens an {@code AdapterRuntime} (or anything else on ONNX Runtime), touch
 * DJL's engine first ({@code Engine.getEngine("OnnxRuntime")}): it creates ONNX Runtime's single
 * environment with thread options, which ONNX Runtime refuses once an environment exists.
 */
public final class Lora4jTranslatorFactory implements TranslatorFactory {
  /** The adapter's name, when the graph's file name does not give it. */
  public static final String ADAPTER = "adapter";
  /** Comma-separated labels, in the order of the graph's probabilities, for an export without sidecar. */
  public static final String LABELS = "labels";
  /** Most tokens per text, special tokens included. */
  public static final String MAX_TOKENS = "maxTokens";

  @Override
  public Set<Pair<Type, Type>> getSupportedTypes() {
    return Set.of(new Pair<>(String.class, Classifications.class), new Pair<>(String.class, float[].class));
  }

  @Override
  @SuppressWarnings("unchecked")
  public <I, O> Translator<I, O> newInstance(Class<I> input, Class<O> output, Model model, Map<String, ?> arguments) {
    if (!isSupported(input, output)) {
      throw new IllegalArgumentException("lora4j translates String to Classifications or float[], not "
          + input.getName() + " to " + output.getName());
    }
    ExportedGraph graph = ExportedGraph.of(model, arguments);
    return (Translator<I, O>) (output == Classifications.class
        ? new ClassificationTranslator(graph)
        : new EmbeddingTranslator(graph));
  }
}
