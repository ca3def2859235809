package dev.lora4j.trainer.method;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.Dropout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.SplittableRandom;

/**
 * Inverted dropout on a branch's input, {@code x ⊙ m} with {@code m = 1/(1-p)} kept and {@code 0}
 * dropped, each element kept with probability {@code 1 - p}.
 *
 * <p>Why not PyTorch's dropout on the CPU: there it is not fused ({@code bernoulli_} into a float
 * tensor, {@code div_}, {@code mul}), and drawing one Bernoulli per element through PyTorch's
 * generator was the largest cost of a bfloat16 training step after the matrix products (profiled:
 * ~9 % of the step in {@code bernoulli_} alone, for 12 inputs of {@code [tokens, 384]}). Here the
 * mask is drawn in Java, four elements per 64-bit random number (16 bits each, so {@code p} is
 * met to within 2^-17), straight into the direct buffer the tensor is made from, and applied with
 * one multiply whose backward is one multiply too.
 *
 * <p>Determinism is PyTorch's: the mask's seed is one draw from PyTorch's generator, which the
 * training loop re-seeds from (seed, step) before every step, so a step's masks still depend on
 * nothing but (seed, step) and a resumed run repeats them. On a GPU PyTorch's fused dropout kernel
 * is used instead (a mask made on the host would cross the bus every step).
 */
final class InputDropout {
  /** Resolution of the keep test: a 16-bit lane of a 64-bit random number. */
  private static final int LANES = 1 << 16;

  private InputDropout() {}

  /** {@code x} with dropout {@code p} in {@code (0, 1)} applied; autograd flows through the multiply. */
  static NDArray apply(NDArray x, float p) {
    if (x.getDevice().isGpu() || x.getDataType() != DataType.FLOAT32) {
      return Dropout.dropout(x, p, true).singletonOrThrow();
    }
    NDManager m = x.getManager();
    NDArray draw = m.randomInteger(0, Integer.MAX_VALUE, new Shape(1), DataType.INT64);
    long seed = draw.getLong();
    draw.close();
    return x.mul(m.create(mask(x.getShape(), p, seed), x.getShape(), DataType.FLOAT32));
  }

  /** The mask's float32 values in a native-order direct buffer, which the tensor then owns. */
  static ByteBuffer mask(Shape shape, float p, long seed) {
    int n = Math.toIntExact(shape.size());
    ByteBuffer bytes = ByteBuffer.allocateDirect(n * Float.BYTES).order(ByteOrder.nativeOrder());
    FloatBuffer out = bytes.asFloatBuffer();
    // dropped when the lane is below the threshold: P(drop) = round(p * 2^16) / 2^16
    int threshold = Math.round(p * LANES);
    float kept = 1f / (1f - p);
    SplittableRandom random = new SplittableRandom(seed);
    float[] chunk = new float[4096];
    for (int done = 0; done < n; done += chunk.length) {
      int len = Math.min(chunk.length, n - done);
      for (int i = 0; i < len; i += 4) {
        long r = random.nextLong();
        for (int lane = 0; lane < 4 && i + lane < len; lane++) {
          int u = (int) (r >>> (16 * lane)) & (LANES - 1);
          chunk[i + lane] = u < threshold ? 0f : kept;
        }
      }
      out.put(chunk, 0, len);
    }
    return bytes;
  }
}
