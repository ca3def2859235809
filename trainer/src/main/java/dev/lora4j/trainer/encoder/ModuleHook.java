package dev.lora4j.trainer.encoder;

import ai.djl.ndarray.NDArray;
import java.util.Set;

/**
 * Lets an adapter change a linear module's output: called with the module's input {@code x}, returns
 * what the encoder adds to the frozen output {@code x W^T + b}, or null for nothing.
 *
 * <p>With the base in bfloat16 the input is a float32 copy (the adapter computes in float32); the
 * encoder rounds the float32 delta to bfloat16 before adding it, so the add stays in bfloat16.
 */
@FunctionalInterface
public interface ModuleHook {
  ModuleHook NONE = (module, input) -> null;

  NDArray delta(String module, NDArray input);

  /**
   * Whether {@link #delta} may be non-null for {@code module}; the encoder skips the hook (and, in
   * bfloat16, the float32 copy of the module's input) where it is not.
   */
  default boolean adapts(String module) {
    return this != NONE;
  }

  /** {@code hook}, declared to adapt only {@code modules}. */
  static ModuleHook only(Set<String> modules, ModuleHook hook) {
    return new ModuleHook() {
      @Override
      public NDArray delta(String module, NDArray input) {
        return hook.delta(module, input);
      }

      @Override
      public boolean adapts(String module) {
        return modules.contains(module);
      }
    };
  }
}
