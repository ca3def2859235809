package dev.lora4j.trainer.loop;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.lora4j.trainer.data.Batch;
import dev.lora4j.trainer.encoder.DjlEncoder;
import dev.lora4j.trainer.encoder.ModuleHook;
import dev.lora4j.trainer.head.ClassifierHead;

/** Encoder, adapter and head composed: batch in, logits out; and the loss on them. */
public final class LogitsAndLoss {
  private LogitsAndLoss() {}

  /** Logits {@code [rows, labels]}; arrays are created in {@code manager}. */
  public static NDArray logits(DjlEncoder encoder, ModuleHook hook, ClassifierHead head, Batch batch,
      NDManager manager, boolean training) {
    return logits(encoder, hook, head, batch, manager, training, false);
  }

  /** As above, with the frozen base in bfloat16 when {@code bf16} (the head stays float32). */
  public static NDArray logits(DjlEncoder encoder, ModuleHook hook, ClassifierHead head, Batch batch,
      NDManager manager, boolean training, boolean bf16) {
    Shape shape = new Shape(batch.rows(), batch.seq());
    NDArray ids = manager.create(batch.ids(), shape);
    NDArray mask = manager.create(batch.mask(), shape);
    NDArray hidden = encoder.forward(ids, mask, null, hook, bf16);
    return head.logits(hidden, mask, training);
  }

  /** Mean cross-entropy of {@code logits [rows, labels]} against label indices. */
  public static NDArray crossEntropy(NDArray logits, int[] labels, NDManager manager) {
    long classes = logits.getShape().get(1);
    NDArray oneHot = manager.create(labels).toType(DataType.INT64, false).oneHot((int) classes);
    return logits.logSoftmax(1).mul(oneHot).sum(new int[] {1}).neg().mean();
  }
}
