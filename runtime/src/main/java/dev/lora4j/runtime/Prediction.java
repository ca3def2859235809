package dev.lora4j.runtime;

import java.util.List;

/**
 * One answer: the adapter that produced it, the winning label, and every label's probability.
 *
 * @param adapter the adapter the request named
 * @param labels label names, in logit order
 * @param logits raw scores
 * @param probabilities softmax of the logits
 */
public record Prediction(String adapter, List<String> labels, float[] logits, float[] probabilities) {
  public Prediction {
    labels = List.copyOf(labels);
    logits = logits.clone();
    probabilities = probabilities.clone();
  }

  public int labelIndex() {
    int best = 0;
    for (int i = 1; i < probabilities.length; i++) {
      if (probabilities[i] > probabilities[best]) {
        best = i;
      }
    }
    return best;
  }

  public String label() {
    return labels.get(labelIndex());
  }

  public float probability() {
    return probabilities[labelIndex()];
  }

  @Override
  public float[] logits() {
    return logits.clone();
  }

  @Override
  public float[] probabilities() {
    return probabilities.clone();
  }
}
