package dev.lora4j.trainer.method;

import dev.lora4j.trainer.encoder.ModuleHook;

/** Dev-set accuracy of the model with a given adapter hook: what a method may tune its export on. */
@FunctionalInterface
public interface DevScorer {
  /** Accuracy on the first {@code examples} dev examples (all when fewer), without dropout. */
  double accuracy(ModuleHook hook, int examples);
}
