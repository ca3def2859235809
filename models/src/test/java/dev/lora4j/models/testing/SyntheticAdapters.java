package dev.lora4j.models.testing;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.tensor.Matrix;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Random plain-LoRA classifier adapters for a base model, for benchmarks and tests: big enough
 * updates that two adapters clearly disagree, so a test can tell which one answered. Deterministic
 * for a seed. Never a substitute for a trained adapter where accuracy matters.
 */
public final class SyntheticAdapters {
  private SyntheticAdapters() {}

  public static Matrix random(Random rnd, int rows, int cols, double std) {
    float[] v = new float[rows * cols];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (rnd.nextGaussian() * std);
    }
    return new Matrix(rows, cols, v);
  }

  /** A classifier head with labels {@code label0..label<n-1>}. */
  public static TaskHead classifier(Random rnd, int hidden, int labels, TaskHead.Pooling pooling) {
    float[] bias = new float[labels];
    List<String> names = new ArrayList<>();
    for (int i = 0; i < labels; i++) {
      bias[i] = (float) rnd.nextGaussian() * 0.1f;
      names.add("label" + i);
    }
    return TaskHead.classifier(pooling, random(rnd, labels, hidden, 1.0), bias, names);
  }

  /** A LoRA classifier on the modules of {@code ranks}, for the base {@code ref} describes. */
  public static Adapter classifier(EncoderDescription base, BaseModelRef ref, String name, Map<String, Integer> ranks,
      int labels, TaskHead.Pooling pooling, long seed) {
    Random rnd = new Random(seed);
    List<LowRankModule> modules = new ArrayList<>();
    for (Map.Entry<String, Integer> e : ranks.entrySet()) {
      LinearModule lm = base.requireModule(e.getKey());
      int r = e.getValue();
      modules.add(LowRankModule.lora(e.getKey(), random(rnd, r, lm.inFeatures(), 1 / Math.sqrt(lm.inFeatures())),
          random(rnd, lm.outFeatures(), r, 0.3), 2.0 / r));
    }
    return new Adapter(name, ref, Adapter.byName(modules),
        classifier(rnd, base.spec().hidden(), labels, pooling), Provenance.of("lora"));
  }
}
