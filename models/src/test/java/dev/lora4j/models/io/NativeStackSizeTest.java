package dev.lora4j.models.io;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class NativeStackSizeTest {
  /**
   * Measured on onnxruntime 1.29.0 / Linux x86-64 (see NativeStack): the smallest stack that
   * created the environment, bisected to 32 KB, at three command-line lengths. The sizing must
   * leave at least a 1.5x margin over each.
   */
  @Test
  void theEnvironmentStackCoversTheMeasuredNeedWithMargin() {
    long[][] measured = {{3_026, 785}, {19_026, 4_802}, {63_026, 15_800}};
    for (long[] m : measured) {
      long need = m[1] * 1024;
      assertTrue(NativeStack.forCommandLine(m[0]) >= need * 3 / 2,
          m[0] + " bytes of command line: " + NativeStack.forCommandLine(m[0]) + " < 1.5 x " + need);
    }
    assertTrue(NativeStack.commandLineBytes() != 0);
  }
}
