package dev.lora4j.trainer;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.trainer.loop.TrainingSummary;
import java.nio.file.Path;

/**
 * What training produced.
 *
 * @param metricsFile the JSON-lines log, or null when the run kept nothing on disk
 */
public record TrainingResult(Adapter adapter, TrainingSummary summary, Path metricsFile) {}
