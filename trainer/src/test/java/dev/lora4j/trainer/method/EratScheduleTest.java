package dev.lora4j.trainer.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class EratScheduleTest {
  final EratSchedule s = new EratSchedule(8, 6, 0.5, 0.25, 0.5, 0.5);

  @Test
  void budgetGrowsWithDepthAndTimeAndEndsAtTheDepthShare() {
    for (int l = 0; l < 6; l++) {
      for (double t = 0; t < 1; t += 0.05) {
        assertTrue(s.budget(l, t + 0.05) >= s.budget(l, t), "time, layer " + l);
        if (l > 0) {
          assertTrue(s.budget(l, t) >= s.budget(l - 1, t), "depth at " + t);
        }
      }
    }
    assertEquals(4, s.cap(0), "first layer: ceil(8 * 0.5)");
    assertEquals(8, s.cap(5), "last layer: the whole rank");
    assertEquals(2, s.budget(5, 0), "start: ceil(8 * 1 * 0.25)");
    assertEquals(1, s.budget(0, 0), "ceil(8 * 0.5 * 0.25)");
    assertEquals(s.cap(3), s.budget(3, 0.5), "every layer at its cap after the ramp");
  }

  @Test
  void theBandMovesUpAndSamplesStayInIt() {
    assertEquals(1, s.low(5, 0));
    assertEquals(5, s.low(5, 1), "band [5, 8] of width ceil(0.5 * 8) at the end");
    for (int l = 0; l < 6; l++) {
      for (double t = 0; t <= 1; t += 0.1) {
        assertTrue(s.low(l, t) <= s.budget(l, t));
        assertTrue(s.low(l, Math.min(1, t + 0.1)) >= s.low(l, t), "lo moves up only");
        Set<Integer> seen = new HashSet<>();
        for (long step = 0; step < 200; step++) {
          int b = s.sample(l, t, 42, step, l);
          assertTrue(b >= s.low(l, t) && b <= s.budget(l, t), "b " + b);
          seen.add(b);
        }
        assertEquals(s.budget(l, t) - s.low(l, t) + 1, seen.size(), "every rank of the band is drawn");
      }
    }
    assertEquals(s.sample(2, 0.3, 42, 17, 4), s.sample(2, 0.3, 42, 17, 4), "a pure function of its inputs");
  }

  @Test
  void dyloraIsTheSpecialCaseWithTheWholeRangeAlways() {
    EratSchedule d = EratSchedule.dylora(8, 6);
    for (int l = 0; l < 6; l++) {
      for (double t = 0; t <= 1; t += 0.25) {
        assertEquals(1, d.low(l, t));
        assertEquals(8, d.budget(l, t));
      }
    }
  }
}
