package dev.lora4j.trainer.method;

import ai.djl.ndarray.NDArray;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.trainer.encoder.ModuleHook;
import java.util.List;
import java.util.Map;

/**
 * The trainable state of one method in one run, and the hooks the training loop calls around each
 * optimizer step, in this order:
 *
 * <ol>
 *   <li>{@link #beforeStep} — e.g. sample the ranks used this step (DyLoRA), anneal a temperature;
 *   <li>forward through {@link #hook} inside the gradient collector, loss plus {@link #extraLoss};
 *   <li>backward, gradient clipping over every parameter, AdamW on the {@code ADAPTER} / {@code HEAD}
 *       parameters;
 *   <li>{@link #afterOptimizerStep} — e.g. the proximal step on SoRA gates ({@code METHOD} parameters).
 * </ol>
 *
 * After the last step (and keep-best) the loop calls {@link #finish} once, then {@link #export}.
 *
 * Gradients are zeroed by the loop after step 4. Everything a resume needs must be in
 * {@link #parameters()} or {@link #buffers()} (or follow from the step number).
 */
public interface MethodState extends AutoCloseable {

  /** Adds the adapter branches to the modules' outputs; {@code training} turns dropout on. */
  ModuleHook hook(boolean training);

  List<TrainableParameter> parameters();

  /**
   * Non-trained values a checkpoint must carry (a method-owned optimizer's moments, say), live: a
   * resume writes the saved values into these arrays.
   */
  default Map<String, float[]> buffers() {
    return Map.of();
  }

  default void beforeStep(StepInfo step) {}

  /** A term added to the task loss (e.g. an L0 / L1 penalty on gates), or null. */
  default NDArray extraLoss(StepInfo step) {
    return null;
  }

  default void afterOptimizerStep(StepInfo step) {}

  /**
   * Called once when training is over, on the weights that will be exported: a method may tune its
   * export here (DyLoRA's rank sweep). {@code dev} is null when the run has no dev set.
   *
   * @return true when this changed what the adapter computes, so its dev accuracy must be measured again
   */
  default boolean finish(DevScorer dev) {
    return false;
  }

  /** Live ranks per module (all ranks for plain LoRA). */
  Map<String, Integer> activeRanks();

  /** Numbers worth logging each step, e.g. the current lambda. */
  default Map<String, Double> stepMetrics(StepInfo step) {
    return Map.of();
  }

  /** The adapter as trained so far, one module per target, in the shared data model. */
  List<LowRankModule> export();

  /** Total initial rank over all modules (for "kept k of n ranks" reports). */
  default int initialRanks() {
    return 0;
  }

  @Override
  void close();
}
