package dev.lora4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.trainer.loop.StepReport;
import dev.lora4j.trainer.loop.TrainingListener;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What PyTorch itself prints while lora4j trains, which only a fresh process shows: its warnings go
 * to the native stderr, past Java's streams, and most are printed once per process.
 */
class TrainingLogTest {
  /** Trains LoRA and SoRA (gates written by the method) in bf16 and resumes one from its checkpoint. */
  public static void main(String[] args) throws Exception {
    TinyTask task = TinyTask.open(Path.of(args[0]), 64, 16);
    for (String method : List.of("lora", "sora")) {
      TrainingConfig config = TrainerTest.tiny().method(method).targets("query,value").epochs(1).dropout(0.1)
          .precision(Precision.BF16).checkpointEvery(2).build();
      Path run = Path.of(args[0], method);
      try {
        Trainer.train(task.run(config, run, false, method), new TrainingListener() {
          @Override
          public void onStep(StepReport s) {
            if (s.step() == 3) {
              throw new IllegalStateException("stop");
            }
          }
        });
      } catch (IllegalStateException expected) {
        // interrupted after a checkpoint: the resume below loads it (parameters written back)
      }
      Trainer.train(task.run(config, run, true, method), TrainingListener.NONE);
    }
    System.out.println("trained");
  }

  @Test
  void trainingPrintsNoPyTorchDeprecationWarning(@TempDir Path tmp) throws Exception {
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"), TrainingLogTest.class.getName(),
        tmp.toString()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(180, TimeUnit.SECONDS), "the JVM did not finish");
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.contains("trained"), out);
    // DJL's NDArray.set(Buffer) enters PyTorch's deprecated AutoNonVariableTypeMode, which says so once
    assertFalse(out.contains("AutoNonVariableTypeMode"), out);
    assertFalse(out.contains("Warning"), out);
  }
}
