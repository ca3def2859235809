package dev.lora4j.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which evaluation keep-best keeps: accuracy first, then the smaller adapter, then the lower loss. */
class KeepBestTest {
  private static EvalReport kept(double accuracy, int ranks, double loss) {
    return new EvalReport(390, 1, accuracy, loss, 692, 1.0, Map.of("q", ranks), true);
  }

  @Test
  void higherAccuracyWinsWhateverItsSizeOrLoss() {
    assertTrue(TrainingLoop.beats(0.85, 200, 0.9, kept(0.84, 10, 0.1)));
    assertFalse(TrainingLoop.beats(0.83, 10, 0.1, kept(0.84, 200, 0.9)));
  }

  @Test
  void atEqualAccuracyTheAdapterWithFewerLiveRanksWinsEvenAtAHigherLoss() {
    // the 3-epoch SoRA run: 84.39 % with 106 ranks (loss 0.3443), then 84.39 % with 81 (loss 0.3674)
    assertTrue(TrainingLoop.beats(0.8439, 81, 0.3674, kept(0.8439, 106, 0.3443)));
    assertFalse(TrainingLoop.beats(0.8439, 106, 0.3443, kept(0.8439, 81, 0.3674)));
  }

  @Test
  void atEqualAccuracyAndSizeTheLowerLossWinsAndATieKeepsTheEarlier() {
    assertTrue(TrainingLoop.beats(0.84, 96, 0.35, kept(0.84, 96, 0.36)));
    assertFalse(TrainingLoop.beats(0.84, 96, 0.37, kept(0.84, 96, 0.36)));
    assertFalse(TrainingLoop.beats(0.84, 96, 0.36, kept(0.84, 96, 0.36)));
  }
}
