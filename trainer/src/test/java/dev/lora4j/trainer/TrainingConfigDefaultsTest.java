package dev.lora4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * Rank and alpha defaults depend on the method (sora and salora start wider and prune), resolved
 * when the builder builds, so a library user gets what {@code lora4j train} gets, in any call order.
 */
class TrainingConfigDefaultsTest {

  @Test
  void pruningMethodsStartFromRank16AndAlpha32() {
    for (String m : new String[] {"sora", "salora", "SoRA"}) {
      TrainingConfig c = TrainingConfig.builder().method(m).build();
      assertEquals(16, c.rank(), m);
      assertEquals(32.0, c.alpha(), m);
    }
    for (String m : new String[] {"lora", "mtlora", "dylora", "erat"}) {
      TrainingConfig c = TrainingConfig.builder().method(m).build();
      assertEquals(8, c.rank(), m);
      assertEquals(16.0, c.alpha(), m);
    }
  }

  @Test
  void givenValuesWinInAnyOrder() {
    assertEquals(4, TrainingConfig.builder().rank(4).method("sora").build().rank());
    assertEquals(4, TrainingConfig.builder().method("sora").rank(4).build().rank());
    // alpha keeps the method's default when only the rank is given (as train's --rank alone does)
    assertEquals(32.0, TrainingConfig.builder().method("sora").rank(4).build().alpha());
    assertEquals(5.0, TrainingConfig.builder().alpha(5).method("salora").build().alpha());
    // the method decides at build time: set first, changed later, the last method counts
    assertEquals(8, TrainingConfig.builder().method("sora").method("lora").build().rank());
  }

  @Test
  void aCopyKeepsItsValues() {
    TrainingConfig sora = TrainingConfig.builder().method("sora").build();
    TrainingConfig copy = sora.toBuilder().method("lora").build();
    assertEquals(16, copy.rank(), "toBuilder copies the built rank as given");
  }
}
