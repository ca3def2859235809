package dev.lora4j.trainer.head;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.adapter.TaskHead.Pooling;
import dev.lora4j.trainer.DjlMatrices;
import dev.lora4j.trainer.method.TrainableParameter;
import java.util.List;
import java.util.Random;

/**
 * Sequence classification on top of the encoder: pool the tokens (masked mean or the first token),
 * dropout, one linear layer to one logit per label.
 */
public final class ClassifierHead implements AutoCloseable {
  private final NDManager manager;
  private final Pooling pooling;
  private final float dropout;
  private final List<String> labels;
  private final NDArray weight;
  private final NDArray bias;

  private ClassifierHead(NDManager manager, Pooling pooling, double dropout, List<String> labels, NDArray weight,
      NDArray bias) {
    this.manager = manager;
    this.pooling = pooling;
    this.dropout = (float) dropout;
    this.labels = List.copyOf(labels);
    this.weight = weight;
    this.bias = bias;
  }

  /** A fresh, trainable head: weights ~ N(0, 0.02) as BERT initialises classifiers, bias 0. */
  public static ClassifierHead initial(int hidden, List<String> labels, Pooling pooling, double dropout,
      Random random, NDManager parent) {
    NDManager m = parent.newSubManager();
    float[] w = new float[labels.size() * hidden];
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) (random.nextGaussian() * 0.02);
    }
    NDArray weight = m.create(w, new Shape(labels.size(), hidden));
    NDArray bias = m.zeros(new Shape(labels.size()));
    weight.setName("classifier.weight");
    bias.setName("classifier.bias");
    weight.setRequiresGradient(true);
    bias.setRequiresGradient(true);
    return new ClassifierHead(m, pooling, dropout, labels, weight, bias);
  }

  /** A fixed head from a trained adapter, for inference. */
  public static ClassifierHead frozen(TaskHead head, NDManager parent) {
    if (!head.isClassifier()) {
      throw new dev.lora4j.models.Lora4jException("the adapter has no classifier head (an embedding adapter)");
    }
    NDManager m = parent.newSubManager();
    return new ClassifierHead(m, head.pooling(), 0, head.labels(), DjlMatrices.toArray(head.weight(), m),
        m.create(head.bias()));
  }

  /** Logits {@code [batch, labels]} from the last hidden state and the int64 attention mask. */
  public NDArray logits(NDArray hidden, NDArray attentionMask, boolean training) {
    NDArray pooled = pool(hidden, attentionMask);
    if (training && dropout > 0) {
      pooled = Dropout.dropout(pooled, dropout, true).singletonOrThrow();
    }
    return Linear.linear(pooled, weight, bias).singletonOrThrow();
  }

  /** Mean over the tokens the mask keeps, or the first token. */
  public NDArray pool(NDArray hidden, NDArray attentionMask) {
    if (pooling == Pooling.CLS) {
      return hidden.get(":, 0, :");
    }
    NDArray m = attentionMask.toType(DataType.FLOAT32, false).expandDims(-1);
    return hidden.mul(m).sum(new int[] {1}).div(m.sum(new int[] {1}));
  }

  public List<TrainableParameter> parameters() {
    return List.of(new TrainableParameter(weight.getName(), weight, TrainableParameter.Updater.HEAD, true),
        new TrainableParameter(bias.getName(), bias, TrainableParameter.Updater.HEAD, false));
  }

  public List<String> labels() {
    return labels;
  }

  public TaskHead export() {
    return TaskHead.classifier(pooling, DjlMatrices.toMatrix(weight), bias.toFloatArray(), labels);
  }

  @Override
  public void close() {
    manager.close();
  }
}
