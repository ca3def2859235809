package dev.lora4j.trainer;

import dev.lora4j.models.Lora4jException;
import java.util.Locale;

/**
 * How gate methods (SoRA) sparsify: a proximal L1 step on the gates after every optimizer step, with
 * its own learning rate and a strength {@code lambda} that a schedule raises over training.
 *
 * @param gateLr step size {@code eta} of the proximal gradient step on the gates
 * @param lambda final L1 strength; the per-step threshold is {@code eta * lambda(step)}
 * @param schedule how lambda grows from 0 (or stays constant) over the training steps
 * @param scheduleSteps number of levels of the {@code step} schedule
 */
public record SparsityConfig(double gateLr, double lambda, Schedule schedule, int scheduleSteps) {

  /** Shapes of {@code lambda(t)} for t in [0, 1] of training. */
  public enum Schedule {
    CONSTANT,
    LINEAR,
    COSINE,
    STEP;

    public static Schedule parse(String s) {
      try {
        return valueOf(s.trim().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new Lora4jException("--lambda-schedule must be constant, linear, cosine or step, not '" + s + "'");
      }
    }

    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * Gate gradients are small (about 1e-5 to 1e-4 on MiniLM: B starts at zero), so lambda lives on
   * that scale (a gate survives while its gradient outweighs lambda) and the step size is large, so
   * the cumulative threshold {@code sum eta * lambda(t)} exceeds the initial gate of 1 within a few
   * hundred steps for ranks the loss does not defend. Lambda 1e-3 with a linear schedule is the
   * recipe search's pick (docs/RESULTS.md, chosen on a held-out slice of train over 5e-4 / 1e-3 /
   * 2e-3 / 4e-3, constant / linear / cosine schedules and gate steps 30 / 100 / 300): it about
   * halves the ranks of a one-epoch SST-2 run (195 steps); 1e-4, the earlier default, sums to a
   * threshold of about 1 over such a run, which a gate starting at 1 barely feels.
   */
  public static final SparsityConfig DEFAULT = new SparsityConfig(100, 1e-3, Schedule.LINEAR, 4);

  public SparsityConfig {
    if (!(gateLr > 0) || !Double.isFinite(gateLr)) {
      throw new Lora4jException("--gate-lr must be positive, not " + gateLr);
    }
    if (!(lambda >= 0) || !Double.isFinite(lambda)) {
      throw new Lora4jException("--sparsity-lambda must be zero or positive, not " + lambda);
    }
    if (scheduleSteps < 1) {
      throw new Lora4jException("--lambda-steps must be at least 1, not " + scheduleSteps);
    }
  }

  /** lambda at {@code step} of {@code totalSteps} (steps counted from 0). */
  public double lambdaAt(long step, long totalSteps) {
    double t = totalSteps <= 1 ? 1 : Math.min(1, (double) step / (totalSteps - 1));
    return lambda * switch (schedule) {
      case CONSTANT -> 1;
      case LINEAR -> t;
      case COSINE -> (1 - Math.cos(Math.PI * t)) / 2;
      case STEP -> Math.min(1, (Math.floor(t * scheduleSteps + 1e-9) + 1) / scheduleSteps);
    };
  }
}
