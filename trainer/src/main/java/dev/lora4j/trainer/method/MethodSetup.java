package dev.lora4j.trainer.method;

import ai.djl.ndarray.NDManager;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.trainer.TrainingConfig;
import java.util.List;
import java.util.Random;

/**
 * What a method gets to build its trainable state.
 *
 * @param targets the modules to adapt, in model order
 * @param manager owns the method's arrays (on the training device) until the state is closed
 * @param random seeded: initial values must come from here so runs and resumes repeat exactly
 */
public record MethodSetup(List<LinearModule> targets, TrainingConfig config, NDManager manager, Random random) {}
