package dev.lora4j.trainer.method;

import ai.djl.ndarray.NDArray;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.trainer.NestedRankConfig;
import dev.lora4j.trainer.encoder.ModuleHook;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Nested-rank training shared by DyLoRA and ERAT-DLoRA: plain LoRA branches of which each training
 * step uses only the first b ranks, b drawn per module and step from an {@link EratSchedule}, so every
 * truncation 1..b is a model that was trained. In {@code full} mode ranks 1..b learn; in
 * {@code frozen} mode only rank b does (DyLoRA's frozen variant). Ranks outside what learned this
 * step are restored after AdamW, which would otherwise move them through momentum and weight decay.
 *
 * <p>Between steps — evaluation, export — each module runs at its export rank: the schedule's cap for
 * the layer, lowered to {@code --export-rank} when given, or picked by a {@link RankSweep} on dev data
 * at the end with {@code --export-rank auto}.
 */
final class NestedRankState extends LowRankState {
  private final NestedRankConfig config;
  private final EratSchedule schedule;
  private final long seed;
  private final Map<String, Integer> layer = new HashMap<>();
  private final Map<String, int[]> window = new HashMap<>();
  private final Map<String, float[][]> before = new HashMap<>();

  NestedRankState(MethodSetup setup, java.util.function.IntFunction<EratSchedule> scheduleForLayers) {
    super(setup);
    this.config = setup.config().nested();
    this.seed = setup.config().seed();
    // depth counts adapted layers only: with targets in layers 0..5, layer 5 is the deepest
    List<Integer> layers = List.copyOf(new TreeSet<>(setup.targets().stream().map(LinearModule::layer).toList()));
    this.schedule = scheduleForLayers.apply(Math.max(1, layers.size()));
    for (LinearModule t : setup.targets()) {
      int depth = layers.indexOf(t.layer());
      layer.put(t.name(), depth);
      int cap = schedule.cap(depth);
      int export = config.exportRank() == NestedRankConfig.EVERY_RANK ? cap : Math.min(cap, config.exportRank());
      branches().get(t.name()).setActiveRank(export);
    }
  }

  static void requireDevForAuto(dev.lora4j.trainer.TrainingConfig config, boolean hasDev) {
    if (config.nested().autoExportRank() && !hasDev) {
      throw new Lora4jException(NO_DEV);
    }
  }

  private static final String NO_DEV =
      "--export-rank auto picks ranks on the dev set; give --dev or a fixed --export-rank";

  EratSchedule schedule() {
    return schedule;
  }

  @Override
  public void beforeStep(StepInfo step) {
    int i = 0;
    for (LowRankBranch b : branches().values()) {
      int l = layer.get(b.module());
      int used = schedule.sample(l, step.progress(), seed, step.step(), i++);
      int first = config.mode() == NestedRankConfig.Mode.FROZEN ? used - 1 : 0;
      window.put(b.module(), new int[] {first, used});
      before.put(b.module(), new float[][] {b.a().toFloatArray(), b.b().toFloatArray()});
    }
  }

  @Override
  public ModuleHook hook(boolean training) {
    if (!training) {
      return super.hook(false);
    }
    return ModuleHook.only(branches().keySet(), (module, input) -> {
      LowRankBranch b = branches().get(module);
      if (b == null) {
        return null;
      }
      int[] w = window.get(module);
      return b.forward(input, true, w[1], w[0]);
    });
  }

  @Override
  public void afterOptimizerStep(StepInfo step) {
    for (LowRankBranch b : branches().values()) {
      int[] w = window.get(b.module());
      float[][] old = before.get(b.module());
      int r = b.rank();
      int in = (int) b.a().getShape().get(1);
      int out = (int) b.b().getShape().get(0);
      TrainableParameter.overwrite(b.a(), NestedRanks.keepOutside(old[0], b.a().toFloatArray(), r, in, 0, w[0], w[1]));
      TrainableParameter.overwrite(b.b(), NestedRanks.keepOutside(old[1], b.b().toFloatArray(), out, r, 1, w[0], w[1]));
    }
  }

  @Override
  public Map<String, Double> stepMetrics(StepInfo step) {
    double sum = 0;
    for (int[] w : window.values()) {
      sum += w[1];
    }
    return window.isEmpty() ? Map.of() : Map.of("mean_rank_used", sum / window.size());
  }

  @Override
  public boolean finish(DevScorer dev) {
    if (!config.autoExportRank() || branches().isEmpty()) {
      return false;
    }
    if (dev == null) {
      throw new Lora4jException(NO_DEV);
    }
    Map<String, Integer> caps = new LinkedHashMap<>(activeRanks());
    RankSweep.choose(caps, config.tolerance(), (m, r) -> branches().get(m).setActiveRank(r),
        () -> dev.accuracy(hook(false), config.sweepExamples()));
    return true;
  }

  @Override
  public List<LowRankModule> export() {
    return branches().values().stream().map(b -> NestedRanks.leading(b.export(), b.activeRank())).toList();
  }
}
