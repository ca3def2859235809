package dev.lora4j.trainer.method;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.trainer.TrainingConfig;
import dev.lora4j.trainer.encoder.ModuleHook;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * State shared by the low-rank methods: one {@link LowRankBranch} per target module, A and B trained
 * by AdamW. Subclasses add gates, transforms or rank schedules through the {@link MethodState} hooks.
 */
public class LowRankState implements MethodState {
  private final NDManager manager;
  private final Map<String, LowRankBranch> branches = new LinkedHashMap<>();

  protected LowRankState(MethodSetup setup, boolean gates, boolean transforms) {
    TrainingConfig c = setup.config();
    this.manager = setup.manager().newSubManager();
    for (LinearModule t : setup.targets()) {
      branches.put(t.name(), LowRankBranch.initial(t.name(), t.inFeatures(), t.outFeatures(), c.rank(), c.scaling(),
          c.dropout(), gates, transforms, setup.random(), manager));
    }
  }

  public Map<String, LowRankBranch> branches() {
    return Collections.unmodifiableMap(branches);
  }

  @Override
  public ModuleHook hook(boolean training) {
    return (module, input, output) -> {
      LowRankBranch b = branches.get(module);
      NDArray delta = b == null ? null : b.forward(input, training);
      return delta == null ? output : output.add(delta);
    };
  }

  @Override
  public List<TrainableParameter> parameters() {
    List<TrainableParameter> p = new ArrayList<>();
    for (LowRankBranch b : branches.values()) {
      p.add(new TrainableParameter(b.a().getName(), b.a(), TrainableParameter.Updater.ADAPTER, true));
      p.add(new TrainableParameter(b.b().getName(), b.b(), TrainableParameter.Updater.ADAPTER, true));
      if (b.transform() != null) {
        p.add(new TrainableParameter(b.transform().getName(), b.transform(), TrainableParameter.Updater.ADAPTER,
            true));
      }
      if (b.gate() != null) {
        p.add(new TrainableParameter(b.gate().getName(), b.gate(), gateUpdater(), false));
      }
    }
    return p;
  }

  /** Who steps the gates; SoRA keeps them out of AdamW. */
  protected TrainableParameter.Updater gateUpdater() {
    return TrainableParameter.Updater.ADAPTER;
  }

  @Override
  public Map<String, Integer> activeRanks() {
    Map<String, Integer> r = new LinkedHashMap<>();
    branches.forEach((k, v) -> r.put(k, v.activeRank()));
    return r;
  }

  @Override
  public int initialRanks() {
    return branches.values().stream().mapToInt(LowRankBranch::rank).sum();
  }

  @Override
  public List<LowRankModule> export() {
    return branches.values().stream().map(LowRankBranch::export).toList();
  }

  @Override
  public void close() {
    manager.close();
  }
}
