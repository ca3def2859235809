package dev.lora4j.trainer;

import dev.lora4j.trainer.data.TsvDataset;
import java.nio.file.Path;

/**
 * One training job: options, base model, data and where its working files go.
 *
 * @param dev null trains without evaluation (the last weights are kept)
 * @param runDirectory receives {@code metrics.jsonl} and {@code checkpoint/}; null keeps nothing on disk
 * @param resume continue from {@code runDirectory/checkpoint}
 * @param name the adapter's name
 */
public record TrainingRun(TrainingConfig config, BaseModel base, TsvDataset train, TsvDataset dev,
    Path runDirectory, boolean resume, String name) {

  public static final String METRICS_FILE = "metrics.jsonl";
  public static final String CHECKPOINT_DIR = "checkpoint";

  public TrainingRun {
    java.util.Objects.requireNonNull(config, "config");
    java.util.Objects.requireNonNull(base, "base");
    java.util.Objects.requireNonNull(train, "train");
    java.util.Objects.requireNonNull(name, "name");
    if (resume && runDirectory == null) {
      throw new dev.lora4j.models.Lora4jException("resuming needs the run directory that holds the checkpoint");
    }
  }

  public Path checkpointDirectory() {
    return runDirectory == null ? null : runDirectory.resolve(CHECKPOINT_DIR);
  }

  public Path metricsFile() {
    return runDirectory == null ? null : runDirectory.resolve(METRICS_FILE);
  }
}
