package dev.lora4j.runtime;

import java.util.List;
import java.util.Map;

/**
 * A loaded adapter as listings show it.
 *
 * @param resident false when the memory budget evicted it (it reloads on its next request)
 * @param ranks rank per adapted module, after pruning
 * @param bytes memory it takes while resident, every copy the runtime holds (what the budget counts)
 * @param labels label names; empty for an embedding adapter
 */
public record AdapterInfo(
    String name, String source, boolean resident, Map<String, Integer> ranks, long parameters, long bytes,
    List<String> labels, String pooling) {

  public AdapterInfo {
    ranks = Map.copyOf(ranks);
    labels = List.copyOf(labels);
  }

  public int maxRank() {
    return ranks.values().stream().mapToInt(Integer::intValue).max().orElse(0);
  }
}
