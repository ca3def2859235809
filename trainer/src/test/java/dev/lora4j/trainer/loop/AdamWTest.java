package dev.lora4j.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.lora4j.trainer.PyTorchEngine;
import dev.lora4j.trainer.method.TrainableParameter;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdamWTest {
  @Test
  void followsTorchAdamWOnAQuadratic() {
    // minimise 0.5 * w^2 from w = 1: grad = w; torch.optim.AdamW(lr=0.1, weight_decay=0.01) semantics
    var engine = PyTorchEngine.load();
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), PyTorchEngine.NAME)) {
      NDArray w = m.create(new float[] {1f});
      w.setRequiresGradient(true);
      List<TrainableParameter> p = List.of(new TrainableParameter("w", w, TrainableParameter.Updater.ADAPTER, true));
      double ref = 1;
      double mm = 0;
      double vv = 0;
      AdamW adam = new AdamW(p);
      for (int t = 1; t <= 3; t++) {
        try (GradientCollector c = engine.newGradientCollector()) {
          c.backward(w.square().mul(0.5f).sum());
        }
        adam.step(p, 0.1, 0.1, 0.01);
        Gradients.zero(p);
        double g = ref;
        mm = 0.9 * mm + 0.1 * g;
        vv = 0.999 * vv + 0.001 * g * g;
        ref *= 1 - 0.1 * 0.01;
        ref -= 0.1 * (mm / (1 - Math.pow(0.9, t))) / (Math.sqrt(vv / (1 - Math.pow(0.999, t))) + 1e-8);
        assertEquals(ref, w.getFloat(), 1e-6, "step " + t);
      }
      assertEquals(3, adam.steps());
    }
  }

  @Test
  void learningRateWarmsUpThenDecaysToZero() {
    LearningRateSchedule s = LearningRateSchedule.of(100, 0.1);
    assertEquals(10, s.warmupSteps());
    assertEquals(0.1, s.factor(0), 1e-12);
    assertEquals(1.0, s.factor(9), 1e-12);
    assertEquals(1.0, s.factor(10), 1e-12);
    assertEquals(0.5, s.factor(55), 1e-12);
    assertEquals(1 / 90.0, s.factor(99), 1e-12);
  }
}
