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
}
