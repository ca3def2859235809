package dev.lora4j.trainer.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import java.util.HashMap;
import java.util.Map;

/**
 * Scalar constants as arrays that live as long as their owner, for use inside autograd graphs.
 *
 * <p>Why not {@code x.mul(0.5f)}: on the CPU, DJL's PyTorch engine wraps Java direct buffers with
 * {@code from_blob} (no copy), and {@code NDArray.mul(Number)} creates such a scalar and closes it
 * right after the op. Autograd keeps the scalar for the backward pass of mul / div / pow, so once the
 * garbage collector frees the buffer, backward reads freed memory: rare, random NaN or infinite
 * gradients. Constants made here stay referenced until the owning manager closes.
 */
public final class ScalarConstants {
  private final NDManager manager;
  private final Map<Float, NDArray> cache = new HashMap<>();

  public ScalarConstants(NDManager manager) {
    this.manager = manager;
  }

  public NDArray of(float value) {
    return cache.computeIfAbsent(value, v -> {
      NDArray x = manager.create(v.floatValue());
      // created lazily, possibly inside a step's NDScope, but owned by the manager, not the step
      NDScope.unregister(x);
      return x;
    });
  }
}
