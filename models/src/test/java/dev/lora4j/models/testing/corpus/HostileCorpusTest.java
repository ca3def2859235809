package dev.lora4j.models.testing.corpus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;

/** The corpus harness itself: each way a reader can misbehave must fail the run. */
class HostileCorpusTest {
  @TempDir Path tmp;

  private HostileCorpus<String> corpus(String label) throws Exception {
    Path valid = Files.createDirectories(tmp.resolve(label + "-valid"));
    Files.writeString(valid.resolve("f.txt"), "hello");
    return new HostileCorpus<String>(label, valid, Files.createDirectories(tmp.resolve(label + "-work")),
        Duration.ofMillis(500)).uncounted()
        .add(Mutators.binary("f.txt", "hello".getBytes(), new java.util.Random(1), 0, 1, 0));
  }

  private void assertCaseFails(String label, HostileCorpus.Reader<String> reader, String why) throws Exception {
    AssertionFailedError e = assertThrows(AssertionFailedError.class,
        () -> corpus(label).run(reader, (v, m) -> assertEquals("ok", v)));
    assertTrue(e.getMessage().contains(why), e.getMessage());
  }

  @Test
  void aReaderThatRefusesNamingTheInputPasses() throws Exception {
    corpus("good").run(dir -> {
      throw new Lora4jException(dir.resolve("f.txt") + ": corrupt");
    }, (v, m) -> { });
  }

  @Test
  void everyKindOfMisbehaviourFailsTheRun() throws Exception {
    assertCaseFails("npe", dir -> {
      throw new NullPointerException();
    }, "threw java.lang.NullPointerException");
    assertCaseFails("oom", dir -> {
      throw new OutOfMemoryError("Java heap space");
    }, "threw java.lang.OutOfMemoryError");
    assertCaseFails("nullmessage", dir -> {
      throw new Lora4jException(dir + ": cannot read (null)");
    }, "refused without a message");
    assertCaseFails("unnamed", dir -> {
      throw new Lora4jException("corrupt file");
    }, "does not name the input");
    assertCaseFails("leftover", dir -> {
      Files.writeString(dir.resolve(".f.txt.tmp"), "half");
      throw new Lora4jException(dir + ": corrupt");
    }, "left behind: [leftover-case00005/.f.txt.tmp]");
    assertCaseFails("hang", dir -> {
      Thread.sleep(5_000);
      return "ok";
    }, "still running after 500 ms");
    assertCaseFails("insane", dir -> "garbage", "loaded, but not sane");
  }

  @Test
  void mutatorsAreReproducibleFromTheSeed() {
    byte[] b = "0123456789abcdef".repeat(8).getBytes();
    List<String> a = Mutators.binary("x", b, new java.util.Random(7), 5, 5, 5).stream().map(Mutation::name).toList();
    List<String> c = Mutators.binary("x", b, new java.util.Random(7), 5, 5, 5).stream().map(Mutation::name).toList();
    assertEquals(a, c);
  }
}
