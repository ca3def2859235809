package dev.lora4j.trainer.method;


/**
 * ERAT-DLoRA's rank schedule, as lora4j implements it (the paper's body was not available; this
 * follows its abstract — a fully dynamic truncation range and a time- and depth-aware rank — on top of
 * DyLoRA). For a module in layer {@code l} of {@code L} adapted layers, at training progress
 * {@code t} in [0, 1], with rank {@code r}:
 *
 * <pre>
 *   depth(l) = depthMin + (1 - depthMin) · l / (L - 1)            (1 when L = 1)
 *   time(t)  = start + (1 - start) · min(1, t / ramp)              (1 when ramp = 0)
 *   hi(l, t) = clamp(ceil(r · depth(l) · time(t)), 1, r)          the layer's rank budget now
 *   w        = max(1, ceil(window · r))                             band width
 *   lo(l, t) = max(1, hi(l, t) - w + 1)
 *   b        ~ uniform on {lo, ..., hi}                             ranks used this step: 1..b
 * </pre>
 *
 * So deeper layers get more rank, every layer's budget grows over the first {@code ramp} of training,
 * and the sampled band [lo, hi] slides up with it instead of always spanning 1..r as in DyLoRA (whose
 * schedule is the special case depthMin = start = window = 1). Each step still uses a prefix 1..b, so
 * any truncation stays a model that was trained; a layer ends with {@code cap(l) = hi(l, 1)} ranks,
 * which is what it exports (ranks above were never used and keep B = 0).
 */
record EratSchedule(int rank, int layers, double depthMin, double start, double ramp, double window) {

  public EratSchedule {
    if (rank < 1 || layers < 1) {
      throw new IllegalArgumentException("rank " + rank + " and layers " + layers + " must be at least 1");
    }
  }

  public double depth(int layer) {
    return layers == 1 ? 1 : depthMin + (1 - depthMin) * layer / (double) (layers - 1);
  }

  public double time(double progress) {
    return ramp == 0 ? 1 : start + (1 - start) * Math.min(1, progress / ramp);
  }

  /** hi(l, t): the most ranks layer {@code layer} may use at {@code progress}. */
  public int budget(int layer, double progress) {
    // the small epsilon keeps exact products such as 8 · 0.5 from rounding up to 5 through float error
    int hi = (int) Math.ceil(rank * depth(layer) * time(progress) - 1e-9);
    return Math.max(1, Math.min(rank, hi));
  }

  public int low(int layer, double progress) {
    int width = Math.max(1, (int) Math.ceil(window * rank - 1e-9));
    return Math.max(1, budget(layer, progress) - width + 1);
  }

  /** The layer's budget at the end of training: its exported rank. */
  public int cap(int layer) {
    return budget(layer, 1);
  }

  /** A uniform draw from [lo, hi], a pure function of (seed, step, module index) so resumes repeat it. */
  public int sample(int layer, double progress, long seed, long step, int module) {
    int lo = low(layer, progress);
    int hi = budget(layer, progress);
    return lo + NestedRanks.random(seed, step, module).nextInt(hi - lo + 1);
  }

  /** DyLoRA's schedule: b uniform on 1..r for every layer, all the time. */
  public static EratSchedule dylora(int rank, int layers) {
    return new EratSchedule(rank, layers, 1, 1, 0, 1);
  }
}
