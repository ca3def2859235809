package dev.lora4j.trainer.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.lora4j.trainer.PyTorchEngine;
import dev.lora4j.trainer.encoder.ScalarConstants;
import java.util.Random;
import org.junit.jupiter.api.Test;

class HardConcreteTest {
  @Test
  void samplesStayInTheUnitIntervalAndReachBothEnds() {
    Random rnd = new Random(3);
    int zeros = 0;
    int ones = 0;
    for (int i = 0; i < 20000; i++) {
      double g = HardConcrete.sample(0.0, rnd.nextDouble() * (1 - 2e-6) + 1e-6);
      assertTrue(g >= 0 && g <= 1, "sample " + g);
      zeros += g == 0 ? 1 : 0;
      ones += g == 1 ? 1 : 0;
    }
    // the stretch (-0.1, 1.1) puts mass exactly on 0 and 1: about 4% each at log_alpha = 0
    assertTrue(zeros > 400 && ones > 400, zeros + " zeros, " + ones + " ones");
  }

  @Test
  void expectedL0IsTheProbabilityThatAGateIsNonZero() {
    for (double la : new double[] {-3, -1, 0, 0.7, 2.5}) {
      Random rnd = new Random(7);
      int n = 200000;
      int live = 0;
      for (int i = 0; i < n; i++) {
        live += HardConcrete.sample(la, rnd.nextDouble() * (1 - 2e-6) + 1e-6) > 0 ? 1 : 0;
      }
      double closed = HardConcrete.BETA * Math.log(-HardConcrete.GAMMA / HardConcrete.ZETA);
      assertEquals(1 / (1 + Math.exp(-(la - closed))), HardConcrete.expectedL0(la), 1e-12);
      // binomial standard deviation is at most 0.0011 at n = 200000
      assertEquals(HardConcrete.expectedL0(la), (double) live / n, 0.006, "log_alpha " + la);
    }
  }

  @Test
  void testGateIsDeterministicAndExactlyZeroOrOneFarOut() {
    assertEquals(0.0, HardConcrete.testGate(-5));
    assertEquals(1.0, HardConcrete.testGate(5));
    assertEquals(0.5, HardConcrete.testGate(0), 1e-12);
    assertEquals(0.9, 1 / (1 + Math.exp(-HardConcrete.logAlphaForDropRate(0.1))), 1e-12);
  }

  @Test
  void arrayFormsMatchTheScalarOnes() {
    PyTorchEngine.load();
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), PyTorchEngine.NAME)) {
      float[] la = {-4f, -1f, 0f, 0.5f, 3f};
      NDArray x = m.create(la);
      float[] e = HardConcrete.expectedL0(x).toFloatArray();
      float[] t = HardConcrete.testGate(x, new ScalarConstants(m)).toFloatArray();
      float[] s = HardConcrete.sample(x, new ScalarConstants(m)).toFloatArray();
      for (int i = 0; i < la.length; i++) {
        assertEquals(HardConcrete.expectedL0(la[i]), e[i], 1e-6);
        assertEquals(HardConcrete.testGate(la[i]), t[i], 1e-6);
        assertTrue(s[i] >= 0 && s[i] <= 1);
      }
    }
  }
}
