package dev.lora4j.exporter;

import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.onnx.OnnxModel;
import java.util.List;

/**
 * Adds the low-rank branch of a module: {@code y = x·W^T + b + (x·A'^T)·B'^T}, that is
 * {@code x -> MatMul(A'^T) -> MatMul(B'^T) -> Add} joined after the module's bias Add, with every
 * later reader of the module output rewired to the sum. The same edit serves the factored graph
 * (factors are initializers), the multi-adapter graph (graph inputs) and the mixed-batch graph
 * (per-row factors gathered from stacks; a {@code [batch, in, r]} right operand makes MatMul
 * batched, one adapter per row).
 *
 * <p>Two MatMuls instead of one dense {@code delta W}: the branch costs {@code O(r·(in+out))} per
 * token, and at rank 0 (a module the active adapter leaves alone) it adds exactly zero.
 */
final class LowRankBranches {
  private LowRankBranches() {}

  /**
   * The values holding {@code A'^T} and {@code B'^T} (or their per-row stacks), and for a DoRA
   * module its magnitude {@code [out]} (null otherwise; fixed factors only).
   */
  record Factors(String aT, String bT, String magnitude) {
    Factors(String aT, String bT) {
      this(aT, bT, null);
    }
  }

  /** Makes a module's factor values; nodes it writes through {@code ops} run before the branch. */
  @FunctionalInterface
  interface FactorSource {
    Factors factors(GraphOps ops, LinearModule module);
  }

  static void addAll(OnnxModel model, List<LinearModule> modules, FactorSource source) {
    for (LinearModule m : modules) {
      GraphOps ops = new GraphOps(model, "/lora4j/" + m.name());
      Factors f = source.factors(ops, m);
      String xa = ops.op("MatMul", List.of(m.input(), f.aT()));
      String xab = ops.op("MatMul", List.of(xa, f.bT()));
      String sum = ops.op("Add", List.of(m.output(), xab));
      if (f.magnitude() != null) {
        sum = dora(ops, m, f, sum);
      }
      // rewire first, so the new Add is not among the readers and keeps the original output
      model.rewireConsumers(m.output(), sum, n -> true);
      model.insertNodesAfter(producerIndex(model, m.output()), ops.drain());
    }
  }

  /**
   * DoRA: {@code y = s ⊙ (x·W^T + x·A'^T·B'^T) + b} with {@code s = m / ||W + B'A'||} per output
   * (PEFT's row norm of {@code W (out x in)}, i.e. the column norm of {@code W^T}). {@code s} is
   * computed from the graph's own initializers, so it always matches the factors in the file; its
   * inputs are all constant, so ONNX Runtime folds it once when it loads the graph.
   * {@code sum} is {@code x·W^T + b + x·A'^T·B'^T}; the bias is taken out before scaling and put back.
   */
  private static String dora(GraphOps ops, LinearModule m, Factors f, String sum) {
    String deltaT = ops.op("MatMul", List.of(f.aT(), f.bT()));
    String vT = ops.op("Add", List.of(m.weightInitializer(), deltaT));
    String squares = ops.op("Mul", List.of(vT, vT));
    String norm = ops.op("Sqrt", List.of(ops.reduceSum(squares, 0, false)));
    String scale = ops.op("Div", List.of(f.magnitude(), norm));
    String unbiased = ops.op("Sub", List.of(sum, m.biasInitializer()));
    return ops.op("Add", List.of(ops.op("Mul", List.of(unbiased, scale)), m.biasInitializer()));
  }

  private static int producerIndex(OnnxModel model, String value) {
    int i = model.indexOfProducer(value);
    if (i < 0) {
      throw new IllegalStateException(model.source() + ": no node produces " + value);
    }
    return i;
  }
}
