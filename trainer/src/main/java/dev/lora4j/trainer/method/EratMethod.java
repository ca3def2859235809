package dev.lora4j.trainer.method;

import dev.lora4j.trainer.NestedRankConfig;

/**
 * ERAT-DLoRA (Neurocomputing 2024, doi 10.1016/j.neucom.2024.128778): DyLoRA whose sampled rank
 * range moves over training, and whose rank per layer depends on depth and time — the schedule is
 * {@link EratSchedule} ({@code --erat-depth-min}, {@code --erat-start}, {@code --erat-ramp},
 * {@code --erat-window}). Each layer exports the rank its budget reached ({@code cap(l)}), or fewer with
 * {@code --export-rank b|auto} as for DyLoRA.
 */
public final class EratMethod implements TrainingMethod {
  @Override
  public String id() {
    return "erat";
  }

  @Override
  public String summary() {
    return "ERAT-DLoRA: DyLoRA with a sampled rank band that moves up over training and a rank budget that "
        + "grows with layer depth and time";
  }

  @Override
  public void validate(dev.lora4j.trainer.TrainingConfig config, boolean hasDev) {
    NestedRankState.requireDevForAuto(config, hasDev);
  }

  @Override
  public MethodState start(MethodSetup setup) {
    NestedRankConfig c = setup.config().nested();
    return new NestedRankState(setup, layers -> new EratSchedule(setup.config().rank(), layers, c.depthMin(),
        c.start(), c.ramp(), c.window()));
  }
}
