package dev.lora4j.trainer;

import dev.lora4j.models.testing.PublicTypes;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The module's public API fits on one screen and cannot grow silently (PublicTypes scans the
 * sources). What the cli and the exporter's parity tests call: the training entry points and their
 * configuration, the data files, the listener events, and the DJL forward pass the exported graphs
 * are compared with. Internals of a method, the loop and the encoder are package-private.
 */
class PublicSurfaceTest {
  @Test
  void thePublicTypesAreExactlyTheListedOnes() {
    PublicTypes.requireExactly(Set.of(
        "dev.lora4j.trainer.AdapterModel",
        "dev.lora4j.trainer.BaseModel",
        "dev.lora4j.trainer.DeviceChoice",
        "dev.lora4j.trainer.DjlMatrices",
        "dev.lora4j.trainer.NestedRankConfig",
        "dev.lora4j.trainer.Precision",
        "dev.lora4j.trainer.PyTorchEngine",
        "dev.lora4j.trainer.SaloraConfig",
        "dev.lora4j.trainer.SparsityConfig",
        "dev.lora4j.trainer.Trainer",
        "dev.lora4j.trainer.TrainingConfig",
        "dev.lora4j.trainer.TrainingResult",
        "dev.lora4j.trainer.TrainingRun",
        "dev.lora4j.trainer.TransformKind",
        "dev.lora4j.trainer.data.Batch",
        "dev.lora4j.trainer.data.BatchPlan",
        "dev.lora4j.trainer.data.Example",
        "dev.lora4j.trainer.data.Examples",
        "dev.lora4j.trainer.data.LabelSet",
        "dev.lora4j.trainer.data.LabeledText",
        "dev.lora4j.trainer.data.TsvDataset",
        "dev.lora4j.trainer.encoder.DjlEncoder",
        "dev.lora4j.trainer.encoder.ModuleHook",
        "dev.lora4j.trainer.encoder.ScalarConstants",
        "dev.lora4j.trainer.head.ClassifierHead",
        "dev.lora4j.trainer.loop.AdamW",
        "dev.lora4j.trainer.loop.Checkpoint",
        "dev.lora4j.trainer.loop.EvalReport",
        "dev.lora4j.trainer.loop.Evaluator",
        "dev.lora4j.trainer.loop.LogitsAndLoss",
        "dev.lora4j.trainer.loop.MetricsLog",
        "dev.lora4j.trainer.loop.StepReport",
        "dev.lora4j.trainer.loop.TrainingListener",
        "dev.lora4j.trainer.loop.TrainingLoop",
        "dev.lora4j.trainer.loop.TrainingPlan",
        "dev.lora4j.trainer.loop.TrainingSummary",
        "dev.lora4j.trainer.method.BranchFactor",
        "dev.lora4j.trainer.method.DevScorer",
        "dev.lora4j.trainer.method.LowRankBranch",
        "dev.lora4j.trainer.method.LowRankState",
        "dev.lora4j.trainer.method.MethodSetup",
        "dev.lora4j.trainer.method.MethodState",
        "dev.lora4j.trainer.method.Methods",
        "dev.lora4j.trainer.method.StepInfo",
        "dev.lora4j.trainer.method.TrainableParameter",
        "dev.lora4j.trainer.method.TrainingMethod"));
  }
}
