package dev.lora4j.models.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.testing.HalfReference;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class Float16Test {
  /**
   * Float bits -> half bits as numpy 2 gives them ({@code np.float32(v).astype(np.float16)}), an
   * implementation independent of ours: ties to even at 1 + 2^-11, the largest half, the rounding
   * edge to infinity at 65520, subnormals down to the 2^-25 tie that rounds to zero, -0.
   */
  private static final int[][] NUMPY = {
      {0x3f800000, 0x3c00}, // 1
      {0x477fe000, 0x7bff}, // 65504, the largest half
      {0x477ff000, 0x7c00}, // 65520: halfway to 65536, ties to even = infinity
      {0x477feffd, 0x7bff}, // just below 65520
      {0x33800000, 0x0001}, // 2^-24, the smallest subnormal
      {0x33000000, 0x0000}, // 2^-25: halfway between 0 and 2^-24, ties to even = 0
      {0x33400000, 0x0001}, // 1.5 * 2^-25
      {0x33c00000, 0x0002}, // 3 * 2^-25: halfway between 1 and 2 units, ties to even = 2
      {0x38800000, 0x0400}, // 2^-14, the smallest normal
      {0x387fe000, 0x0400}, // 2^-14 - 2^-25: a subnormal that rounds up into the normals
      {0x387fda40, 0x03ff}, // 6.1e-5, the largest subnormal
      {0x337ffae5, 0x0001}, // 5.96e-8
      {0x322bcc77, 0x0000}, // 1e-8 underflows
      {0x3dcccccd, 0x2e66}, // 0.1
      {0x3eaaaaab, 0x3555}, // 1/3
      {0x3eaaa000, 0x3555}, // 0.333251953125, exactly a half
      {0xc0000000, 0xc000}, // -2
      {0x3f801000, 0x3c00}, // 1 + 2^-11: tie, even mantissa below
      {0x3f803000, 0x3c02}, // 1 + 3 * 2^-11: tie, even mantissa above
      {0x47c35000, 0x7c00}, // 1e5 overflows
      {0x80000000, 0x8000}, // -0
      {0x7f800000, 0x7c00}, // infinity
      {0xff800000, 0xfc00}, // -infinity
  };

  @Test
  void floatToHalfMatchesNumpyBitForBit() {
    for (int[] row : NUMPY) {
      float f = Float.intBitsToFloat(row[0]);
      assertEquals(row[1], Float16.floatToHalf(f) & 0xffff,
          () -> f + " (0x" + Integer.toHexString(row[0]) + ") -> 0x" + Integer.toHexString(Float16.floatToHalf(f) & 0xffff));
    }
  }

  @Test
  void nanStaysNan() {
    for (int bits : new int[] {0x7fc00000, 0x7f800001, 0xffc00000, 0x7fbfffff}) {
      assertTrue(Float.isNaN(Float16.halfToFloat(Float16.floatToHalf(Float.intBitsToFloat(bits)))),
          Integer.toHexString(bits));
    }
  }

  /** Every half comes back as itself: rounding a value that is already a half changes nothing. */
  @Test
  void everyHalfRoundTrips() {
    for (int h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0) {
        continue; // NaN payloads need not survive
      }
      assertEquals(h, Float16.floatToHalf(Float16.halfToFloat((short) h)) & 0xffff, Integer.toHexString(h));
    }
  }

  /**
   * Against {@link HalfReference}, which knows nothing of bit tricks: random floats over the whole
   * half range, and every midpoint between neighbouring halves (the ties) and its two neighbours.
   */
  @Test
  void floatToHalfIsTheNearestHalfTiesToEven() {
    SplittableRandom rnd = new SplittableRandom(7);
    for (int i = 0; i < 200_000; i++) {
      check((float) (Math.pow(2, rnd.nextDouble(-30, 17)) * (rnd.nextBoolean() ? 1 : -1)));
    }
    for (int h = 0; h + 1 < 0x7c00; h++) {
      // exact: neighbouring halves differ in their 11 significant bits only
      float mid = (float) (((double) Float16.halfToFloat((short) h) + Float16.halfToFloat((short) (h + 1))) / 2);
      check(mid);
      check(Math.nextUp(mid));
      check(Math.nextDown(mid));
    }
  }

  private static void check(float f) {
    assertEquals(HalfReference.bits(f), Float16.floatToHalf(f) & 0xffff, () -> "float " + f);
    assertEquals(Float.floatToIntBits(HalfReference.round(f)), Float.floatToIntBits(Float16.roundToHalf(f)),
        () -> "float " + f);
  }
}
