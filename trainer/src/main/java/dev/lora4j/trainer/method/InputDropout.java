package dev.lora4j.trainer.method;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.Dropout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Inverted dropout on one branch's input, {@code x ⊙ m} with {@code m = 1/(1-p)} kept and {@code 0}
 * dropped, each element kept with probability {@code 1 - p}.
 *
 * <p>Why not PyTorch's dropout on the CPU: there it is not fused ({@code bernoulli_} into a float
 * tensor, {@code div_}, {@code mul}), and drawing one Bernoulli per element through PyTorch's
 * generator was the largest cost of a bfloat16 training step after the matrix products (profiled:
 * ~9 % of the step in {@code bernoulli_} alone, for 12 inputs of {@code [tokens, 384]}). Here the
 * mask is drawn in Java, four elements per 64-bit random number (16 bits each, so {@code p} is
 * met to within 2^-17), straight into a direct buffer the tensor is made from (no copy), and applied
 * with one multiply whose backward is one multiply too.
 *
 * <p>The direct buffers are reused: a fresh one per mask cost more than drawing the mask (0.45 ms for
 * a 1.2 MB mask, the first touch of new memory, against 0.3 ms to fill it). A buffer is handed out
 * again only once the tensor made from it is closed, which the training step's scope does at its end,
 * after backward has let go of it (measured: peak resident size 1.6 GB after 50 bf16 steps, 2.0 GB after
 * 200; a buffer kept per mask would have added 15 MB a step, 2.2 GB). Not thread-safe: a branch runs
 * one training step at a time.
 *
 * <p>Determinism is PyTorch's: the mask's seed is one draw from PyTorch's generator, which the
 * training loop re-seeds from (seed, step) before every step, so a step's masks still depend on
 * nothing but (seed, step) and a resumed run repeats them. On a GPU PyTorch's fused dropout kernel
 * is used instead (a mask made on the host would cross the bus every step).
 */
final class InputDropout {
  /** Resolution of the keep test: a 16-bit lane of a 64-bit random number. */
  private static final int LANES = 1 << 16;

  private final float p;
  private final List<Slot> slots = new ArrayList<>();

  /** A direct buffer and the mask tensor last made from it (null before the first). */
  private static final class Slot {
    ByteBuffer buffer;
    NDArray mask;
  }

  /** Dropout {@code p} in {@code (0, 1)}. */
  InputDropout(float p) {
    this.p = p;
  }

  /** {@code x} with dropout applied; autograd flows through the multiply. */
  NDArray apply(NDArray x) {
    if (x.getDevice().isGpu() || x.getDataType() != DataType.FLOAT32) {
      return Dropout.dropout(x, p, true).singletonOrThrow();
    }
    NDManager m = x.getManager();
    NDArray draw = m.randomInteger(0, Integer.MAX_VALUE, new Shape(1), DataType.INT64);
    long seed = draw.getLong();
    draw.close();
    int n = Math.toIntExact(x.getShape().size());
    Slot slot = freeSlot(n * Float.BYTES);
    ByteBuffer bytes = slot.buffer.duplicate().clear().limit(n * Float.BYTES).slice().order(ByteOrder.nativeOrder());
    fill(bytes.asFloatBuffer(), n, p, seed);
    slot.mask = m.create(bytes, x.getShape(), DataType.FLOAT32);
    return x.mul(slot.mask);
  }

  /** A slot whose last mask is closed (or a new one), its buffer at least {@code bytes} long. */
  private Slot freeSlot(int bytes) {
    Slot free = null;
    for (Slot s : slots) {
      if (s.mask.isReleased()) {
        free = s;
        break;
      }
    }
    if (free == null) {
      free = new Slot();
      slots.add(free);
    }
    if (free.buffer == null || free.buffer.capacity() < bytes) {
      // headroom: batches differ in length, and each growth is a fresh allocation
      free.buffer = ByteBuffer.allocateDirect((int) Math.min(Integer.MAX_VALUE, bytes + (long) bytes / 4));
    }
    return free;
  }

  /** How many direct buffers this dropout holds (one per mask alive at once). */
  int buffers() {
    return slots.size();
  }

  /** A mask's float32 values for {@code shape}, in a native-order direct buffer (tests read it). */
  static ByteBuffer mask(Shape shape, float p, long seed) {
    int n = Math.toIntExact(shape.size());
    ByteBuffer bytes = ByteBuffer.allocateDirect(n * Float.BYTES).order(ByteOrder.nativeOrder());
    fill(bytes.asFloatBuffer(), n, p, seed);
    return bytes;
  }

  private static void fill(FloatBuffer out, int n, float p, long seed) {
    // dropped when the lane is below the threshold: P(drop) = round(p * 2^16) / 2^16; the lookup
    // (index 1 when lane - threshold is negative) keeps the loop free of unpredictable branches
    int threshold = Math.round(p * LANES);
    float[] value = {1f / (1f - p), 0f};
    SplittableRandom random = new SplittableRandom(seed);
    float[] chunk = new float[4096];
    for (int done = 0; done < n; done += chunk.length) {
      int len = Math.min(chunk.length, n - done);
      int i = 0;
      for (; i + 4 <= len; i += 4) {
        long r = random.nextLong();
        chunk[i] = value[(((int) r & 0xFFFF) - threshold) >>> 31];
        chunk[i + 1] = value[(((int) (r >>> 16) & 0xFFFF) - threshold) >>> 31];
        chunk[i + 2] = value[(((int) (r >>> 32) & 0xFFFF) - threshold) >>> 31];
        chunk[i + 3] = value[((int) (r >>> 48) - threshold) >>> 31];
      }
      if (i < len) {
        long r = random.nextLong();
        for (int lane = 0; i < len; i++, lane++) {
          chunk[i] = value[(((int) (r >>> (16 * lane)) & 0xFFFF) - threshold) >>> 31];
        }
      }
      out.put(chunk, 0, len);
    }
  }
}
