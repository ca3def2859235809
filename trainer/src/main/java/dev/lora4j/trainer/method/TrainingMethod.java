package dev.lora4j.trainer.method;

/**
 * A way of training low-rank adapters: one class per method, registered in {@link Methods}. A method
 * is stateless; {@link #start} builds the trainable state of one run.
 */
public interface TrainingMethod {
  /** What users type after {@code --method}, e.g. {@code sora}. */
  String id();

  /** One line for {@code --help}. */
  String summary();

  /** Whether the method adapts modules at all ({@code probe} trains only the head). */
  default boolean adaptsModules() {
    return true;
  }

  /** Refuses, before any work, options this method cannot run with (say, what needs a dev set). */
  default void validate(dev.lora4j.trainer.TrainingConfig config, boolean hasDev) {}

  MethodState start(MethodSetup setup);
}
