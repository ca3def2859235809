package dev.lora4j.trainer.method;

import dev.lora4j.trainer.NestedRankConfig;
import dev.lora4j.trainer.TrainingConfig;

/**
 * The nested-rank methods: each step a branch uses only its first b ranks, with b drawn from a
 * {@link EratSchedule} per layer, so that any truncation works at inference. The two methods differ
 * only in that schedule.
 * <ul>
 *   <li><b>DyLoRA</b> (Valipour et al., "DyLoRA: Parameter-Efficient Tuning of Pre-trained Models using
 *       Dynamic Search-Free Low-Rank Adaptation", EACL 2023): b uniform in 1..r (independently per
 *       module); {@code --dylora-mode frozen} updates rank b alone (the paper's frozen variant),
 *       {@code full} all of 1..b. The scaling stays {@code alpha/r} for every b, so a rank-b truncation
 *       is exactly the LoRA made of the first b rows of A and columns of B.
 *   <li><b>ERAT-DLoRA</b> (Neurocomputing 2024, doi 10.1016/j.neucom.2024.128778): the sampled band
 *       moves over training and the rank per layer depends on depth and time ({@code --erat-depth-min},
 *       {@code --erat-start}, {@code --erat-ramp}, {@code --erat-window}); each layer exports the rank
 *       its budget reached ({@code cap(l)}).
 * </ul>
 * Export keeps {@code --export-rank} ranks per module, all of them, or ({@code auto}) what a
 * {@link RankSweep} over the dev set picks.
 */
final class NestedRankMethod implements TrainingMethod {
  /** Builds the schedule for a run, given the run's config and the number of layers. */
  private interface ScheduleMaker {
    EratSchedule make(TrainingConfig config, int layers);
  }

  private final String id;
  private final String summary;
  private final ScheduleMaker schedule;

  private NestedRankMethod(String id, String summary, ScheduleMaker schedule) {
    this.id = id;
    this.summary = summary;
    this.schedule = schedule;
  }

  static NestedRankMethod dylora() {
    return new NestedRankMethod("dylora", "DyLoRA: nested-dropout LoRA, each step uses ranks 1..b with "
        + "b ~ U{1..r}; export any rank (--export-rank b|full|auto)",
        (config, layers) -> EratSchedule.dylora(config.rank(), layers));
  }

  static NestedRankMethod erat() {
    return new NestedRankMethod("erat", "ERAT-DLoRA: DyLoRA with a sampled rank band that moves up over "
        + "training and a rank budget that grows with layer depth and time", (config, layers) -> {
          NestedRankConfig c = config.nested();
          return new EratSchedule(config.rank(), layers, c.depthMin(), c.start(), c.ramp(), c.window());
        });
  }

  @Override
  public String id() {
    return id;
  }

  @Override
  public String summary() {
    return summary;
  }

  @Override
  public void validate(TrainingConfig config, boolean hasDev) {
    NestedRankState.requireDevForAuto(config, hasDev);
  }

  @Override
  public MethodState start(MethodSetup setup) {
    return new NestedRankState(setup, layers -> schedule.make(setup.config(), layers));
  }
}
