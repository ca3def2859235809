package dev.lora4j.models.adapter;

import dev.lora4j.models.tensor.Matrix;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * What turns the encoder's last hidden state into an answer: pool the tokens, then (for a
 * classifier) one linear layer to {@code labels.size()} logits. An embedding adapter has no
 * weight: its output is the pooled vector, L2-normalised.
 *
 * @param weight {@code labels x hidden}, null for an embedding head
 * @param bias length {@code labels}, null for an embedding head
 */
public record TaskHead(Pooling pooling, Matrix weight, float[] bias, List<String> labels) {

  /** How token vectors become one sentence vector. */
  public enum Pooling {
    /** Average over the tokens the attention mask keeps. */
    MEAN,
    /** The first token's vector. */
    CLS;

    public static Pooling parse(String s) {
      return switch (s.toLowerCase(java.util.Locale.ROOT)) {
        case "mean" -> MEAN;
        case "cls" -> CLS;
        default -> throw new IllegalArgumentException("pooling must be mean or cls, not '" + s + "'");
      };
    }

    public String id() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  public TaskHead {
    Objects.requireNonNull(pooling, "pooling");
    labels = labels == null ? List.of() : List.copyOf(labels);
    if ((weight == null) != (bias == null)) {
      throw new IllegalArgumentException("head weight and bias come together");
    }
    if (weight != null) {
      if (weight.rows() != bias.length || weight.rows() != labels.size()) {
        throw new IllegalArgumentException(
            "head has " + weight.rows() + " rows, " + bias.length + " biases and " + labels.size()
                + " labels");
      }
      bias = bias.clone();
    }
  }

  /** Value equality: the bias is compared by content, as every other component is. */
  @Override
  public boolean equals(Object o) {
    return o instanceof TaskHead h
        && pooling == h.pooling
        && Objects.equals(weight, h.weight)
        && Arrays.equals(bias, h.bias)
        && labels.equals(h.labels);
  }

  @Override
  public int hashCode() {
    return Objects.hash(pooling, weight, Arrays.hashCode(bias), labels);
  }

  public static TaskHead classifier(Pooling pooling, Matrix weight, float[] bias, List<String> labels) {
    return new TaskHead(pooling, weight, bias, labels);
  }

  public static TaskHead embeddings(Pooling pooling) {
    return new TaskHead(pooling, null, null, List.of());
  }

  public boolean isClassifier() {
    return weight != null;
  }

  @Override
  public float[] bias() {
    return bias == null ? null : bias.clone();
  }
}
