package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MeanAndSpreadTest {
  @Test
  void sampleStandardDeviationOverSeeds() {
    MeanAndSpread s = MeanAndSpread.of(85.0, 86.0, 87.0);
    assertEquals(86.0, s.mean(), 1e-12);
    assertEquals(1.0, s.sd(), 1e-12); // sqrt(2 / (3 - 1))
    assertEquals("86.00 ± 1.00", s.meanSd(2));
    assertEquals("86.0 (85.0–87.0)", s.meanRange(1));
  }

  @Test
  void oneRunHasNoSpread() {
    MeanAndSpread s = MeanAndSpread.of(81.2);
    assertTrue(Double.isNaN(s.sd()));
    assertEquals("81.20", s.meanSd(2));
    assertEquals("81", s.meanRange(0));
    assertThrows(IllegalArgumentException.class, MeanAndSpread::of);
  }
}
