package dev.lora4j.models.testing;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.tensor.Matrix;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Float to float16 rounding for tests, written without the bit arithmetic of
 * {@code Float16.floatToHalf}: the nearest of all finite halves by exact double distance, ties to
 * the even bit pattern, infinity from 65520 up. The table of halves is built by decoding bit
 * patterns by the IEEE formula here, not with lora4j's decoder.
 */
public final class HalfReference {
  /** Positive finite halves, ascending with their bit patterns. */
  private static final double[] HALVES = new double[0x7c00];

  static {
    for (int h = 0; h < HALVES.length; h++) {
      int exp = h >>> 10;
      int mant = h & 0x3ff;
      HALVES[h] = exp == 0 ? mant * Math.pow(2, -24) : (1 + mant / 1024.0) * Math.pow(2, exp - 15);
    }
  }

  private HalfReference() {}

  /** The half's bits. */
  public static int bits(float f) {
    int sign = f < 0 || (f == 0 && 1 / f < 0) ? 0x8000 : 0;
    double a = Math.abs((double) f);
    if (a >= 65520) {
      return sign | 0x7c00;
    }
    int i = Arrays.binarySearch(HALVES, a);
    if (i >= 0) {
      return sign | i;
    }
    int above = -i - 1;
    int below = above - 1;
    if (above == HALVES.length) {
      return sign | below;
    }
    double dBelow = a - HALVES[below];
    double dAbove = HALVES[above] - a;
    return sign | (dBelow < dAbove ? below : dAbove < dBelow ? above : (below % 2 == 0 ? below : above));
  }

  /** The half's value as a float. */
  public static float round(float f) {
    int b = bits(f);
    float v = (b & 0x7fff) == 0x7c00 ? Float.POSITIVE_INFINITY : (float) HALVES[b & 0x7fff];
    return (b & 0x8000) != 0 ? -v : v;
  }

  public static Matrix round(Matrix m) {
    float[] out = m.data().clone();
    for (int i = 0; i < out.length; i++) {
      out[i] = round(out[i]);
    }
    return new Matrix(m.rows(), m.cols(), out);
  }

  /** A compact adapter with every factor value rounded to float16; the head as it was. */
  public static Adapter round(Adapter compact) {
    List<LowRankModule> modules = new ArrayList<>();
    for (LowRankModule m : compact.modules().values()) {
      modules.add(LowRankModule.lora(m.module(), round(m.a()), round(m.b()), 1.0));
    }
    return new Adapter(compact.name(), compact.base(), Adapter.byName(modules), compact.head(), compact.provenance());
  }

  /**
   * {@code adapter} (compacted) with one value of each factor pushed into float16's subnormal range
   * and one below it, so that half-precision paths meet both.
   */
  public static Adapter withTinyValues(Adapter adapter, long seed) {
    Random rnd = new Random(seed);
    List<LowRankModule> modules = new ArrayList<>();
    for (LowRankModule m : adapter.compact().modules().values()) {
      float[] a = m.a().data().clone();
      float[] b = m.b().data().clone();
      a[rnd.nextInt(a.length)] = 3.1e-6f * (rnd.nextBoolean() ? 1 : -1); // subnormal half
      b[rnd.nextInt(b.length)] = 1e-9f; // rounds to zero
      modules.add(LowRankModule.lora(m.module(), new Matrix(m.a().rows(), m.a().cols(), a),
          new Matrix(m.b().rows(), m.b().cols(), b), 1.0));
    }
    Map<String, LowRankModule> byName = Adapter.byName(modules);
    return new Adapter(adapter.name(), adapter.base(), byName, adapter.head(), adapter.provenance());
  }
}
