package dev.lora4j.trainer.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.models.testing.ReferenceEncoder;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.trainer.PyTorchEngine;
import dev.lora4j.trainer.TrainingConfig;
import dev.lora4j.trainer.encoder.DjlEncoder;
import dev.lora4j.trainer.encoder.ModuleHook;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The trained branch computes exactly the update its exported {@link LowRankModule} describes. */
class LowRankBranchTest {
  static final long[] IDS = {2, 8, 14, 12, 31, 61, 3};

  @Test
  void zeroBStartsExactlyAtTheBase() {
    EncoderDescription d = EncoderDescription.of(TinyBert.model(5));
    for (String method : new String[] {"lora", "sora"}) {
      TrainingConfig c = TrainingConfig.builder().method(method).targets("all").rank(4).build();
      PyTorchEngine.load();
      try (NDManager m = NDManager.newBaseManager(Device.cpu(), PyTorchEngine.NAME);
          DjlEncoder enc = DjlEncoder.load(d, m);
          MethodState state = Methods.byId(method).start(
              new MethodSetup(d.resolveTargets("all"), c, m, new Random(1)))) {
        float[] base = hidden(enc, ModuleHook.NONE, m);
        float[] adapted = hidden(enc, state.hook(false), m);
        assertArrayEquals(base, adapted, method + ": B = 0 must leave the base output bit for bit");
        assertEquals(12 * 4, state.activeRanks().values().stream().mapToInt(Integer::intValue).sum());
      }
    }
  }

  @Test
  void gatedBranchMatchesTheReferenceEncoderWithTheExportedDeltas() {
    EncoderDescription d = EncoderDescription.of(TinyBert.model(5));
    TrainingConfig c = TrainingConfig.builder().method("sora").targets("query,value,intermediate").rank(4)
        .alpha(6).build();
    Random rnd = new Random(9);
    PyTorchEngine.load();
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), PyTorchEngine.NAME);
        DjlEncoder enc = DjlEncoder.load(d, m);
        LowRankState state = (LowRankState) Methods.byId("sora").start(
            new MethodSetup(d.resolveTargets(c.targets()), c, m, new Random(1)))) {
      for (LowRankBranch b : state.branches().values()) {
        fill(b.b(), rnd, 0.3f);
        TrainableParameter.overwrite(b.gate().leaves().get(0), new float[] {1.5f, 0f, -0.7f, 0.2f});
      }
      float[] djl = hidden(enc, state.hook(false), m);
      Map<String, Matrix> deltas = new HashMap<>();
      for (LowRankModule x : state.export()) {
        assertEquals(1.5, x.scaling(), 1e-12);
        assertEquals(3, x.compact().rank(), "the zero gate drops one rank at export");
        deltas.put(x.module(), x.delta());
      }
      double[][] ref = new ReferenceEncoder(d, deltas).forward(IDS);
      double max = 0;
      for (int t = 0; t < ref.length; t++) {
        for (int j = 0; j < ref[t].length; j++) {
          max = Math.max(max, Math.abs(ref[t][j] - djl[t * ref[t].length + j]));
        }
      }
      assertTrue(max < 1e-4, "max |DJL - reference| = " + max);
      assertEquals(3 * 2 * 3, state.activeRanks().values().stream().mapToInt(Integer::intValue).sum());
    }
  }

  @Test
  void truncatedBranchUsesOnlyItsLeadingRanks() {
    PyTorchEngine.load();
    try (NDManager m = NDManager.newBaseManager(Device.cpu(), PyTorchEngine.NAME)) {
      LowRankBranch b = LowRankBranch.initial("x", 5, 3, 4, 1.0, 0, null, null, new Random(2), m);
      fill(b.b(), new Random(3), 1f);
      NDArray x = m.randomNormal(new Shape(2, 5));
      b.setActiveRank(2);
      float[] cut = b.forward(x, false).toFloatArray();
      float[] expected = x.matMul(b.a().get("0:2").transpose()).matMul(b.b().get(":,0:2").transpose())
          .toFloatArray();
      assertArrayEquals(expected, cut, 1e-6f);
    }
  }

  private static void fill(NDArray a, Random rnd, float std) {
    float[] v = new float[(int) a.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) rnd.nextGaussian() * std;
    }
    TrainableParameter.overwrite(a, v);
  }

  private static float[] hidden(DjlEncoder enc, ModuleHook hook, NDManager m) {
    Shape s = new Shape(1, IDS.length);
    long[] mask = new long[IDS.length];
    java.util.Arrays.fill(mask, 1);
    return enc.forward(m.create(IDS, s), m.create(mask, s), null, hook).toFloatArray();
  }
}
