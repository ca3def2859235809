package dev.lora4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.trainer.loop.TrainingListener;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each new method trains on the tiny model for a few steps and exports an adapter that compacts. */
class NewMethodsTrainingTest {
  @TempDir static Path dir;
  static TinyTask task;

  @BeforeAll
  static void data() throws Exception {
    task = TinyTask.open(dir, 96, 48);
  }

  static TrainingConfig.Builder tiny(String method) {
    return TrainerTest.tiny().method(method).epochs(2).batchSize(16);
  }

  static TrainingResult train(TrainingConfig c) {
    return Trainer.train(task.run(c, null, false, c.method()), TrainingListener.NONE);
  }

  /** The exported adapter compacts to the ranks the summary reports, with the same delta W. */
  static Adapter checkExport(TrainingResult r) {
    Adapter a = r.adapter();
    Adapter c = a.compact();
    Map<String, Integer> live = new java.util.LinkedHashMap<>(r.summary().ranks());
    live.values().removeIf(v -> v == 0);
    assertEquals(live, c.ranks(), "ranks reported = ranks exported (compact drops modules left with none)");
    for (LowRankModule m : a.modules().values()) {
      LowRankModule n = c.modules().get(m.module());
      Matrix kept = n == null ? Matrix.zeros(m.outFeatures(), m.inFeatures()) : n.delta();
      assertTrue(n == null || n.isCompact());
      assertTrue(m.delta().maxAbsDifference(kept) < 1e-5, m.module());
    }
    assertTrue(r.summary().kept() != null);
    return a;
  }

  @Test
  void saloraWithATargetPrunesGatesAndLearnsItsMultipliers() {
    TrainingConfig c = tiny("salora").epochs(4).keepBest(false).salora(new SaloraConfig(0, 0.5, 0.2, 0.5, 0.1, 0.1))
        .build();
    TrainingResult r = train(c);
    Adapter a = checkExport(r);
    LowRankModule q = a.modules().values().iterator().next();
    assertEquals(4, q.gate().length);
    for (float g : q.gate()) {
      assertTrue(g >= 0 && g <= 1);
    }
    assertTrue(r.summary().keptRanks() < r.summary().initialRanks(),
        "a 50% target prunes: kept " + r.summary().keptRanks() + " of " + r.summary().initialRanks());
    assertEquals(0.5, a.provenance().hyperParameters().get("target-sparsity"));
  }

  @Test
  void mtloraLearnsItsTransform() {
    for (TransformKind k : new TransformKind[] {TransformKind.FULL, TransformKind.PSD}) {
      Adapter a = checkExport(train(tiny("mtlora").transform(k).build()));
      LowRankModule m = a.modules().values().iterator().next();
      assertTrue(m.transform().maxAbsDifference(Matrix.identity(4)) > 1e-4,
          k.id() + ": T moved from I");
      assertEquals(k.id(), a.provenance().hyperParameters().get("transform"));
    }
  }

  @Test
  void dyloraExportsTheChosenRank() {
    NestedRankConfig n = NestedRankConfig.DEFAULT.withExportRank("2");
    TrainingResult r = train(tiny("dylora").nested(n).build());
    checkExport(r);
    r.adapter().modules().values().forEach(m -> assertEquals(2, m.rank()));
    TrainingResult frozen = train(tiny("dylora").nested(new NestedRankConfig(NestedRankConfig.Mode.FROZEN, 0, false,
        0.01, 48, 1, 1, 0, 1)).build());
    checkExport(frozen).modules().values().forEach(m -> assertEquals(4, m.rank()));
  }

  @Test
  void dyloraAutoSweepStaysWithinToleranceOfTheFullRank() {
    TrainingConfig full = tiny("dylora").build();
    TrainingConfig auto = tiny("dylora").nested(NestedRankConfig.DEFAULT.withExportRank("auto")).build();
    double fullAcc = train(full).summary().kept().accuracy();
    TrainingResult r = train(auto);
    checkExport(r);
    // same seed and steps: the same weights, so the sweep's floor is fullAcc - 0.005 on all 48 examples
    assertTrue(r.summary().kept().accuracy() >= fullAcc - 0.005 - 1e-9,
        r.summary().kept().accuracy() + " vs full " + fullAcc);
    assertTrue(r.summary().keptRanks() <= r.summary().initialRanks());
    Lora4jException e = assertThrows(Lora4jException.class, () -> Trainer.train(
        new TrainingRun(auto, task.base(), task.train(), null, null, false, "x"), TrainingListener.NONE));
    assertTrue(e.getMessage().startsWith("--export-rank auto picks ranks on the dev set"), e.getMessage());
  }

  @Test
  void eratExportsEachLayersBudget() {
    TrainingResult r = train(tiny("erat").build());
    Adapter a = checkExport(r);
    // 2 layers, rank 4, depth-min 0.5: layer 0 ends with 2 ranks, layer 1 with 4
    for (Map.Entry<String, Integer> e : a.ranks().entrySet()) {
      assertEquals(e.getKey().startsWith("encoder.layer.0.") ? 2 : 4, e.getValue(), e.getKey());
    }
  }

  @Test
  void badNestedOptionsAreNamed() {
    Lora4jException e = assertThrows(Lora4jException.class,
        () -> tiny("dylora").nested(NestedRankConfig.DEFAULT.withExportRank("9")).build());
    assertEquals("--export-rank 9 exceeds --rank 4", e.getMessage());
    e = assertThrows(Lora4jException.class, () -> NestedRankConfig.DEFAULT.withExportRank("most"));
    assertEquals("--export-rank must be a positive number, 'full' or 'auto', not 'most'", e.getMessage());
  }
}
