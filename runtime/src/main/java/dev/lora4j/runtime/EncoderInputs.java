package dev.lora4j.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import dev.lora4j.models.text.Encoding;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/** The token inputs of one run as ONNX Runtime tensors; closes them with the run. */
final class EncoderInputs implements AutoCloseable {
  private final Map<String, OnnxTensor> tensors = new HashMap<>();

  EncoderInputs(OrtEnvironment env, Encoding enc, Set<String> graphInputs) throws OrtException {
    try {
      put(env, "input_ids", enc.inputIdsBuffer(), enc.shape(), graphInputs);
      put(env, "attention_mask", enc.attentionMaskBuffer(), enc.shape(), graphInputs);
      put(env, "token_type_ids", enc.tokenTypeIdsBuffer(), enc.shape(), graphInputs);
    } catch (OrtException | RuntimeException e) {
      close();
      throw e;
    }
  }

  private void put(OrtEnvironment env, String name, java.nio.LongBuffer data, long[] shape, Set<String> graphInputs)
      throws OrtException {
    if (graphInputs.contains(name)) {
      tensors.put(name, OnnxTensor.createTensor(env, data, shape));
    }
  }

  /** Adds another input this object then owns and closes. */
  void add(String name, OnnxTensor t) {
    OnnxTensor old = tensors.put(name, t);
    if (old != null) {
      old.close();
    }
  }

  Map<String, OnnxTensor> map() {
    return tensors;
  }

  @Override
  public void close() {
    tensors.values().forEach(OnnxTensor::close);
    tensors.clear();
  }
}
