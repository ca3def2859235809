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
  /** Builds the gate or transform of one module's branch. */
  @FunctionalInterface
  public interface FactorMaker {
    BranchFactor make(String module, int rank, NDManager manager);
  }

  private final NDManager manager;
  private final Map<String, LowRankBranch> branches = new LinkedHashMap<>();

  /** Plain LoRA branches: no gate, no transform. */
  protected LowRankState(MethodSetup setup) {
    this(setup, null, null);
  }

  /** @param gates null for no gate; @param transforms null for no transformation matrix */
  protected LowRankState(MethodSetup setup, FactorMaker gates, FactorMaker transforms) {
    TrainingConfig c = setup.config();
    this.manager = setup.manager().newSubManager();
    for (LinearModule t : setup.targets()) {
      BranchFactor g = gates == null ? null : gates.make(t.name(), c.rank(), manager);
      BranchFactor tr = transforms == null ? null : transforms.make(t.name(), c.rank(), manager);
      branches.put(t.name(), LowRankBranch.initial(t.name(), t.inFeatures(), t.outFeatures(), c.rank(), c.scaling(),
          c.dropout(), g, tr, setup.random(), manager));
    }
  }

  public Map<String, LowRankBranch> branches() {
    return Collections.unmodifiableMap(branches);
  }

  /** Owns the state's arrays; subclasses create theirs here too. */
  protected NDManager manager() {
    return manager;
  }

  @Override
  public ModuleHook hook(boolean training) {
    return ModuleHook.only(branches.keySet(), (module, input) -> {
      LowRankBranch b = branches.get(module);
      return b == null ? null : b.forward(input, training);
    });
  }

  @Override
  public List<TrainableParameter> parameters() {
    List<TrainableParameter> p = new ArrayList<>();
    for (LowRankBranch b : branches.values()) {
      p.add(new TrainableParameter(b.a().getName(), b.a(), TrainableParameter.Updater.ADAPTER, true));
      p.add(new TrainableParameter(b.b().getName(), b.b(), TrainableParameter.Updater.ADAPTER, true));
      if (b.transform() != null) {
        // No weight decay on T: decay pulls it toward 0, and T's neutral value is the identity.
        for (NDArray t : b.transform().leaves()) {
          p.add(new TrainableParameter(t.getName(), t, TrainableParameter.Updater.ADAPTER, false));
        }
      }
      if (b.gate() != null) {
        for (NDArray g : b.gate().leaves()) {
          p.add(new TrainableParameter(g.getName(), g, gateUpdater(), false));
        }
      }
    }
    return p;
  }

  /** Who steps the gates; SoRA and SaLoRA keep them out of the main AdamW. */
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
