package dev.lora4j.trainer.method;

import ai.djl.ndarray.NDArray;

/**
 * One array the training loop computes gradients for, and who updates it.
 *
 * @param name unique, stable across runs: it keys checkpoints
 * @param array a leaf that requires gradients
 * @param updater which optimizer steps it
 * @param weightDecay whether AdamW decays it (biases and gates are not decayed)
 */
public record TrainableParameter(String name, NDArray array, Updater updater, boolean weightDecay) {

  /** The optimizer responsible for a parameter. */
  public enum Updater {
    /** AdamW at the adapter learning rate. */
    ADAPTER,
    /** AdamW at the head learning rate. */
    HEAD,
    /** Not in AdamW: the method updates it itself in {@link MethodState#afterOptimizerStep}. */
    METHOD
  }

  public long size() {
    return array.size();
  }

  /**
   * Writes {@code values} into {@code array} in place, with autograd off, as {@code x - x + values}.
   * Why not {@code array.set(Buffer)}, one native call instead of three: DJL's native copy enters
   * PyTorch's deprecated AutoNonVariableTypeMode guard, which prints a deprecation warning into the
   * log of every training run. Exact for a finite {@code array} ({@code x - x} is zero), which every
   * trained array is: the loop stops a run whose parameters leave the finite range.
   */
  public static void overwrite(NDArray array, float[] values) {
    try (NDArray fresh = array.getManager().create(values, array.getShape())) {
      array.subi(array).addi(fresh);
    }
  }
}
