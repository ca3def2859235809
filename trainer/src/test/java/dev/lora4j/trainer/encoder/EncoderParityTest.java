package dev.lora4j.trainer.encoder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.models.text.Encoding;
import dev.lora4j.models.text.Tokenizer;
import dev.lora4j.trainer.PyTorchEngine;
import dev.lora4j.trainer.OrtEncoder;
import dev.lora4j.trainer.TestResources;
import java.nio.file.Files;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The DJL encoder reproduces ONNX Runtime on the same graph, padding included. */
class EncoderParityTest {

  @Test
  void miniLmMatchesOnnxRuntimeOnPaddedSst2Batch() throws Exception {
    List<String> sentences = Files.readAllLines(TestResources.sst2().resolve("dev.tsv")).subList(1, 9).stream()
        .map(l -> l.substring(0, l.indexOf('\t'))).toList();
    long[][] ids = new long[sentences.size()][];
    try (Tokenizer tok = Tokenizer.open(TestResources.miniLmDir().resolve("tokenizer.json"))) {
      Encoding e = tok.encode(sentences);
      for (int i = 0; i < ids.length; i++) {
        ids[i] = e.rowIds(i);
      }
    }
    EncoderDescription d = TestResources.miniLm();
    assertEquals(-3.4028235e38f, MaskConstant.read(d.model()));
    double diff = maxDiff(d, Files.readAllBytes(TestResources.miniLmDir().resolve("model.onnx")), ids);
    assertTrue(diff <= 1e-4, "max |DJL - ORT| = " + diff);
  }

  @Test
  void tinyBertMatchesOnnxRuntimeOnPaddedBatch() throws Exception {
    Random rnd = new Random(3);
    long[][] ids = new long[6][];
    for (int r = 0; r < ids.length; r++) {
      ids[r] = new long[3 + rnd.nextInt(12)];
      ids[r][0] = 2;
      for (int t = 1; t < ids[r].length; t++) {
        ids[r][t] = 5 + rnd.nextInt(TinyBert.vocabSize() - 5);
      }
    }
    var model = TinyBert.model(11);
    EncoderDescription d = EncoderDescription.of(model);
    assertEquals(-10000f, MaskConstant.read(model));
    double diff = maxDiff(d, model.toBytes(), ids);
    assertTrue(diff <= 1e-5, "max |DJL - ORT| = " + diff);
  }

  /** Pads {@code rows} to the longest, runs both engines, returns the largest difference anywhere. */
  private static double maxDiff(EncoderDescription d, byte[] onnx, long[][] rows) throws Exception {
    int b = rows.length;
    int s = 0;
    for (long[] r : rows) {
      s = Math.max(s, r.length);
    }
    long[][] ids = new long[b][s];
    long[][] mask = new long[b][s];
    for (int r = 0; r < b; r++) {
      System.arraycopy(rows[r], 0, ids[r], 0, rows[r].length);
      for (int t = 0; t < rows[r].length; t++) {
        mask[r][t] = 1;
      }
    }
    float[][][] expected;
    try (OrtEncoder ort = new OrtEncoder(onnx)) {
      expected = ort.lastHiddenState(ids, mask);
    }
    float[] actual;
    PyTorchEngine.load();
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), PyTorchEngine.NAME);
        DjlEncoder enc = DjlEncoder.load(d, m)) {
      Shape shape = new Shape(b, s);
      actual = enc.forward(m.create(OrtEncoder.flat(ids), shape), m.create(OrtEncoder.flat(mask), shape), null,
          ModuleHook.NONE).toFloatArray();
    }
    int h = d.spec().hidden();
    assertEquals((long) b * s * h, actual.length);
    double max = 0;
    for (int r = 0; r < b; r++) {
      for (int t = 0; t < s; t++) {
        for (int j = 0; j < h; j++) {
          max = Math.max(max, Math.abs(expected[r][t][j] - actual[(r * s + t) * h + j]));
        }
      }
    }
    return max;
  }
}
