package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.trainer.NestedRankConfig;
import dev.lora4j.trainer.Precision;
import dev.lora4j.trainer.TrainingConfig;
import dev.lora4j.trainer.TransformKind;
import org.apache.commons.cli.DefaultParser;
import org.junit.jupiter.api.Test;

/** The method options of {@code lora4j train}: parsed into the config, refused for other methods. */
class TrainMethodOptionsTest {
  static TrainingConfig parse(String... args) throws Exception {
    return TrainCommand.config(new DefaultParser().parse(new TrainCommand().options(), args));
  }

  @Test
  void methodOptionsReachTheConfig() throws Exception {
    TrainingConfig s = parse("--method", "salora", "--target-sparsity", "0.4", "--ortho-weight", "0.05");
    assertEquals(0.4, s.salora().targetSparsity());
    assertEquals(0.05, s.salora().orthoWeight());
    assertEquals(TransformKind.DUAL, parse("--method", "mtlora", "--transform", "dual").transform());
    TrainingConfig d = parse("--method", "dylora", "--dylora-mode", "frozen", "--export-rank", "auto",
        "--tolerance", "0.01");
    assertEquals(NestedRankConfig.Mode.FROZEN, d.nested().mode());
    assertTrue(d.nested().autoExportRank());
    assertEquals("auto", d.toMap().get("export-rank"));
    assertEquals(0.75, parse("--method", "erat", "--erat-depth-min", "0.75").nested().depthMin());
  }

  /** The recipe search's picks (docs/RESULTS.md): rank 16, alpha 32; SoRA's lambda 1e-3; SaLoRA's target 0.5. */
  @Test
  void gatedMethodsDefaultToTheRecipeSearchsPicks() throws Exception {
    for (String method : new String[] {"sora", "salora"}) {
      TrainingConfig c = parse("--method", method);
      assertEquals(16, c.rank(), method);
      assertEquals(32, c.alpha(), 0, method);
    }
    assertEquals(1e-3, parse("--method", "sora").sparsity().lambda(), 0);
    assertEquals(0.5, parse("--method", "salora").salora().targetSparsity(), 0);
    // --l0-lambda alone asks for the fixed strength, so no target; both given, the target rules
    assertTrue(Double.isNaN(parse("--method", "salora", "--l0-lambda", "0.02").salora().targetSparsity()));
    assertEquals(0.3, parse("--method", "salora", "--l0-lambda", "0.02", "--target-sparsity", "0.3").salora()
        .targetSparsity(), 0);
    // other methods keep rank 8, alpha 16, and an explicit rank or alpha always wins
    TrainingConfig lora = parse("--method", "lora");
    assertEquals(8, lora.rank());
    assertEquals(16, lora.alpha(), 0);
    TrainingConfig given = parse("--method", "sora", "--rank", "4", "--alpha", "8", "--sparsity-lambda", "2e-4");
    assertEquals(4, given.rank());
    assertEquals(8, given.alpha(), 0);
    assertEquals(2e-4, given.sparsity().lambda(), 0);
  }

  @Test
  void theCommandLineTrainsInBf16WhereTheHardwareHasItUnlessToldOtherwise() throws Exception {
    // the library default stays fp32 (CPU-independent results); the command line asks for auto
    assertEquals(Precision.FP32, TrainingConfig.builder().build().precision());
    assertEquals(Precision.AUTO, parse().precision());
    assertEquals(Precision.FP32, parse("--precision", "fp32").precision());
    assertEquals(Precision.BF16, parse("--precision", "bf16").precision());
  }

  @Test
  void badOrMisplacedOptionsAreNamed() {
    Lora4jException e = assertThrows(Lora4jException.class, () -> parse("--method", "lora", "--transform", "psd"));
    assertEquals("--transform applies to --method mtlora, not lora", e.getMessage());
    e = assertThrows(Lora4jException.class, () -> parse("--method", "salora", "--export-rank", "2"));
    assertEquals("--export-rank applies to --method dylora or erat, not salora", e.getMessage());
    e = assertThrows(Lora4jException.class, () -> parse("--method", "mtlora", "--transform", "diagonal"));
    assertEquals("--transform must be full, psd, staged or dual, not 'diagonal'", e.getMessage());
    e = assertThrows(Lora4jException.class, () -> parse("--method", "salora", "--target-sparsity", "1.5"));
    assertEquals("--target-sparsity must be in [0, 1), not 1.5", e.getMessage());
    e = assertThrows(Lora4jException.class, () -> parse("--method", "dylora", "--rank", "4", "--export-rank", "6"));
    assertEquals("--export-rank 6 exceeds --rank 4", e.getMessage());
  }
}
