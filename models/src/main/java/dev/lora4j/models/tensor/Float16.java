package dev.lora4j.models.tensor;

/**
 * The two 16-bit float encodings weights arrive in. Java 17 has no conversion for either
 * ({@code Float.float16ToFloat} arrived in Java 20), and both ONNX and safetensors files need them.
 */
public final class Float16 {
  private Float16() {}

  /** IEEE 754 binary16 (ONNX FLOAT16, safetensors F16) to float; exact, every half is a float. */
  public static float halfToFloat(short h) {
    int bits = h & 0xffff;
    int sign = (bits & 0x8000) << 16;
    int exp = (bits >>> 10) & 0x1f;
    int mant = bits & 0x3ff;
    if (exp == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    if (exp == 0) {
      float v = mant * 0x1p-24f;
      return sign == 0 ? v : -v;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  /**
   * Float to IEEE 754 binary16, rounded to nearest, ties to even (what {@code Float.floatToFloat16}
   * does from Java 20, and numpy's {@code astype(float16)}). Magnitudes from 65520 up become
   * infinity, below 2^-25 zero (2^-25 itself ties to even, to zero); NaN stays NaN. Callers that
   * must not produce infinities check {@link #MAX_VALUE} first.
   */
  public static short floatToHalf(float f) {
    int bits = Float.floatToRawIntBits(f);
    int sign = (bits >>> 16) & 0x8000;
    int abs = bits & 0x7fffffff;
    if (abs > 0x7f800000) { // NaN: keep it quiet and keep some payload
      return (short) (sign | 0x7e00 | ((abs >>> 13) & 0x3ff));
    }
    if (abs >= 0x477ff000) { // >= 65520 (65504 + half an ulp) and infinity
      return (short) (sign | 0x7c00);
    }
    int exp = abs >>> 23;
    if (exp < 113) { // below 2^-14: a subnormal half, counted in units of 2^-24
      int shift = 126 - exp;
      if (shift > 24) {
        return (short) sign;
      }
      int mant = (abs & 0x7fffff) | 0x800000;
      return (short) (sign | roundShift(mant, shift)); // a carry into 0x400 is the smallest normal, correctly
    }
    // normal: rebias the exponent, drop 13 mantissa bits; a carry rolls into the exponent, as it should
    return (short) (sign | roundShift(((exp - 112) << 23) | (abs & 0x7fffff), 13));
  }

  /** The largest finite binary16 value. */
  public static final float MAX_VALUE = 65504f;

  /** {@code v >> shift}, rounded to nearest, ties to even; {@code 1 <= shift <= 24}. */
  private static int roundShift(int v, int shift) {
    int q = v >>> shift;
    int rem = v & ((1 << shift) - 1);
    int half = 1 << (shift - 1);
    if (rem > half || (rem == half && (q & 1) == 1)) {
      q++;
    }
    return q;
  }

  /** {@code f} rounded to the nearest binary16 value, as a float. */
  public static float roundToHalf(float f) {
    return halfToFloat(floatToHalf(f));
  }

  /** bfloat16 (safetensors BF16) to float: it is the upper half of a float's bits. */
  public static float bfloat16ToFloat(short b) {
    return Float.intBitsToFloat((b & 0xffff) << 16);
  }
}
