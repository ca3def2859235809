package dev.lora4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.trainer.SparsityConfig.Schedule;
import org.junit.jupiter.api.Test;

class SparsityConfigTest {
  @Test
  void schedulesRaiseLambdaToItsFinalValue() {
    SparsityConfig constant = new SparsityConfig(1, 0.4, Schedule.CONSTANT, 4);
    SparsityConfig linear = new SparsityConfig(1, 0.4, Schedule.LINEAR, 4);
    SparsityConfig cosine = new SparsityConfig(1, 0.4, Schedule.COSINE, 4);
    SparsityConfig step = new SparsityConfig(1, 0.4, Schedule.STEP, 4);
    assertEquals(0.4, constant.lambdaAt(0, 101), 1e-12);
    assertEquals(0.0, linear.lambdaAt(0, 101), 1e-12);
    assertEquals(0.2, linear.lambdaAt(50, 101), 1e-12);
    assertEquals(0.4, linear.lambdaAt(100, 101), 1e-12);
    assertEquals(0.0, cosine.lambdaAt(0, 101), 1e-12);
    assertEquals(0.2, cosine.lambdaAt(50, 101), 1e-12);
    assertEquals(0.4, cosine.lambdaAt(100, 101), 1e-12);
    assertEquals(0.1, step.lambdaAt(0, 101), 1e-12);
    assertEquals(0.1, step.lambdaAt(24, 101), 1e-12);
    assertEquals(0.2, step.lambdaAt(25, 101), 1e-12);
    assertEquals(0.4, step.lambdaAt(100, 101), 1e-12);
  }

  @Test
  void badValuesAreRefused() {
    assertThrows(Lora4jException.class, () -> new SparsityConfig(0, 1, Schedule.LINEAR, 4));
    assertThrows(Lora4jException.class, () -> new SparsityConfig(1, -1, Schedule.LINEAR, 4));
    Lora4jException e = assertThrows(Lora4jException.class, () -> Schedule.parse("exp"));
    assertEquals("--lambda-schedule must be constant, linear, cosine or step, not 'exp'", e.getMessage());
  }
}
