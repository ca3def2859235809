package dev.lora4j.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.lora4j.trainer.PyTorchEngine;
import dev.lora4j.trainer.method.TrainableParameter;
import dev.lora4j.trainer.method.TrainableParameter.Updater;
import java.util.List;
import org.junit.jupiter.api.Test;

class GradientsTest {
  @Test
  void clipsToTheGlobalNormAndScalesWhatMethodsReadInPlace() {
    var engine = PyTorchEngine.load();
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), PyTorchEngine.NAME)) {
      NDArray a = m.create(new float[] {1f, 2f});
      NDArray g = m.create(new float[] {3f});
      a.setRequiresGradient(true);
      g.setRequiresGradient(true);
      List<TrainableParameter> params = List.of(new TrainableParameter("a", a, Updater.ADAPTER, true),
          new TrainableParameter("g", g, Updater.METHOD, false));
      try (GradientCollector c = engine.newGradientCollector()) {
        // d/da = (3, 4), d/dg = 12: global norm 13
        c.backward(a.mul(m.create(new float[] {3f, 4f})).sum().add(g.mul(m.create(new float[] {12f})).sum()));
      }
      Gradients grads = Gradients.read(params);
      assertEquals(13.0, grads.clip(1.0), 1e-6);
      float s = (float) (1.0 / (13.0 + 1e-6)); // clip_grad_norm_'s factor, eps included
      assertArrayEquals(new float[] {3 * s, 4 * s}, grads.of(params.get(0)), 1e-7f);
      assertArrayEquals(new float[] {12 * s}, grads.of(params.get(1)), 1e-7f);
      // the method's own parameter is scaled where SoRA's proximal step reads it ...
      assertArrayEquals(new float[] {12 * s}, g.getGradient().toFloatArray(), 1e-7f);
      // ... and a norm under the bound leaves everything as it was
      Gradients.zero(params);
      try (GradientCollector c = engine.newGradientCollector()) {
        c.backward(a.mul(m.create(new float[] {0.3f, 0.4f})).sum());
      }
      Gradients small = Gradients.read(params);
      assertEquals(0.5, small.clip(1.0), 1e-6);
      assertArrayEquals(new float[] {0.3f, 0.4f}, small.of(params.get(0)), 0f);
      assertArrayEquals(new float[] {0f}, g.getGradient().toFloatArray(), 0f);
    }
  }
}
