package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.trainer.loop.StepReport;
import dev.lora4j.trainer.loop.TrainingPlan;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Training progress into a log file: plain lines a tenth of the run apart, never a bar's carriage returns. */
class TrainProgressTest {
  @Test
  void intoAFileProgressIsOneLineEveryTenthOfTheRun() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    TrainProgress.Display display = TrainProgress.Display.of(out, false);
    assertEquals(TrainProgress.Display.LINES, display, "a stream that is not the terminal gets lines");
    try (TrainProgress p = new TrainProgress(out, display)) {
      p.onStart(plan(23, 0));
      for (long s = 1; s <= 23; s++) {
        p.onStep(step(s, 23));
      }
    }
    String text = bytes.toString(StandardCharsets.UTF_8);
    assertFalse(text.contains("\r"), text);
    List<String> steps = text.lines().filter(l -> l.startsWith("step ")).toList();
    // every ceil(23 / 10) = 3 steps, and the last step however it falls
    assertEquals(List.of(3L, 6L, 9L, 12L, 15L, 18L, 21L, 23L),
        steps.stream().map(l -> Long.parseLong(l.substring(5, l.indexOf('/')))).toList(), text);
    assertTrue(steps.get(0).startsWith("step 3/23 (13%): loss 0.5000 acc - ranks 16/16 1200 tok/s, 0:01:05 left"),
        steps.get(0));
  }

  @Test
  void aResumedRunCountsItsTenthsFromWhereItResumes() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    try (TrainProgress p = new TrainProgress(out, TrainProgress.Display.LINES)) {
      p.onStart(plan(100, 50));
      for (long s = 51; s <= 100; s++) {
        p.onStep(step(s, 100));
      }
    }
    List<String> steps = bytes.toString(StandardCharsets.UTF_8).lines().filter(l -> l.startsWith("step ")).toList();
    assertEquals(5, steps.size(), steps.toString());
    assertTrue(steps.get(0).startsWith("step 60/100 (60%)"), steps.get(0));
  }

  @Test
  void quietShowsNoSteps() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    TrainProgress.Display display = TrainProgress.Display.of(out, true);
    assertEquals(TrainProgress.Display.NONE, display);
    try (TrainProgress p = new TrainProgress(out, display)) {
      p.onStart(plan(10, 0));
      for (long s = 1; s <= 10; s++) {
        p.onStep(step(s, 10));
      }
    }
    assertEquals(0, bytes.toString(StandardCharsets.UTF_8).lines().filter(l -> l.startsWith("step ")).count());
  }

  private static TrainingPlan plan(long total, long start) {
    return new TrainingPlan("lora", "cpu()", 1, (int) total, total, start, 100, 10, 2000, 1000, Map.of("adapter", 1000L),
        2, 16);
  }

  private static StepReport step(long s, long total) {
    return new StepReport(s, total, 0, 0.5, 1e-3, 1.0, Map.of("a", 8, "b", 8), 16, Map.of(), 32 * s, 1200, 65);
  }
}
