package dev.lora4j.trainer.method;

import dev.lora4j.trainer.TransformKind;

/**
 * MTLoRA (Liang et al., "Matrix-Transformation based Low-Rank Adaptation", arXiv 2403.07440):
 * {@code delta W = (alpha/r) · B T A} with a learnable {@code T (r x r)} from the identity, in one of
 * the structures of {@link Transforms} ({@code --transform}). A, B and T learn with AdamW (T without
 * weight decay). At export T is folded into B ({@code B' = s · B T}); no rank is dropped.
 */
final class MtloraMethod implements TrainingMethod {
  @Override
  public String id() {
    return "mtlora";
  }

  @Override
  public String summary() {
    return "MTLoRA: delta W = (alpha/r) B T A, learnable T from I (--transform full|psd|staged|dual), folded into B";
  }

  @Override
  public MethodState start(MethodSetup setup) {
    TransformKind kind = setup.config().transform();
    return new LowRankState(setup, null, (module, rank, m) -> Transforms.create(kind, module, rank, m));
  }
}
