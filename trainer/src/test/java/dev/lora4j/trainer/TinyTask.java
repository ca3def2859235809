package dev.lora4j.trainer;

import dev.lora4j.models.testing.TinySentiment;
import dev.lora4j.trainer.data.TsvDataset;
import java.nio.file.Path;

/** {@link TinySentiment} written to a directory and opened: the tiny base model with its train and dev sets. */
record TinyTask(BaseModel base, TsvDataset train, TsvDataset dev) {
  static TinyTask open(Path dir, int train, int dev) throws Exception {
    TinySentiment.write(dir, train, dev);
    return new TinyTask(BaseModel.open(dir.resolve("base").toString()), TsvDataset.read(dir.resolve("train.tsv")),
        TsvDataset.read(dir.resolve("dev.tsv")));
  }

  /** A run on this task's base model and data; {@code runDir} null for no checkpoints or metrics. */
  TrainingRun run(TrainingConfig config, Path runDir, boolean resume, String name) {
    return new TrainingRun(config, base, train, dev, runDir, resume, name);
  }
}
