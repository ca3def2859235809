package dev.lora4j.trainer.method;

/** Plain LoRA (Hu et al., 2021): {@code delta W = (alpha / r) · B A}, A and B trained by AdamW. */
final class LoraMethod implements TrainingMethod {
  @Override
  public String id() {
    return "lora";
  }

  @Override
  public String summary() {
    return "LoRA: delta W = (alpha/r) B A, B starts at zero";
  }

  @Override
  public MethodState start(MethodSetup setup) {
    return new LowRankState(setup);
  }
}
