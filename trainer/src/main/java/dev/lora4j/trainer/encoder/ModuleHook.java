package dev.lora4j.trainer.encoder;

import ai.djl.ndarray.NDArray;

/**
 * Lets an adapter change a linear module's output: called with the module's input {@code x} and its
 * frozen output {@code x W^T + b}, returns what the next op sees.
 */
@FunctionalInterface
public interface ModuleHook {
  ModuleHook NONE = (module, input, output) -> output;

  NDArray apply(String module, NDArray input, NDArray output);
}
