package dev.lora4j.trainer.encoder;

import ai.djl.ndarray.NDArray;

import java.util.Set;

/**
 * Lets an adapter change a linear module's output: called with the module's input {@code x} and its
 * frozen output {@code x W^T + b}, returns what the next op sees.
 *
 * <p>With the base in bfloat16 the input is a float32 copy (the adapter computes in float32) and the
 * output is bfloat16; returning {@code output.add(delta)} with a float32 delta is what the encoder
 * expects (it casts the sum back).
 */
@FunctionalInterface
public interface ModuleHook {
  ModuleHook NONE = (module, input, output) -> output;

  NDArray apply(String module, NDArray input, NDArray output);

  /**
   * Whether {@link #apply} may change {@code module}'s output; the encoder skips the hook (and, in
   * bfloat16, the float32 copy of the module's input) where it does not.
   */
  default boolean adapts(String module) {
    return this != NONE;
  }

  /** {@code hook}, declared to adapt only {@code modules}. */
  static ModuleHook only(Set<String> modules, ModuleHook hook) {
    return new ModuleHook() {
      @Override
      public NDArray apply(String module, NDArray input, NDArray output) {
        return hook.apply(module, input, output);
      }

      @Override
      public boolean adapts(String module) {
        return modules.contains(module);
      }
    };
  }
}
