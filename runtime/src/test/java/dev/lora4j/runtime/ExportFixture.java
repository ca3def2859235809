package dev.lora4j.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.lora4j.exporter.ExportBundle;
import dev.lora4j.exporter.ExportFormat;
import dev.lora4j.exporter.ExportRequest;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.testing.SyntheticAdapters;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.models.text.Encoding;
import dev.lora4j.models.text.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A tiny base model exported with four adapters of different ranks and label counts (all formats),
 * plus each adapter's expected logits computed from its own merged model in a bare ONNX Runtime
 * session: the independent answer the runtime must reproduce.
 */
final class ExportFixture {
  static final List<String> TEXTS = List.of(
      "a good movie", "the worst plot , really boring", "it was not great but fun",
      "brilliant acting and a moving story", "dull", "i loved the characters but hated the end");
  static final List<String> NAMES = List.of("alpha", "beta", "gamma", "delta");

  final Path dir;
  final Map<String, Adapter> adapters = new LinkedHashMap<>();
  /** adapter -> text -> logits from the merged model. */
  final Map<String, Map<String, float[]>> expected = new HashMap<>();

  ExportFixture(Path root, long baseSeed) throws Exception {
    TinyBert.Written tiny = TinyBert.writeBase(root.resolve("base"), baseSeed);
    EncoderDescription d = tiny.description();
    BaseModelRef ref = tiny.files().ref();
    int[][] shapes = {{8, 8}, {2, 5}, {16, 1}, {4, 12}};
    for (int i = 0; i < NAMES.size(); i++) {
      Map<String, Integer> ranks = new LinkedHashMap<>();
      ranks.put("encoder.layer.0.attention.self.query", shapes[i][0]);
      ranks.put("encoder.layer.1.attention.self.value", shapes[i][1]);
      ranks.put("encoder.layer." + (i % 2) + ".intermediate.dense", 3 + i);
      adapters.put(NAMES.get(i), SyntheticAdapters.classifier(d, ref, NAMES.get(i), ranks, 2 + i % 2,
          i == 3 ? TaskHead.Pooling.CLS : TaskHead.Pooling.MEAN, 100 + i));
    }
    dir = root.resolve("export");
    ExportBundle.export(ExportRequest.of(tiny.files(),
        new ArrayList<>(adapters.values()), EnumSet.of(ExportFormat.MERGED, ExportFormat.MULTI, ExportFormat.MIXED),
        dir), line -> { });
    OrtEnvironment env = ExecutionProviders.environment();
    try (Tokenizer tok = Tokenizer.open(dir.resolve(ExportLayout.TOKENIZER))) {
      for (String name : NAMES) {
        Map<String, float[]> byText = new HashMap<>();
        try (OrtSession s = env.createSession(dir.resolve(ExportLayout.merged(name)).toString())) {
          for (String t : TEXTS) {
            Encoding e = tok.encode(List.of(t));
            try (OnnxTensor ids = OnnxTensor.createTensor(env, e.inputIdsBuffer(), e.shape());
                OnnxTensor mask = OnnxTensor.createTensor(env, e.attentionMaskBuffer(), e.shape());
                OnnxTensor types = OnnxTensor.createTensor(env, e.tokenTypeIdsBuffer(), e.shape());
                OrtSession.Result r = s.run(Map.of("input_ids", ids, "attention_mask", mask, "token_type_ids", types))) {
              byText.put(t, ((float[][]) r.get("logits").orElseThrow().getValue())[0]);
            }
          }
        }
        expected.put(name, byText);
      }
    }
  }

  Path adapterFile(String name) {
    return dir.resolve(ExportLayout.onnxAdapter(name));
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
}
