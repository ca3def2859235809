package dev.lora4j.exporter;

import dev.lora4j.models.onnx.OnnxBuilders;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.TensorProtos;
import dev.lora4j.models.tensor.FloatTensor;

/**
 * Graph inputs backed by an initializer of the same name: ONNX Runtime uses the initializer unless
 * the run (or an active {@code OrtLoraAdapter}) feeds the input. Our defaults are empty (a rank or
 * label dimension of 0), so a graph with nothing fed computes the plain base model.
 *
 * <p>ONNX Runtime warns once per such initializer at session creation ("appears in graph inputs and
 * will not be treated as constant"); that is this design working as intended, and sessions should
 * be created with the log level at error to keep it out of users' logs.
 */
final class OverridableInputs {
  private OverridableInputs() {}

  /** A float input of the given (fixed or symbolic) dims, defaulting to {@code defaultShape} zeros. */
  static void addFloat(OnnxModel model, String name, Object[] dims, long[] defaultShape) {
    model.addInput(OnnxBuilders.floatValue(name, dims));
    int n = 1;
    for (long d : defaultShape) {
      n = Math.multiplyExact(n, (int) d);
    }
    model.putInitializer(TensorProtos.floats(name, new FloatTensor(defaultShape, new float[n])));
  }

  /** An int64 input of the given dims, defaulting to {@code values} of {@code defaultShape}. */
  static void addInt64(OnnxModel model, String name, Object[] dims, long[] defaultShape, long... values) {
    model.addInput(OnnxBuilders.int64Value(name, dims));
    model.putInitializer(TensorProtos.int64s(name, defaultShape, values));
  }
}
