package dev.lora4j.models.testing.corpus;

import static org.junit.jupiter.api.Assertions.fail;

import dev.lora4j.models.Lora4jException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs a hostile-input corpus in-process: for each {@link Mutation}, a fresh copy of a valid input
 * directory is damaged and handed to a reader. A case passes when the reader either throws a
 * {@link Lora4jException} whose message names the case's input (its directory or a file in it) and
 * is not empty or "null", or returns a value its sanity check accepts; and when, either way, it
 * returns within the per-case limit and leaves the case directory as it found it. Anything else
 * (another exception, an {@link Error} such as OutOfMemoryError, a hang) is a failure; all failures
 * are reported together at the end.
 *
 * <p>Figures are printed per corpus and summed per JVM (one line each), so the build log carries
 * what docs/RELIABILITY.md quotes.
 *
 * @param <T> what the reader returns
 */
public final class HostileCorpus<T> {
  /** What the reader under test does with one damaged input directory. */
  @FunctionalInterface
  public interface Reader<T> {
    T read(Path dir) throws Exception;
  }

  /** Accepts what a reader returned from a damaged input, or throws AssertionError. */
  @FunctionalInterface
  public interface Sanity<T> {
    void check(T loaded, Mutation mutation) throws Exception;
  }

  /** A reader that ran as expected, or why not. */
  private enum Outcome { REFUSED, LOADED, FAILED }

  private static final AtomicInteger TOTAL = new AtomicInteger();
  private static final AtomicInteger TOTAL_REFUSED = new AtomicInteger();
  private static final AtomicInteger TOTAL_LOADED = new AtomicInteger();
  private static final AtomicInteger TOTAL_FAILED = new AtomicInteger();

  private final String label;
  private final Path valid;
  private final Path work;
  private final long limitMillis;
  private final List<Mutation> mutations = new ArrayList<>();
  private boolean writesAllowedOnSuccess;
  private boolean counted = true;
  private java.util.function.BiFunction<Path, Mutation, List<String>> names =
      (dir, m) -> List.of(dir.getFileName().toString());

  /**
   * @param label names this corpus in the printed figures
   * @param valid a directory holding the valid input every case starts from
   * @param work an empty directory for the cases (each gets its own subdirectory, removed after)
   * @param limit per-case time limit
   */
  public HostileCorpus(String label, Path valid, Path work, java.time.Duration limit) {
    this.label = label;
    this.valid = valid;
    this.work = work;
    this.limitMillis = limit.toMillis();
  }

  public HostileCorpus<T> add(List<Mutation> more) {
    mutations.addAll(more);
    return this;
  }

  public HostileCorpus<T> add(Mutation more) {
    mutations.add(more);
    return this;
  }

  /** For commands that produce output when they succeed: new files are then expected, not leftovers. */
  public HostileCorpus<T> writesAllowedOnSuccess() {
    writesAllowedOnSuccess = true;
    return this;
  }

  /**
   * What a refusal's message must name (any one of): by default the case directory, which every
   * path of the input lies in. Command lines may instead name the option whose value was damaged.
   */
  public HostileCorpus<T> messageNamesOneOf(java.util.function.BiFunction<Path, Mutation, List<String>> names) {
    this.names = names;
    return this;
  }

  /** Keeps this corpus out of the summed figures (the harness's own tests feed it bad readers). */
  HostileCorpus<T> uncounted() {
    counted = false;
    return this;
  }

  public int size() {
    return mutations.size();
  }

