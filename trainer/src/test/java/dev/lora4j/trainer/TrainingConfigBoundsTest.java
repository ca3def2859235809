package dev.lora4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.testing.TinyBert;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** Size flags are bounded before anything is allocated, each refusal naming its flag. */
class TrainingConfigBoundsTest {
  private static String refusal(UnaryOperator<TrainingConfig.Builder> change) {
    return assertThrows(Lora4jException.class, () -> change.apply(TrainingConfig.builder()).build()).getMessage();
  }

  @Test
  void rankAndOtherSizeFlagsAreBoundedByName() {
    // --rank 100000 used to allocate until the kernel killed the JVM at 22.5 GB.
    assertEquals("--rank must be between 1 and 4096, not 100000", refusal(b -> b.rank(100_000)));
    assertEquals("--batch-size must be between 1 and 65536, not 1000000", refusal(b -> b.batchSize(1_000_000)));
    assertEquals("--epochs must be between 1 and 100000, not 2000000000", refusal(b -> b.epochs(2_000_000_000)));
    assertEquals("--max-length must be between 3 and 65536, not 100000", refusal(b -> b.maxLength(100_000)));
    assertEquals("--lr must be positive, not Infinity", refusal(b -> b.learningRate(Double.POSITIVE_INFINITY)));
    assertEquals("--alpha must be positive, not NaN", refusal(b -> b.alpha(Double.NaN)));
  }

  @Test
  void rankAboveTheBaseModelsModulesIsRefused() {
    EncoderDescription base = EncoderDescription.of(TinyBert.model(3));
    TrainingConfig config = TrainingConfig.builder().rank(TinyBert.HIDDEN + 1).build();
    Lora4jException e = assertThrows(Lora4jException.class,
        () -> config.requireFits(base.resolveTargets("query"), base.spec()));
    assertEquals("--rank 33 exceeds module encoder.layer.0.attention.self.query of the base model (32x32); the rank"
        + " can be at most 32", e.getMessage());
    TrainingConfig tooLong = TrainingConfig.builder().maxLength(TinyBert.MAX_POSITIONS + 1).build();
    assertEquals("--max-length 65 exceeds the base model's 64 positions", assertThrows(Lora4jException.class,
        () -> tooLong.requireFits(base.resolveTargets("query"), base.spec())).getMessage());
  }
}
