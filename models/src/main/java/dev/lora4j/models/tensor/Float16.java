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

  /** bfloat16 (safetensors BF16) to float: it is the upper half of a float's bits. */
  public static float bfloat16ToFloat(short b) {
    return Float.intBitsToFloat((b & 0xffff) << 16);
  }
}