  /** Runs every case; fails the test listing every failure, after printing the figures. */
  public void run(Reader<T> reader, Sanity<T> sanity) throws IOException {
    int refused = 0;
    int loaded = 0;
    List<String> failures = new ArrayList<>();
    ExecutorService pool = newPool();
    try {
      for (int i = 0; i < mutations.size(); i++) {
        Mutation m = mutations.get(i);
        Path dir = work.resolve(String.format("%s-case%05d", label, i));
        String problem;
        Outcome outcome;
        try {
          copyTree(valid, dir);
          m.apply().apply(dir);
        } catch (IOException e) {
          throw new IOException("setting up " + m.name() + ": " + e, e);
        }
        Map<String, Long> before = listing(work);
        Future<T> f = pool.submit(() -> reader.read(dir));
        try {
          T value = f.get(limitMillis, TimeUnit.MILLISECONDS);
          problem = sane(sanity, value, m);
          outcome = problem == null ? Outcome.LOADED : Outcome.FAILED;
        } catch (TimeoutException e) {
          f.cancel(true);
          pool.shutdownNow();
          pool = newPool(); // the stuck thread is a daemon; later cases get a fresh one
          problem = "still running after " + limitMillis + " ms";
          outcome = Outcome.FAILED;
        } catch (ExecutionException e) {
          problem = refusal(e.getCause(), names.apply(dir, m));
          outcome = problem == null ? Outcome.REFUSED : Outcome.FAILED;
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException(e);
        }
        Map<String, Long> after = listing(work);
        if (!after.equals(before) && !(outcome == Outcome.LOADED && writesAllowedOnSuccess)) {
          Map<String, Long> added = new TreeMap<>(after);
          before.keySet().forEach(added::remove);
          problem = (problem == null ? "" : problem + "; ") + "files changed or left behind: " + added.keySet();
          outcome = Outcome.FAILED;
        }
        switch (outcome) {
          case REFUSED -> refused++;
          case LOADED -> loaded++;
          case FAILED -> failures.add("[" + i + "] " + m.name() + ": " + problem);
        }
        Mutators.deleteTree(dir);
        Mutators.deleteTree(dir.resolveSibling(dir.getFileName() + ".outside"));
      }
    } finally {
      pool.shutdownNow();
    }
    int n = mutations.size();
    if (counted) {
      System.out.printf("hostile corpus [%s]: %d cases, %d refused with a message, %d loaded, %d failures%n",
          label, n, refused, loaded, failures.size());
      System.out.printf("hostile corpus: %d cases, %d refused with a message, %d loaded, %d failures%n",
          TOTAL.addAndGet(n), TOTAL_REFUSED.addAndGet(refused), TOTAL_LOADED.addAndGet(loaded),
          TOTAL_FAILED.addAndGet(failures.size()));
    }
    if (!failures.isEmpty()) {
      fail(failures.size() + " of " + n + " " + label + " cases failed:\n  "
          + String.join("\n  ", failures.subList(0, Math.min(40, failures.size()))));
    }
  }

  private static <T> String sane(Sanity<T> sanity, T value, Mutation m) {
    try {
      sanity.check(value, m);
      return null;
    } catch (AssertionError | Exception e) {
      return "loaded, but not sane: " + e;
    }
  }

  /** Null when {@code t} is a refusal with a message naming the input; else what is wrong. */
  static String refusal(Throwable t, List<String> names) {
    if (!(t instanceof Lora4jException)) {
      StringWriter sw = new StringWriter();
      t.printStackTrace(new PrintWriter(sw));
      String trace = sw.toString();
      return "threw " + trace.substring(0, Math.min(1200, trace.length()));
    }
    String msg = t.getMessage();
    if (msg == null || msg.isBlank() || msg.equals("null") || msg.endsWith(": null") || msg.contains("(null)")) {
      return "refused without a message: '" + msg + "'";
    }
    if (names.stream().noneMatch(msg::contains)) {
      return "refused, but the message does not name the input: '" + msg + "'";
    }
    return null;
  }

  private static ExecutorService newPool() {
    return Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "hostile-corpus");
      t.setDaemon(true);
      return t;
    });
  }

  /** Every path under {@code root} (links not followed) with its size, to spot leftovers. */
  private static Map<String, Long> listing(Path root) throws IOException {
    Map<String, Long> out = new TreeMap<>();
    try (var s = Files.walk(root)) {
      for (Path p : s.toList()) {
        long size = Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) ? Files.size(p) : -1;
        out.put(root.relativize(p).toString(), size);
      }
    }
    return out;
  }

  /** Copies a directory tree (the valid input); links are copied as links. */
  public static void copyTree(Path from, Path to) throws IOException {
    try (var s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target, LinkOption.NOFOLLOW_LINKS);
        }
      }
    }
  }
}
