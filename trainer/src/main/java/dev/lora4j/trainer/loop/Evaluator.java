package dev.lora4j.trainer.loop;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import dev.lora4j.trainer.data.Batch;
import dev.lora4j.trainer.data.BatchPlan;
import dev.lora4j.trainer.data.Example;
import dev.lora4j.trainer.encoder.DjlEncoder;
import dev.lora4j.trainer.encoder.ModuleHook;
import dev.lora4j.trainer.head.ClassifierHead;
import java.util.List;

/** Logits, accuracy and mean cross-entropy of a model on examples, without dropout or gradients. */
public final class Evaluator {
  public static final int BATCH = 64;

  private Evaluator() {}

  /**
   * @param predictions predicted label index per example, in input order
   * @param logits per example, in input order
   */
  public record Result(double accuracy, double loss, int examples, int[] predictions, float[][] logits) {}

  /** Logits per example, in input order (batches are formed by length for speed). */
  public static float[][] logits(DjlEncoder encoder, ModuleHook hook, ClassifierHead head, List<Example> examples,
      NDManager parent) {
    Autograd.offOnThisThread();
    float[][] logits = new float[examples.size()][];
    for (int[] idx : BatchPlan.evaluation(examples, BATCH)) {
      Batch batch = Batch.of(examples, idx);
      try (NDManager m = parent.newSubManager(); NDScope scope = new NDScope()) {
        scope.suppressNotUsedWarning();
        NDArray out = LogitsAndLoss.logits(encoder, hook, head, batch, m, false);
        float[] flat = out.toFloatArray();
        int classes = (int) out.getShape().get(1);
        for (int r = 0; r < idx.length; r++) {
          logits[idx[r]] = java.util.Arrays.copyOfRange(flat, r * classes, (r + 1) * classes);
        }
      }
    }
    return logits;
  }

  public static Result evaluate(DjlEncoder encoder, ModuleHook hook, ClassifierHead head, List<Example> examples,
      NDManager parent) {
    return score(logits(encoder, hook, head, examples, parent), examples);
  }

  /** Accuracy and mean cross-entropy of {@code logits} against the examples' labels. */
  public static Result score(float[][] logits, List<Example> examples) {
    int n = examples.size();
    int[] predictions = new int[n];
    int correct = 0;
    double loss = 0;
    for (int i = 0; i < n; i++) {
      float[] row = logits[i];
      int best = 0;
      double max = row[0];
      for (int c = 1; c < row.length; c++) {
        if (row[c] > row[best]) {
          best = c;
        }
        max = Math.max(max, row[c]);
      }
      double sum = 0;
      for (float v : row) {
        sum += Math.exp(v - max);
      }
      loss += max + Math.log(sum) - row[examples.get(i).label()];
      predictions[i] = best;
      if (best == examples.get(i).label()) {
        correct++;
      }
    }
    return new Result(n == 0 ? 0 : (double) correct / n, n == 0 ? 0 : loss / n, n, predictions, logits);
  }
}
