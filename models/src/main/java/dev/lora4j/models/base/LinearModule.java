package dev.lora4j.models.base;

/**
 * One adaptable linear module of the base graph: {@code y = x W^T + b} with {@code W (out x in)}.
 * The ONNX graph stores {@code W^T (in x out)} as the second input of a MatMul under a generated
 * name; {@code output} is the value after the bias Add, where a low-rank branch joins.
 *
 * @param name canonical PyTorch name, e.g. {@code encoder.layer.3.attention.self.query}
 * @param weightInitializer ONNX initializer holding {@code W^T}
 * @param biasInitializer ONNX initializer holding {@code b}
 * @param matMulNode name of the MatMul node
 * @param input value the MatMul reads ({@code x})
 * @param output value produced by the bias Add
 */
public record LinearModule(
    String name,
    int layer,
    ModuleKind kind,
    int inFeatures,
    int outFeatures,
    String weightInitializer,
    String biasInitializer,
    String matMulNode,
    String input,
    String output) {

  public long parameterCount() {
    return (long) inFeatures * outFeatures + outFeatures;
  }
}
