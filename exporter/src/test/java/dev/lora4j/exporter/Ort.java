package dev.lora4j.exporter;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtLoraAdapter;
import ai.onnxruntime.OrtSession;
import dev.lora4j.models.adapter.ortformat.OrtAdapterParameter;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto.DataType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** One ONNX Runtime session over a graph, run on a padded batch of token ids. Tests only. */
final class Ort implements AutoCloseable {
  static final OrtEnvironment ENV = OrtEnvironment.getEnvironment();
  private final OrtSession session;

  Ort(Path model) throws OrtException {
    session = ENV.createSession(model.toString(), options());
  }

  Ort(OnnxModel model) throws OrtException {
    session = ENV.createSession(model.toBytes(), options());
  }

  private static OrtSession.SessionOptions options() throws OrtException {
    OrtSession.SessionOptions o = new OrtSession.SessionOptions();
    // the overridable-initializer warning is expected for adapter-ready graphs
    o.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
    o.setIntraOpNumThreads(1);
    return o;
  }

  OrtSession session() {
    return session;
  }

  /** Outputs by name, as Java arrays. */
  Map<String, Object> run(List<long[]> sentences, Map<String, OnnxTensor> extra, OrtLoraAdapter adapter)
      throws OrtException {
    int len = sentences.stream().mapToInt(s -> s.length).max().orElse(0);
    long[][] ids = new long[sentences.size()][len];
    long[][] mask = new long[sentences.size()][len];
    for (int i = 0; i < sentences.size(); i++) {
      System.arraycopy(sentences.get(i), 0, ids[i], 0, sentences.get(i).length);
      for (int t = 0; t < sentences.get(i).length; t++) {
        mask[i][t] = 1;
      }
    }
    Map<String, OnnxTensor> in = new HashMap<>(extra);
    try (OnnxTensor a = OnnxTensor.createTensor(ENV, ids);
        OnnxTensor m = OnnxTensor.createTensor(ENV, mask);
        OnnxTensor t = OnnxTensor.createTensor(ENV, new long[sentences.size()][len]);
        OrtSession.RunOptions ro = new OrtSession.RunOptions()) {
      in.put("input_ids", a);
      in.put("attention_mask", m);
      in.put("token_type_ids", t);
      if (adapter != null) {
        ro.addActiveLoraAdapter(adapter);
      }
      try (OrtSession.Result r = session.run(in, ro)) {
        Map<String, Object> out = new HashMap<>();
        for (Map.Entry<String, OnnxValue> e : r) {
          out.put(e.getKey(), e.getValue().getValue());
        }
        return out;
      }
    }
  }

  Map<String, Object> run(List<long[]> sentences) throws OrtException {
    return run(sentences, Map.of(), null);
  }

  static OnnxTensor tensor(OrtAdapterParameter p) throws OrtException {
    ByteBuffer raw = ByteBuffer.allocateDirect(p.rawData().length).order(ByteOrder.nativeOrder());
    ByteBuffer le = ByteBuffer.wrap(p.rawData()).order(ByteOrder.LITTLE_ENDIAN);
    if (p.dataType() == DataType.FLOAT_VALUE) {
      raw.asFloatBuffer().put(le.asFloatBuffer());
      return OnnxTensor.createTensor(ENV, raw.asFloatBuffer(), p.dims());
    }
    raw.asLongBuffer().put(le.asLongBuffer());
    return OnnxTensor.createTensor(ENV, raw.asLongBuffer(), p.dims());
  }

  @Override
  public void close() throws OrtException {
    session.close();
  }
}
