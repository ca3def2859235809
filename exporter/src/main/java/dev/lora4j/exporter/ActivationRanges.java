package dev.lora4j.exporter;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.NativeStack;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.proto.Onnx.NodeProto;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto;
import dev.lora4j.models.onnx.proto.Onnx.TypeProto;
import dev.lora4j.models.onnx.proto.Onnx.ValueInfoProto;
import dev.lora4j.models.text.Encoding;
import dev.lora4j.models.text.Tokenizer;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The largest magnitude each channel of an activation reaches, for every activation the int8 base
 * quantizes (the input of each base MatMul with a constant weight), measured by running the float32
 * base model in ONNX Runtime over calibration texts, one text per run (no padding rows to skew it).
 * {@link Int8BaseWriter} uses them to rescale channels before quantization (see {@code smoothing}).
 * Measured on the base alone, without adapters: the int8 base serves every adapter, and an adapter
 * moves activations far less than the channels differ from one another (MiniLM: one channel of the
 * attention-output LayerNorm reaches 28 where the median channel stays near 2).
 */
final class ActivationRanges {
  private final Map<String, float[]> maxAbs;
  private final int texts;

  private ActivationRanges(Map<String, float[]> maxAbs, int texts) {
    this.maxAbs = Map.copyOf(maxAbs);
    this.texts = texts;
  }

  static ActivationRanges none() {
    return new ActivationRanges(Map.of(), 0);
  }

  /** Ranges given directly (tests; a caller that measured elsewhere). */
  static ActivationRanges of(Map<String, float[]> maxAbs, int texts) {
    return new ActivationRanges(maxAbs, texts);
  }

  /** The per-channel largest |value| of activation {@code name}, when it was measured. */
  Optional<float[]> maxAbs(String name) {
    return Optional.ofNullable(maxAbs.get(name));
  }

  boolean isEmpty() {
    return maxAbs.isEmpty();
  }

  /** How many activations have a range. */
  int activations() {
    return maxAbs.size();
  }

  /** How many texts the ranges were measured on. */
  int texts() {
    return texts;
  }

  /**
   * Runs {@code base} (the unedited base model) over {@code texts} and records, per channel, the
   * largest |value| of every input of the MatMuls {@link Int8BaseWriter} quantizes.
   */
  static ActivationRanges measure(OnnxModel base, Path tokenizerJson, List<String> texts) {
    if (texts.isEmpty()) {
      throw new Lora4jException("int8 calibration needs at least one text");
    }
    Set<String> names = new LinkedHashSet<>();
    Set<String> matMuls = Int8BaseWriter.constantWeightMatMuls(base);
    for (NodeProto n : base.nodes()) {
      if (matMuls.contains(n.getName())) {
        names.add(n.getInput(0));
      }
    }
    OnnxModel probe = base.copy();
    Set<String> outputs = new LinkedHashSet<>();
    probe.outputs().forEach(o -> outputs.add(o.getName()));
    for (String name : names) {
      if (!outputs.contains(name)) {
        // element type only: the shape is whatever the graph computes
        probe.addOutput(ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder()
            .setTensorType(TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE))).build());
      }
    }
    byte[] bytes = probe.toBytes();
    AtomicReference<Object> result = new AtomicReference<>();
    Thread t = new Thread(null, () -> {
      try {
        result.set(run(bytes, base, tokenizerJson, texts, names));
      } catch (Throwable e) { // handed to the caller's thread below, Errors included
        result.set(e);
      }
    }, "lora4j-int8-calibration", NativeStack.forOnnxRuntimeStart()); // it may be the first to start ONNX Runtime
    t.start();
    try {
      t.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Lora4jException("int8 calibration was interrupted");
    }
    Object r = result.get();
    if (r instanceof ActivationRanges ranges) {
      return ranges;
    }
    if (r instanceof Lora4jException e) {
      throw e;
    }
    if (r instanceof Error e) {
      throw e;
    }
    Throwable e = (Throwable) r;
    throw new Lora4jException("int8 calibration could not run the base model " + base.source() + " in ONNX Runtime: "
        + e.getMessage(), e);
  }

  private static ActivationRanges run(byte[] model, OnnxModel base, Path tokenizerJson, List<String> texts,
      Set<String> names) throws OrtException {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    Map<String, float[]> max = new HashMap<>();
    try (Tokenizer tok = Tokenizer.open(tokenizerJson);
         OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
      so.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
      try (OrtSession session = env.createSession(model, so)) {
        for (String text : texts) {
          Encoding e = tok.encode(List.of(text));
          long[] shape = {1, e.sequenceLength()};
          Map<String, OnnxTensor> feed = new HashMap<>();
          try {
            put(env, feed, base, "input_ids", e.inputIds(), shape);
            put(env, feed, base, "attention_mask", e.attentionMask(), shape);
            put(env, feed, base, "token_type_ids", e.tokenTypeIds(), shape);
            try (OrtSession.Result r = session.run(feed, names)) {
              for (String name : names) {
                OnnxTensor x = (OnnxTensor) r.get(name).orElseThrow();
                long[] dims = x.getInfo().getShape();
                int channels = (int) dims[dims.length - 1];
                float[] m = max.computeIfAbsent(name, k -> new float[channels]);
                FloatBuffer b = x.getFloatBuffer();
                for (int i = 0; i < b.limit(); i++) {
                  int c = i % channels;
                  m[c] = Math.max(m[c], Math.abs(b.get(i)));
                }
              }
            }
          } finally {
            feed.values().forEach(OnnxTensor::close);
          }
        }
      }
    }
    for (Map.Entry<String, float[]> e : max.entrySet()) {
      for (float v : e.getValue()) {
        if (!Float.isFinite(v)) {
          throw new Lora4jException("int8 calibration: activation " + e.getKey() + " of " + base.source()
              + " is not finite on the calibration texts");
        }
      }
    }
    return new ActivationRanges(max, texts.size());
  }

  private static void put(OrtEnvironment env, Map<String, OnnxTensor> feed, OnnxModel base, String name, long[] values,
      long[] shape) throws OrtException {
    if (base.hasInput(name)) {
      feed.put(name, OnnxTensor.createTensor(env, java.nio.LongBuffer.wrap(values), shape));
    }
  }
}
