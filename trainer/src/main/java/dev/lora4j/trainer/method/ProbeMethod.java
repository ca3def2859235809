package dev.lora4j.trainer.method;

import java.util.List;

/**
 * No adapter at all: only the task head learns, on the frozen encoder — the linear-probe baseline
 * every adapter has to beat.
 */
final class ProbeMethod implements TrainingMethod {
  @Override
  public String id() {
    return "probe";
  }

  @Override
  public String summary() {
    return "linear probe: trains only the task head on the frozen encoder (baseline)";
  }

  @Override
  public boolean adaptsModules() {
    return false;
  }

  @Override
  public MethodState start(MethodSetup setup) {
    return new LowRankState(new MethodSetup(List.of(), setup.config(), setup.manager(), setup.random()));
  }
}
