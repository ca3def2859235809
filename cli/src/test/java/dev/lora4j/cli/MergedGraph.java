package dev.lora4j.cli;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.text.Encoding;
import dev.lora4j.models.text.Tokenizer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The reference answer for command-line tests: an adapter's own {@code <name>.merged.onnx} run in a
 * bare ONNX Runtime session, one text at a time (no padding, no batching, no runtime, no adapter
 * files). What {@code run}, {@code demo} and the API tour print must agree with it.
 */
final class MergedGraph {
  /** Logits per text, row i for {@code texts.get(i)}. */
  static float[][] logits(Path exportDir, String adapter, List<String> texts) throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    float[][] out = new float[texts.size()][];
    try (Tokenizer tok = Tokenizer.open(exportDir.resolve(ExportLayout.TOKENIZER));
        OrtSession s = env.createSession(exportDir.resolve(ExportLayout.merged(adapter)).toString())) {
      for (int i = 0; i < texts.size(); i++) {
        Encoding e = tok.encode(List.of(texts.get(i)));
        try (OnnxTensor ids = OnnxTensor.createTensor(env, e.inputIdsBuffer(), e.shape());
            OnnxTensor mask = OnnxTensor.createTensor(env, e.attentionMaskBuffer(), e.shape());
            OnnxTensor types = OnnxTensor.createTensor(env, e.tokenTypeIdsBuffer(), e.shape());
            OrtSession.Result r = s.run(Map.of("input_ids", ids, "attention_mask", mask, "token_type_ids", types))) {
          out[i] = ((float[][]) r.get("logits").orElseThrow().getValue())[0];
        }
      }
    }
    return out;
  }

  static int argmax(float[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] > v[best]) {
        best = i;
      }
    }
    return best;
  }

  static double maxAbsDiff(float[] a, float[] b) {
    if (a.length != b.length) {
      return Double.POSITIVE_INFINITY;
    }
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]));
    }
    return m;
  }

  private MergedGraph() {}
}
