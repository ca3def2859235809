package dev.lora4j.models.base;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import dev.lora4j.models.text.Encoding;
import dev.lora4j.models.text.Tokenizer;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The base model as lora4j resolves and tokenizes it gives the same sentence embeddings as
 * langchain4j's own all-MiniLM-L6-v2 model: our extraction, tokenization, batching with padding and
 * ONNX inputs are right. Pooling lives here only as the reference recipe (mean over the attention
 * mask, then L2 norm).
 */
class MiniLmAcceptanceTest {
  static final List<String> SENTENCES = List.of(
      "A man is eating food.",
      "The new movie is awesome",
      "lora4j trains, shrinks and serves low-rank adapters from the JVM.",
      "Crème brûlée, naïve café — Größe!",
      "Hi",
      // Past 128 tokens: both sides cut it to 128 tokens, [CLS] and [SEP] included.
      String.join(" ", Collections.nCopies(60, "the quick brown fox jumps")));

  @TempDir Path cache;

  @Test
  void embeddingsMatchLangchain4j() throws OrtException {
    BaseModelFiles base = new BaseModelCatalog(cache).resolve("minilm-l6");
    float[][] ours;
    try (Tokenizer tokenizer = Tokenizer.open(base.tokenizer());
        OrtSession session = OrtEnvironment.getEnvironment().createSession(base.onnx().toString())) {
      Encoding enc = tokenizer.encode(SENTENCES);
      assertTrue(enc.isTruncated(SENTENCES.size() - 1));
      assertEquals(128, enc.sequenceLength());
      ours = embed(session, enc);
    }

    AllMiniLmL6V2EmbeddingModel reference = new AllMiniLmL6V2EmbeddingModel();
    double maxDiff = 0;
    for (int i = 0; i < SENTENCES.size(); i++) {
      float[] expected = reference.embed(SENTENCES.get(i)).content().vector();
      assertEquals(384, expected.length);
      for (int k = 0; k < expected.length; k++) {
        maxDiff = Math.max(maxDiff, Math.abs(expected[k] - ours[i][k]));
      }
    }
    System.out.printf("MiniLM vs langchain4j: %d sentences, max abs diff %.3e%n", SENTENCES.size(), maxDiff);
    assertTrue(maxDiff <= 1e-5, "max abs diff " + maxDiff);
  }

  private static float[][] embed(OrtSession session, Encoding enc) throws OrtException {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OnnxTensor ids = OnnxTensor.createTensor(env, enc.inputIdsBuffer(), enc.shape());
        OnnxTensor mask = OnnxTensor.createTensor(env, enc.attentionMaskBuffer(), enc.shape());
        OnnxTensor types = OnnxTensor.createTensor(env, enc.tokenTypeIdsBuffer(), enc.shape());
        OrtSession.Result out = session.run(Map.of("input_ids", ids, "attention_mask", mask, "token_type_ids", types))) {
      OnnxTensor hidden = (OnnxTensor) out.get("last_hidden_state").orElseThrow();
      long[] shape = hidden.getInfo().getShape();
      assertEquals(List.of((long) enc.batchSize(), (long) enc.sequenceLength(), 384L), List.of(shape[0], shape[1], shape[2]));
      return meanPoolAndNormalize(hidden.getFloatBuffer(), enc, 384);
    }
  }

  static float[][] meanPoolAndNormalize(FloatBuffer hidden, Encoding enc, int dim) {
    long[] mask = enc.attentionMask();
    int seq = enc.sequenceLength();
    float[][] result = new float[enc.batchSize()][dim];
    for (int r = 0; r < enc.batchSize(); r++) {
      double[] sum = new double[dim];
      for (int t = 0; t < seq; t++) {
        if (mask[r * seq + t] == 1) {
          for (int k = 0; k < dim; k++) {
            sum[k] += hidden.get((r * seq + t) * dim + k);
          }
        }
      }
      double norm = 0;
      for (int k = 0; k < dim; k++) {
        sum[k] /= enc.tokenCount(r);
        norm += sum[k] * sum[k];
      }
      norm = Math.sqrt(norm);
      for (int k = 0; k < dim; k++) {
        result[r][k] = (float) (sum[k] / norm);
      }
    }
    return result;
  }
}
