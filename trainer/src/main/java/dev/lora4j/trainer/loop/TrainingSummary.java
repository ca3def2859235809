package dev.lora4j.trainer.loop;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How a run went: the numbers that end up in the adapter's provenance metrics.
 *
 * @param kept the evaluation whose weights the adapter carries (null without dev data)
 * @param ranks live ranks per module of the kept weights
 * @param trainSeconds time in optimizer steps (this process, evaluation excluded)
 * @param trainTokens real tokens through training steps in this process
 */
public record TrainingSummary(
    long steps,
    EvalReport kept,
    EvalReport last,
    double finalTrainLoss,
    Map<String, Integer> ranks,
    int initialRanks,
    long trainableParameters,
    double trainSeconds,
    long trainTokens,
    double wallSeconds) {

  public double tokensPerSecond() {
    return trainSeconds > 0 ? trainTokens / trainSeconds : 0;
  }

  public int keptRanks() {
    return ranks.values().stream().mapToInt(Integer::intValue).sum();
  }

  /** For {@link dev.lora4j.models.adapter.Provenance#metrics()}. */
  public Map<String, Object> toMetrics() {
    Map<String, Object> m = new LinkedHashMap<>();
    if (kept != null) {
      m.put("dev_accuracy", kept.accuracy());
      m.put("dev_loss", kept.loss());
      m.put("kept_step", kept.step());
    }
    if (last != null) {
      m.put("last_dev_accuracy", last.accuracy());
    }
    m.put("steps", steps);
    m.put("final_train_loss", finalTrainLoss);
    m.put("ranks_kept", keptRanks());
    m.put("ranks_initial", initialRanks);
    m.put("ranks_per_module", new LinkedHashMap<>(ranks));
    m.put("trainable_parameters", trainableParameters);
    m.put("train_seconds", trainSeconds);
    m.put("train_tokens", trainTokens);
    m.put("train_tokens_per_second", tokensPerSecond());
    m.put("wall_seconds", wallSeconds);
    return m;
  }
}
