package dev.lora4j.trainer;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.LongBuffer;
import java.util.Map;

/** ONNX Runtime on a BERT-family graph: the reference the DJL encoder is held to. */
public final class OrtEncoder implements AutoCloseable {
  private final OrtEnvironment env = OrtEnvironment.getEnvironment();
  private final OrtSession session;

  public OrtEncoder(byte[] onnx) throws OrtException {
    try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
      o.setIntraOpNumThreads(2);
      session = env.createSession(onnx, o);
    }
  }

  /** last_hidden_state {@code [batch][seq][hidden]}. */
  public float[][][] lastHiddenState(long[][] ids, long[][] mask) throws OrtException {
    int b = ids.length;
    int s = ids[0].length;
    long[] shape = {b, s};
    try (OnnxTensor i = OnnxTensor.createTensor(env, LongBuffer.wrap(flat(ids)), shape);
        OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(flat(mask)), shape);
        OnnxTensor t = OnnxTensor.createTensor(env, LongBuffer.wrap(new long[b * s]), shape);
        OrtSession.Result r = session.run(Map.of("input_ids", i, "attention_mask", m, "token_type_ids", t))) {
      return (float[][][]) r.get("last_hidden_state").orElseThrow().getValue();
    }
  }

  public static long[] flat(long[][] x) {
    long[] f = new long[x.length * x[0].length];
    for (int r = 0; r < x.length; r++) {
      System.arraycopy(x[r], 0, f, r * x[0].length, x[0].length);
    }
    return f;
  }

  @Override
  public void close() throws OrtException {
    session.close();
  }
}
