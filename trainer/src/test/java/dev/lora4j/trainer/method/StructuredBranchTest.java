package dev.lora4j.trainer.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.trainer.PyTorchEngine;
import dev.lora4j.trainer.TransformKind;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** MTLoRA transforms and nested-rank truncation against plain LoRA, and their exports. */
class StructuredBranchTest {
  NDManager m;
  NDArray x;

  @BeforeEach
  void open() {
    PyTorchEngine.load();
    m = NDManager.newBaseManager(Device.cpu(), PyTorchEngine.NAME);
    x = m.create(gaussian(new Random(5), 3 * 6, 1f), new Shape(3, 6));
  }

  @AfterEach
  void close() {
    m.close();
  }

  LowRankBranch branch(BranchFactor transform) {
    LowRankBranch b = LowRankBranch.initial("mod", 6, 5, 4, 1.5, 0, null, transform, new Random(2), m);
    TrainableParameter.overwrite(b.b(), gaussian(new Random(3), 5 * 4, 0.5f));
    return b;
  }

  @Test
  void identityTransformReproducesLoraExactly() {
    float[] lora = branch(null).forward(x, false).toFloatArray();
    for (TransformKind k : TransformKind.values()) {
      LowRankBranch b = branch(Transforms.create(k, "mod", 4, m));
      assertArrayEquals(lora, b.forward(x, false).toFloatArray(), 1e-6f, k.id());
      LowRankModule e = b.export();
      assertTrue(e.transform().maxAbsDifference(Matrix.identity(4)) == 0, k.id() + ": T starts at I");
      assertTrue(e.delta().maxAbsDifference(branch(null).export().delta()) < 1e-6, k.id());
    }
  }

  @Test
  void perturbedTransformsKeepTheirStructureAndFoldIntoB() {
    for (TransformKind k : TransformKind.values()) {
      BranchFactor t = Transforms.create(k, "mod", 4, m);
      Random rnd = new Random(11);
      for (NDArray leaf : t.leaves()) {
        float[] v = leaf.toFloatArray();
        for (int i = 0; i < v.length; i++) {
          v[i] += (float) rnd.nextGaussian() * 0.3f;
        }
        TrainableParameter.overwrite(leaf, v);
      }
      LowRankBranch b = branch(t);
      Matrix tm = new Matrix(4, 4, t.exported());
      if (k == TransformKind.PSD) {
        assertTrue(tm.maxAbsDifference(tm.transpose()) < 1e-6, "psd: symmetric");
        for (int i = 0; i < 4; i++) {
          assertTrue(tm.get(i, i) >= 0, "psd: non-negative diagonal");
        }
      }
      // the trained forward equals the compact export: x A'^T B'^T with B' = s B T
      LowRankModule c = b.export().compact();
      NDArray viaExport = x.matMul(m.create(c.a().data(), new Shape(4, 6)).transpose())
          .matMul(m.create(c.b().data(), new Shape(5, 4)).transpose());
      assertArrayEquals(viaExport.toFloatArray(), b.forward(x, false).toFloatArray(), 1e-5f, k.id());
    }
  }

  @Test
  void truncationToBIsTheLoraOfTheFirstBRanks() {
    LowRankBranch b = branch(null);
    for (int rank = 1; rank <= 4; rank++) {
      LowRankModule cut = NestedRanks.leading(b.export(), rank);
      LowRankBranch lora = new LowRankBranch("mod", b.a().get("0:" + rank), b.b().get(":,0:" + rank), null, null,
          1.5, 0);
      assertArrayEquals(lora.forward(x, false).toFloatArray(), b.forward(x, false, rank, 0).toFloatArray(), 1e-6f);
      assertEquals(rank, cut.rank());
      Matrix want = lora.export().delta();
      assertTrue(cut.delta().maxAbsDifference(want) < 1e-6, "rank " + rank);
    }
  }

  @Test
  void frozenRanksPassNoGradient() {
    LowRankBranch b = branch(null);
    Engine engine = Engine.getEngine(PyTorchEngine.NAME);
    try (GradientCollector gc = engine.newGradientCollector()) {
      gc.backward(b.forward(x, true, 3, 2).sum());
    }
    float[] ga = b.a().getGradient().toFloatArray();
    float[] gb = b.b().getGradient().toFloatArray();
    for (int r = 0; r < 4; r++) {
      double na = 0;
      for (int j = 0; j < 6; j++) {
        na += Math.abs(ga[r * 6 + j]);
      }
      double nb = 0;
      for (int o = 0; o < 5; o++) {
        nb += Math.abs(gb[o * 4 + r]);
      }
      assertEquals(r == 2, na > 0, "A row " + r + " learns only when it is rank b");
      assertEquals(r == 2, nb > 0, "B column " + r);
    }
  }

  @Test
  void keepOutsideRestoresEverythingButTheTrainedWindow() {
    float[] before = {1, 2, 3, 4, 5, 6};
    float[] after = {10, 20, 30, 40, 50, 60};
    // 3 ranks as rows of 2: only rank 1 was trained
    assertArrayEquals(new float[] {1, 2, 30, 40, 5, 6}, NestedRanks.keepOutside(before, after, 3, 2, 0, 1, 2));
    // 2 rows x 3 ranks as columns: ranks 0..1 trained
    assertArrayEquals(new float[] {10, 20, 3, 40, 50, 6}, NestedRanks.keepOutside(before, after, 2, 3, 1, 0, 2));
  }

  static float[] gaussian(Random rnd, int n, float std) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) rnd.nextGaussian() * std;
    }
    return v;
  }
}
