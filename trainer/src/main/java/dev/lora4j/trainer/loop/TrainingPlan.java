package dev.lora4j.trainer.loop;

import java.util.Map;

/**
 * What a run is about to do, reported once before the first step.
 *
 * @param startStep optimizer steps already done (non-zero when resuming)
 * @param trainableParameters values the optimizers update (adapter + head)
 * @param parameterCounts trainable values per optimizer (adapter, head, method)
 */
public record TrainingPlan(
    String method,
    String device,
    int epochs,
    int stepsPerEpoch,
    long totalSteps,
    long startStep,
    int trainExamples,
    int devExamples,
    long trainTokensPerEpoch,
    long trainableParameters,
    Map<String, Long> parameterCounts,
    int adaptedModules,
    int initialRanks) {}
