package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class PaddingRunsTest {
  /** Every row exactly once, over all runs. */
  static void assertPartition(int n, List<int[]> runs) {
    int[] seen = runs.stream().flatMapToInt(Arrays::stream).sorted().toArray();
    assertArrayEquals(IntStream.range(0, n).toArray(), seen);
  }

  @Test
  void mixedLengthsRunInGroupsOfEightShortestFirst() {
    int[] counts = new int[32];
    for (int i = 0; i < counts.length; i++) {
      counts[i] = i % 2 == 0 ? 5 : 60;
    }
    List<int[]> runs = PaddingRuns.plan(counts);
    assertPartition(32, runs);
    assertEquals(List.of(8, 8, 8, 8), runs.stream().map(r -> r.length).toList());
    // padded tokens 2 x 8 x 5 + 2 x 8 x 60 = 1,040 against 32 x 60 = 1,920 in one run
    for (int k = 0; k < 4; k++) {
      int want = k < 2 ? 5 : 60;
      for (int row : runs.get(k)) {
        assertEquals(want, counts[row], "run " + k);
      }
    }
  }

  @Test
  void aShortRemainderJoinsTheLastRun() {
    int[] counts = new int[20];
    for (int i = 0; i < counts.length; i++) {
      counts[i] = i < 10 ? 60 : 5; // long rows first: the runs must come in length order, not input order
    }
    List<int[]> runs = PaddingRuns.plan(counts);
    assertPartition(20, runs);
    assertEquals(List.of(8, 12), runs.stream().map(r -> r.length).toList());
    assertTrue(Arrays.stream(runs.get(0)).allMatch(r -> counts[r] == 5));
  }

  @Test
  void similarLengthsOrSmallBatchesStayOneRunInInputOrder() {
    int[] even = new int[32];
    for (int i = 0; i < even.length; i++) {
      even[i] = 20 + i % 5; // at most 25 % padding saved: not worth three more runs
    }
    assertEquals(1, PaddingRuns.plan(even).size());
    assertArrayEquals(IntStream.range(0, 32).toArray(), PaddingRuns.plan(even).get(0));

    int[] small = new int[15];
    for (int i = 0; i < small.length; i++) {
      small[i] = i % 2 == 0 ? 3 : 100;
    }
    assertArrayEquals(IntStream.range(0, 15).toArray(), PaddingRuns.plan(small).get(0));
    assertEquals(1, PaddingRuns.plan(small).size());
  }
}
