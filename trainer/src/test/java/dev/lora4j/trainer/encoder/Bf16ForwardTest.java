package dev.lora4j.trainer.encoder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.trainer.PyTorchEngine;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The frozen base in bfloat16 (training steps with {@code --precision bf16}) against float32 on the
 * tiny model: same function within bfloat16's rounding, yet really computed in bfloat16.
 *
 * <p>Tolerance: bfloat16 keeps 8 significant bits, so one round-to-nearest moves a value by at most
 * {@code 2^-9} of itself. A layer rounds about six times on the way from its input to its output
 * (input, weights, product of each linear, attention probabilities, residual sum, layer-norm output),
 * the embeddings three times, and layer norm re-normalises to unit scale, so relative errors add up
 * rather than compound: the root-mean-square difference may reach {@code (6 L + 3) 2^-9} of the
 * float32 hidden state's RMS (L = layers), about 2.9 % for the 2-layer model (measured: 0.77 %; the
 * gradients below 2.5-2.9 % against twice that bound). Below {@code 2^-12} of it would mean bfloat16
 * did not run: float32 alone gives exactly 0.
 */
class Bf16ForwardTest {
  static EncoderDescription base;
  static final double ROUNDING = Math.pow(2, -9);

  @BeforeAll
  static void model() {
    base = EncoderDescription.of(TinyBert.model(11));
    PyTorchEngine.load();
  }

  @Test
  void bf16ForwardAgreesWithFloat32WithinBfloat16RoundingAndDiffersFromIt() {
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), PyTorchEngine.NAME);
        DjlEncoder enc = DjlEncoder.load(base, m, true)) {
      NDArray[] in = batch(m);
      float[] fp32 = enc.forward(in[0], in[1], null, ModuleHook.NONE).toFloatArray();
      NDArray low = enc.forward(in[0], in[1], null, ModuleHook.NONE, true);
      assertEquals(DataType.FLOAT32, low.getDataType(), "the head must receive float32");
      double rel = relativeRms(fp32, low.toFloatArray());
      double bound = (6 * TinyBert.LAYERS + 3) * ROUNDING;
      assertTrue(rel <= bound, "RMS(bf16 - fp32) / RMS(fp32) = " + rel + " > " + bound);
      assertTrue(rel >= Math.pow(2, -12), "bf16 forward equals fp32 (" + rel + "): bfloat16 did not run");
    }
  }

  @Test
  void bf16WeightsAreTheFloat32WeightsRoundedToBfloat16() {
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), PyTorchEngine.NAME);
        DjlEncoder enc = DjlEncoder.load(base, m, true);
        DtypeCast cast = new DtypeCast(m)) {
      String name = "encoder.layer.1.intermediate.dense.weight";
      float[] w = base.weights().get(name).data();
      float[] stored = cast.toFp32(enc.bf16Weight(name)).toFloatArray();
      int changed = 0;
      for (int i = 0; i < w.length; i++) {
        assertEquals(roundToBfloat16(w[i]), stored[i], 0f, name + "[" + i + "] of " + w[i]);
        changed += stored[i] != w[i] ? 1 : 0;
      }
      // random float32 weights almost never have 16 trailing zero bits
      assertTrue(changed > w.length / 2, changed + " of " + w.length + " weights changed by the cast");
    }
  }

  @Test
  void bf16GradientsReachAdaptersInEveryLayerAsInFloat32() {
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), PyTorchEngine.NAME);
        DjlEncoder enc = DjlEncoder.load(base, m, true)) {
      Map<String, float[]> fp32 = gradients(enc, m, false);
      Map<String, float[]> bf16 = gradients(enc, m, true);
      for (String module : fp32.keySet()) {
        double rel = relativeRms(fp32.get(module), bf16.get(module));
        // backward rounds as often again as forward: twice the forward bound
        double bound = 2 * (6 * TinyBert.LAYERS + 3) * ROUNDING;
        assertTrue(rel <= bound, module + ": RMS(grad bf16 - grad fp32) / RMS = " + rel + " > " + bound);
      }
    }
  }

  /**
   * Gradient of the sum of squares of the last hidden state with respect to a float32 matrix P added
   * as {@code x P} to the first and last linear module: the first only gets one if autograd crosses
   * every cast between it and the output.
   */
  private static Map<String, float[]> gradients(DjlEncoder enc, NDManager m, boolean bf16) {
    Map<String, NDArray> p = new LinkedHashMap<>();
    Random rnd = new Random(5);
    for (String module : new String[] {"encoder.layer.0.attention.self.query", "encoder.layer.1.output.dense"}) {
      int in = module.endsWith("output.dense") ? TinyBert.INTERMEDIATE : TinyBert.HIDDEN;
      float[] v = new float[in * TinyBert.HIDDEN];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) (rnd.nextGaussian() * 0.05);
      }
      NDArray a = m.create(v, new Shape(in, TinyBert.HIDDEN));
      a.setRequiresGradient(true);
      p.put(module, a);
    }
    ModuleHook hook = (module, x) -> {
      NDArray a = p.get(module);
      if (a == null) {
        return null;
      }
      assertEquals(DataType.FLOAT32, x.getDataType(), module + ": hooks see a float32 input");
      return x.matMul(a);
    };
    NDArray[] in = batch(m);
    try (GradientCollector gc = Engine.getEngine(PyTorchEngine.NAME).newGradientCollector()) {
      NDArray h = enc.forward(in[0], in[1], null, hook, bf16);
      gc.backward(h.mul(h).sum());
    }
    Map<String, float[]> g = new LinkedHashMap<>();
    p.forEach((k, a) -> {
      assertEquals(DataType.FLOAT32, a.getGradient().getDataType());
      g.put(k, a.getGradient().toFloatArray());
    });
    return g;
  }

  /** Six padded rows of random tokens (ids and mask). */
  private static NDArray[] batch(NDManager m) {
    Random rnd = new Random(3);
    int rows = 6;
    int seq = 14;
    long[] ids = new long[rows * seq];
    long[] mask = new long[rows * seq];
    for (int r = 0; r < rows; r++) {
      int len = 3 + rnd.nextInt(seq - 3);
      for (int t = 0; t < len; t++) {
        ids[r * seq + t] = t == 0 ? 2 : 5 + rnd.nextInt(TinyBert.vocabSize() - 5);
        mask[r * seq + t] = 1;
      }
    }
    Shape s = new Shape(rows, seq);
    return new NDArray[] {m.create(ids, s), m.create(mask, s)};
  }

  private static double relativeRms(float[] expected, float[] actual) {
    assertEquals(expected.length, actual.length);
    double d = 0;
    double n = 0;
    for (int i = 0; i < expected.length; i++) {
      d += (expected[i] - actual[i]) * (double) (expected[i] - actual[i]);
      n += expected[i] * (double) expected[i];
    }
    return Math.sqrt(d / n);
  }

  /** IEEE round-to-nearest-even of a float32 to bfloat16 (its top 16 bits), back as float32. */
  static float roundToBfloat16(float f) {
    int bits = Float.floatToRawIntBits(f);
    int lsb = (bits >> 16) & 1;
    return Float.intBitsToFloat((bits + 0x7FFF + lsb) & 0xFFFF0000);
  }
}
