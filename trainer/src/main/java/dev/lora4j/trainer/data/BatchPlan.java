package dev.lora4j.trainer.data;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * Which examples go into which batch. Training batches are length-bucketed: examples are shuffled,
 * cut into windows of {@value #WINDOW} batches, sorted by length inside each window and split, and
 * the batches are shuffled again — similar lengths share a batch (little padding) while the order
 * stays random. Everything is a pure function of (seed, epoch), which is what lets a resumed run
 * see exactly the batches the interrupted one would have.
 */
public final class BatchPlan {
  static final int WINDOW = 50;

  private BatchPlan() {}

  public static List<int[]> training(List<Example> examples, int batchSize, long seed, int epoch) {
    Random rnd = new Random(seed * 1_000_003L + epoch);
    List<Integer> order = new ArrayList<>(IntStream.range(0, examples.size()).boxed().toList());
    java.util.Collections.shuffle(order, rnd);
    List<int[]> batches = new ArrayList<>();
    int window = batchSize * WINDOW;
    for (int from = 0; from < order.size(); from += window) {
      List<Integer> w = new ArrayList<>(order.subList(from, Math.min(order.size(), from + window)));
      w.sort(Comparator.comparingInt(i -> examples.get(i).length()));
      split(w, batchSize, batches);
    }
    java.util.Collections.shuffle(batches, rnd);
    return batches;
  }

  /** Evaluation: sorted by length (fastest), every example exactly once. */
  public static List<int[]> evaluation(List<Example> examples, int batchSize) {
    List<Integer> order = new ArrayList<>(IntStream.range(0, examples.size()).boxed().toList());
    order.sort(Comparator.comparingInt(i -> examples.get(i).length()));
    List<int[]> batches = new ArrayList<>();
    split(order, batchSize, batches);
    return batches;
  }

  /** Optimizer steps per epoch for {@code n} examples. */
  public static int batchesPerEpoch(int n, int batchSize) {
    int window = batchSize * WINDOW;
    int full = n / window;
    int rest = n % window;
    return full * WINDOW + (rest + batchSize - 1) / batchSize;
  }

  private static void split(List<Integer> ids, int batchSize, List<int[]> out) {
    for (int i = 0; i < ids.size(); i += batchSize) {
      out.add(ids.subList(i, Math.min(ids.size(), i + batchSize)).stream().mapToInt(Integer::intValue).toArray());
    }
  }
}
