package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The benchmark's sampling orders: which calls run when, and which are timed. */
class InterleavedTest {
  @Test
  void blocksAlternateAndTheirFirstCallIsNotTimed() throws Exception {
    List<String> calls = Collections.synchronizedList(new ArrayList<>());
    int[] inBlock = {0};
    String[] last = {""};
    Map<String, Timer.Action> actions = new LinkedHashMap<>();
    for (String name : List.of("same", "different")) {
      actions.put(name, () -> {
        calls.add(name);
        inBlock[0] = name.equals(last[0]) ? inBlock[0] + 1 : 0;
        last[0] = name;
        if (inBlock[0] == 0) {
          Thread.sleep(200); // what a block's first call pays for following the other action
        }
      });
    }
    Map<String, Double> ms = Interleaved.blockMedians(actions, 3, 2);
    List<String> expected = new ArrayList<>();
    for (int b = 0; b < 3; b++) {
      expected.addAll(Collections.nCopies(2, "same"));
      expected.addAll(Collections.nCopies(2, "different"));
    }
    assertEquals(expected, calls);
    // blocks of two: had the first call been timed too, half the samples would take 200 ms and the
    // median at least 100 ms; timed instead of the second, all of them
    assertTrue(ms.get("same") < 100 && ms.get("different") < 100, ms.toString());
  }

  @Test
  void aBlockOfCallsIsTimedAsItsMeanPerCall() throws Exception {
    int[] n = {0};
    long perCall = Interleaved.here(() -> {
      n[0]++;
      Thread.sleep(n[0] == 1 ? 120 : 0);
    }, 4).nanos();
    assertEquals(4, n[0]);
    // one 120 ms call in four: the mean is at least 30 ms and far below 120 ms
    assertTrue(perCall >= 30_000_000L && perCall < 100_000_000L, perCall + " ns");
  }
}
