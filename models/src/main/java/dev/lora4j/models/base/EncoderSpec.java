package dev.lora4j.models.base;

/**
 * The architecture of a BERT-family encoder, as inferred from its ONNX graph.
 *
 * @param activation {@code gelu} (erf form) or {@code gelu_tanh}
 */
public record EncoderSpec(
    int layers,
    int hidden,
    int heads,
    int intermediate,
    int vocabSize,
    int maxPositions,
    int typeVocabSize,
    float layerNormEps,
    String activation) {

  public int headDim() {
    return hidden / heads;
  }
}
