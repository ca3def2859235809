package dev.lora4j.trainer.method;

/**
 * DyLoRA (Valipour et al., "DyLoRA: Parameter-Efficient Tuning of Pre-trained Models using Dynamic
 * Search-Free Low-Rank Adaptation", EACL 2023): nested dropout over ranks. Each step draws b uniformly
 * from 1..r (independently per module) and the branch uses its first b ranks only, so every
 * truncation works at inference. {@code --dylora-mode frozen} updates rank b alone (the paper's
 * frozen variant), {@code full} all of 1..b. The scaling stays {@code alpha/r} for every b, so a
 * rank-b truncation is exactly the LoRA made of the first b rows of A and columns of B. Export keeps
 * {@code --export-rank} ranks per module, all of them, or ({@code auto}) what a {@link RankSweep} picks.
 */
public final class DyloraMethod implements TrainingMethod {
  @Override
  public String id() {
    return "dylora";
  }

  @Override
  public String summary() {
    return "DyLoRA: nested-dropout LoRA, each step uses ranks 1..b with b ~ U{1..r}; export any rank "
        + "(--export-rank b|full|auto)";
  }

  @Override
  public void validate(dev.lora4j.trainer.TrainingConfig config, boolean hasDev) {
    NestedRankState.requireDevForAuto(config, hasDev);
  }

  @Override
  public MethodState start(MethodSetup setup) {
    return new NestedRankState(setup, layers -> EratSchedule.dylora(setup.config().rank(), layers));
  }
}
