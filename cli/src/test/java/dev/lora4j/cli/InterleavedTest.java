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
  void pairedBlocksTakeEachRoundsDifferenceUnderItsOwnLoad() throws Exception {
    // load that grows 30 ms a round, b always 6 ms slower than a within a round: the per-round
    // difference is 6 ms; pairing a round's a with another round's b would give 36 or -24 ms, and a
    // reversed sign -6 ms. Sleep overshoots by well under a millisecond on an idle JVM, and each
    // figure is a median (of a block's three timed calls, then of three rounds): 2.5 ms margin.
    int[] round = {0};
    int[] calls = {0};
    Timer.Action a = () -> Thread.sleep(10 + 30L * round[0]);
    Timer.Action b = () -> {
      Thread.sleep(16 + 30L * round[0]);
      if (++calls[0] % 4 == 0) {
        round[0]++; // b's block (four calls, the first untimed) ends the round
      }
    };
    Interleaved.Paired p = Interleaved.pairedBlocks(a, b, 3, 4);
    java.util.function.Supplier<String> why =
        () -> p.aMs() + " / " + p.bMs() + " ms, per round " + java.util.Arrays.toString(p.differencesMs());
    assertEquals(6.0, p.bMinusAMs(), 2.5, why);
    assertEquals(40.0, p.aMs(), 2.5, why); // all samples' median: the middle round's 10 + 30
    assertEquals(46.0, p.bMs(), 2.5, why);
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
