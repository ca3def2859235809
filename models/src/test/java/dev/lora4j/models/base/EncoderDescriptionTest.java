package dev.lora4j.models.base;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.testing.ReferenceEncoder;
import dev.lora4j.models.testing.TinyBert;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EncoderDescriptionTest {

  @Test
  void describesTheTinyBertFromItsGraph() {
    EncoderDescription d = EncoderDescription.of(TinyBert.model(7));
    EncoderSpec s = d.spec();
    assertEquals(new EncoderSpec(2, 32, 4, 64, TinyBert.vocabSize(), 64, 2, TinyBert.EPS, "gelu"), s);
    assertEquals(12, d.modules().size());
    LinearModule inter = d.requireModule("encoder.layer.1.intermediate.dense");
    assertEquals(32, inter.inFeatures());
    assertEquals(64, inter.outFeatures());
    assertEquals(List.of(64L, 32L), List.of(d.linearWeight(inter).shape()[0], d.linearWeight(inter).shape()[1]));
    assertEquals(List.of("encoder.layer.0.attention.self.query", "encoder.layer.0.attention.self.value",
            "encoder.layer.1.attention.self.query", "encoder.layer.1.attention.self.value"),
        d.resolveTargets("query,value").stream().map(LinearModule::name).toList());
    assertEquals(4, d.resolveTargets("attention.output,output").size());
  }

  @Test
  void tinyBertRunsInOnnxRuntimeAndMatchesTheJavaReference() throws Exception {
    OnnxModel model = TinyBert.model(11);
    EncoderDescription d = EncoderDescription.of(model);
    long[] ids = {2, 5, 13, 11, 31, 60, 3};
    double[][] expected = new ReferenceEncoder(d, Map.of()).forward(ids);
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession session = env.createSession(model.toBytes());
        OnnxTensor in = OnnxTensor.createTensor(env, new long[][] {ids});
        OnnxTensor mask = OnnxTensor.createTensor(env, new long[][] {{1, 1, 1, 1, 1, 1, 1}});
        OnnxTensor types = OnnxTensor.createTensor(env, new long[1][ids.length]);
        OrtSession.Result r = session.run(Map.of("input_ids", in, "attention_mask", mask, "token_type_ids", types))) {
      float[][][] out = (float[][][]) r.get(0).getValue();
      double max = 0;
      for (int t = 0; t < ids.length; t++) {
        for (int j = 0; j < 32; j++) {
          max = Math.max(max, Math.abs(out[0][t][j] - expected[t][j]));
        }
      }
      assertTrue(max < 1e-4, "ORT vs reference max abs diff " + max);
    }
  }

  @Test
  void refusesAGraphThatIsNotBert() {
    OnnxModel model = TinyBert.model(1);
    model.removeInitializer("encoder.layer.0.attention.self.query.bias");
    model.removeInitializer("encoder.layer.1.attention.self.query.bias");
    Lora4jException e = assertThrows(Lora4jException.class, () -> EncoderDescription.of(model));
    assertEquals("tiny-bert(seed 1): layer 0 has no attention.self.query module", e.getMessage());
  }

  @Test
  void unknownTargetIsNamed() {
    EncoderDescription d = EncoderDescription.of(TinyBert.model(1));
    Lora4jException e = assertThrows(Lora4jException.class, () -> d.resolveTargets("query,dense_h"));
    assertTrue(e.getMessage().startsWith("unknown module type 'dense_h'"), e.getMessage());
  }

  /** The library names no CLI option: train (--targets) and export (--adapter-modules) both reach it. */
  @Test
  void anEmptyListIsRefusedWithoutNamingAnOption() {
    EncoderDescription d = EncoderDescription.of(TinyBert.model(1));
    Lora4jException e = assertThrows(Lora4jException.class, () -> d.resolveTargets(" , "));
    assertTrue(e.getMessage().startsWith("no module names in ' , '"), e.getMessage());
    assertFalse(e.getMessage().contains("--"), e.getMessage());
  }
}
