package dev.lora4j.djl;

import dev.lora4j.models.adapter.AdapterTensorNames;

/** The pooled, L2-normalised sentence embedding the graph computes (an embedding adapter's export). */
final class EmbeddingTranslator extends EncoderTranslator<float[]> {

  EmbeddingTranslator(ExportedGraph graph) {
    super(graph);
  }

  @Override
  String output() {
    return AdapterTensorNames.SENTENCE_EMBEDDING;
  }

  @Override
  float[] answer(float[] row) {
    return row;
  }

  @Override
  String hint() {
    return ": a classifier's merged graph ends in its head; export the adapter with --embeddings for vectors";
  }
}
