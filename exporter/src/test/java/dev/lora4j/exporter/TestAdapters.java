package dev.lora4j.exporter;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.testing.SyntheticAdapters;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.tensor.Matrix;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Random adapters of every shape the exporter must handle: plain LoRA, gated (SoRA), with T (MTLoRA). */
final class TestAdapters {
  private TestAdapters() {}

  /** How each module's update is parameterised. */
  enum Kind { LORA, GATED, GATED_WITH_T }

  static Matrix random(Random rnd, int rows, int cols, double std) {
    return SyntheticAdapters.random(rnd, rows, cols, std);
  }

  static TaskHead classifier(int hidden, int labels, TaskHead.Pooling pooling, long seed) {
    return SyntheticAdapters.classifier(new Random(seed), hidden, labels, pooling);
  }

  /**
   * An adapter on {@code ranks.keySet()} with the given ranks. Gated kinds zero every third gate
   * (ranks 0, 3, 6, ... die) and, for modules listed in {@code deadModules}, every gate.
   */
  static Adapter adapter(EncoderDescription base, String name, Map<String, Integer> ranks, Kind kind,
      TaskHead head, long seed, String... deadModules) {
    Random rnd = new Random(seed);
    List<LowRankModule> modules = new ArrayList<>();
    for (Map.Entry<String, Integer> e : ranks.entrySet()) {
      LinearModule lm = base.requireModule(e.getKey());
      int r = e.getValue();
      Matrix a = random(rnd, r, lm.inFeatures(), 1 / Math.sqrt(lm.inFeatures()));
      Matrix b = random(rnd, lm.outFeatures(), r, 0.3);
      double scaling = 2.0 / r;
      if (kind == Kind.LORA) {
        modules.add(LowRankModule.lora(e.getKey(), a, b, scaling));
        continue;
      }
      boolean dead = List.of(deadModules).contains(e.getKey());
      float[] gate = new float[r];
      for (int i = 0; i < r; i++) {
        gate[i] = dead || i % 3 == 0 ? 0f : (float) (0.5 + rnd.nextDouble());
      }
      Matrix t = kind == Kind.GATED_WITH_T ? Matrix.identity(r).add(random(rnd, r, r, 0.2)) : null;
      modules.add(new LowRankModule(e.getKey(), a, b, scaling, gate, t));
    }
    return new Adapter(name, new BaseModelRef("test-base", null), Adapter.byName(modules), head,
        Provenance.of(kind == Kind.LORA ? "lora" : "sora"));
  }
}
