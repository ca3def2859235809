package dev.lora4j.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import dev.lora4j.models.adapter.TaskHead.Pooling;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.trainer.PyTorchEngine;
import dev.lora4j.trainer.Precision;
import dev.lora4j.trainer.TrainingConfig;
import dev.lora4j.trainer.data.Batch;
import dev.lora4j.trainer.data.Example;
import dev.lora4j.trainer.encoder.DjlEncoder;
import dev.lora4j.trainer.head.ClassifierHead;
import dev.lora4j.trainer.method.MethodSetup;
import dev.lora4j.trainer.method.MethodState;
import dev.lora4j.trainer.method.Methods;
import dev.lora4j.trainer.method.TrainableParameter;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** One training step with the base in bfloat16: everything the optimizer touches stays float32. */
class Bf16StepTest {
  @Test
  void adapterHeadGradientsAndOptimizerStateStayFloat32WithABf16Base() {
    EncoderDescription base = EncoderDescription.of(TinyBert.model(11));
    TrainingConfig config = TrainingConfig.builder().targets("all").rank(4).alpha(8).precision(Precision.BF16)
        .build();
    Engine engine = PyTorchEngine.load();
    try (NDManager root = NDManager.newBaseManager(Device.cpu(), PyTorchEngine.NAME);
        DjlEncoder enc = DjlEncoder.load(base, root, true);
        MethodState lora = Methods.byId("lora").start(new MethodSetup(base.resolveTargets("all"), config, root,
            new Random(1)));
        ClassifierHead head = ClassifierHead.initial(TinyBert.HIDDEN, List.of("0", "1"), Pooling.MEAN, 0,
            new Random(2), root)) {
      assertTrue(enc.hasBf16());
      List<TrainableParameter> params = new ArrayList<>(lora.parameters());
      params.addAll(head.parameters());
      Random rnd = new Random(3);
      List<Example> examples = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        long[] ids = new long[4 + i];
        ids[0] = 2;
        for (int t = 1; t < ids.length; t++) {
          ids[t] = 5 + rnd.nextInt(TinyBert.vocabSize() - 5);
        }
        examples.add(new Example(ids, i % 2));
      }
      Batch batch = Batch.of(examples, new int[] {0, 1, 2, 3, 4, 5, 6, 7});
      AdamW adam = new AdamW(params);
      try (NDManager m = root.newSubManager()) {
        try (GradientCollector gc = engine.newGradientCollector()) {
          NDArray logits = LogitsAndLoss.logits(enc, lora.hook(true), head, batch, m, true, true);
          assertEquals(DataType.FLOAT32, logits.getDataType());
          gc.backward(LogitsAndLoss.crossEntropy(logits, batch.labels(), m));
        }
        adam.step(params, 1e-3, 1e-3, 0.01);
        for (TrainableParameter p : params) {
          assertEquals(DataType.FLOAT32, p.array().getDataType(), p.name());
          assertEquals(DataType.FLOAT32, p.array().getGradient().getDataType(), p.name() + " gradient");
        }
        assertEquals(2 * params.size(), adam.moments().size());
        double moved = 0;
        for (float[] moment : adam.moments().values()) {
          for (float x : moment) {
            moved += Math.abs(x);
          }
        }
        // B starts at zero, so A's gradient is zero at step 1; B's and the head's are not
        assertTrue(moved > 0, "no moment moved: no gradient reached the parameters");
      }
    }
  }
}
