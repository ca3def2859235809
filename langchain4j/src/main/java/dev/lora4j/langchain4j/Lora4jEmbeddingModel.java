package dev.lora4j.langchain4j;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.output.Response;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.runtime.AdapterRuntime;
import java.util.ArrayList;
import java.util.List;

/**
 * A langchain4j {@link EmbeddingModel} answered by an {@link AdapterRuntime}: the plain base model,
 * or one adapter loaded in that runtime. Thread-safe, as the runtime is.
 *
 * <pre>{@code
 * try (AdapterRuntime rt = AdapterRuntime.open(Path.of("export"))) {
 *   rt.load("support");
 *   EmbeddingModel model = new Lora4jEmbeddingModel(rt, "support"); // new Lora4jEmbeddingModel(rt): the base
 *   store.addAll(model.embedAll(segments).content(), segments);
 * }
 * }</pre>
 *
 * <p>Vectors are {@link AdapterRuntime#embed}'s: pooled (mean over the attention mask for the base,
 * the adapter's pooling otherwise) and L2-normalised, so for all-MiniLM-L6-v2 with no adapter they
 * are langchain4j's own {@code AllMiniLmL6V2EmbeddingModel}'s. {@link #embedAll} sends the segments
 * in runs of the runtime's {@link dev.lora4j.runtime.RuntimeOptions#maxBatch() maxBatch}, in order.
 * Texts are cut at the runtime's {@code maxTokens} (128 by default, where the tokenizer.json of
 * langchain4j's MiniLM jar cuts too); a text over its {@code maxTextChars} is refused, not cut.
 *
 * <p>The model does not own the runtime: closing the runtime stays the caller's job, and after it
 * every call fails with "the runtime is closed".
 */
public final class Lora4jEmbeddingModel implements EmbeddingModel {
  private final AdapterRuntime runtime;
  private final String adapter;

  /** The plain base model of {@code runtime}, no adapter. */
  public Lora4jEmbeddingModel(AdapterRuntime runtime) {
    this(runtime, AdapterRuntime.BASE);
  }

  /**
   * Embeddings of {@code adapter}, which must be loaded in {@code runtime} already (checked now, so a
   * misspelt name fails here rather than at the first document); null or {@link AdapterRuntime#BASE}
   * means the plain base model.
   */
  public Lora4jEmbeddingModel(AdapterRuntime runtime, String adapter) {
    if (runtime == null) {
      throw new Lora4jException("Lora4jEmbeddingModel needs an AdapterRuntime, got null");
    }
    this.runtime = runtime;
    this.adapter = adapter == null ? AdapterRuntime.BASE : adapter;
    if (!this.adapter.equals(AdapterRuntime.BASE)) {
      runtime.describe(this.adapter); // read-only: "adapter 'x' is not loaded", and it loads nothing
    }
  }

  @Override
  public Response<List<Embedding>> embedAll(List<TextSegment> segments) {
    if (segments == null || segments.isEmpty()) {
      return Response.from(List.of()); // what EmbeddingModel's own default answers
    }
    int maxBatch = runtime.options().maxBatch();
    List<Embedding> out = new ArrayList<>(segments.size());
    for (int from = 0; from < segments.size(); from += maxBatch) {
      int to = Math.min(segments.size(), from + maxBatch);
      List<String> texts = new ArrayList<>(to - from);
      for (int i = from; i < to; i++) {
        TextSegment s = segments.get(i);
        if (s == null) {
          throw new Lora4jException("segment " + i + " is null");
        }
        texts.add(s.text());
      }
      for (float[] v : embed(texts, from, to)) {
        out.add(Embedding.from(v));
      }
    }
    return Response.from(out);
  }

  /** One run; a refusal past the first batch says where its "text N" counts from. */
  private List<float[]> embed(List<String> texts, int from, int to) {
    try {
      return runtime.embed(adapter, texts);
    } catch (Lora4jException e) {
      if (from == 0) {
        throw e;
      }
      throw new Lora4jException("segments " + from + " to " + (to - 1) + " (text numbers below count from segment "
          + from + "): " + e.getMessage(), e);
    }
  }

  /** The base model's hidden size, read from the export: no embedding is computed to learn it. */
  @Override
  public int dimension() {
    return runtime.base().hidden();
  }

  /** The base model's id, then the adapter's name: {@code minilm-l6} or {@code minilm-l6+support}. */
  @Override
  public String modelName() {
    return adapter.equals(AdapterRuntime.BASE) ? runtime.base().id() : runtime.base().id() + "+" + adapter;
  }
}
