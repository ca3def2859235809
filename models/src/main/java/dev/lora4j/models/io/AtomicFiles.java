package dev.lora4j.models.io;

import dev.lora4j.models.Lora4jException;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Writes that never leave a half-written file or directory behind: everything goes to a temporary
 * sibling first, is flushed to disk, and is renamed into place only once complete.
 *
 * <p>Temporary siblings are named {@code .<target>.<pid>-<start>-<random>} ({@code .tmp} appended
 * for files; {@code .<target>.old.<pid>-<start>-<random>} for a replaced directory on its way
 * out), {@code <pid>} and {@code <start>} (hex milliseconds) identifying the writing process. A
 * process killed mid-write leaves them behind, so every write first removes the ones of the same
 * target whose writer is gone. Why the process identity and not a lock file: it survives
 * {@code kill -9} with nothing to release or clean (the kernel retires the process), needs no
 * extra file beside the output, and the start time tells a reused pid (the same pid 1 in every
 * container run) from the writer. Its limit: writers on another machine sharing the directory
 * are not visible here; writing the same output from two machines at once is not supported.
 */
public final class AtomicFiles {
  /** Temporary names after {@code .<target>.}: optional {@code old.}, pid, start, random, optional {@code .tmp}. */
  private static final Pattern TEMP = Pattern.compile("(old\\.)?([0-9]{1,19})-([0-9a-f]{1,16})-[0-9a-f]{1,16}(\\.tmp)?");
  /**
   * Names lora4j 0.1 gave its temporaries, without a writer: {@code .<target>.<15-16 hex>[.tmp]} and
   * {@code .<target>.old.<18-20 digits>}. Exports killed then left them, up to hundreds of MB each;
   * they are removed once nothing in them has changed for {@link #LEGACY_STALE}, as no writer of that
   * version pauses that long. The lengths keep a user's own {@code .<target>.cafe} out.
   */
  private static final Pattern LEGACY_TEMP = Pattern.compile("(?:[0-9a-f]{15,16}(?:\\.tmp)?|(old\\.)[0-9]{18,20})");
  private static final Duration LEGACY_STALE = Duration.ofHours(24);
  /**
   * Start times within this of the pid's are the same process: the JDK derives them from clock
   * ticks and the boot time, and another JDK might round differently. Erring here keeps a stale
   * temporary (a process's whole life would have to fit in it), never deletes a live one.
   */
  private static final long SAME_START_MILLIS = 1000;
  private static final long START = ProcessHandle.current().info().startInstant().map(Instant::toEpochMilli).orElse(0L);
  private static final String WRITER = ProcessHandle.current().pid() + "-" + Long.toHexString(START);

  private AtomicFiles() {}

  /** Something that writes into an output stream. */
  @FunctionalInterface
  public interface StreamWriter {
    void write(OutputStream out) throws IOException;
  }

  /** Something that fills a fresh directory. */
  @FunctionalInterface
  public interface DirectoryWriter {
    void write(Path dir) throws IOException;
  }

  /** A rename; tests put a failing one in to check what a failed rename leaves. */
  @FunctionalInterface
  interface Renamer {
    void move(Path from, Path to) throws IOException;
  }

  public static void write(Path target, byte[] bytes) {
    write(target, out -> out.write(bytes));
  }

  public static void write(Path target, StreamWriter writer) {
    Path abs = target.toAbsolutePath();
    Path tmp = null;
    try {
      Files.createDirectories(abs.getParent());
      removeStale(abs);
      tmp = createSibling(abs, "", ".tmp", false);
      try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        OutputStream out = new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 16) {
          @Override
          public void close() throws IOException {
            flush(); // a writer may close its stream; the channel stays open to be forced below
          }
        };
        writer.write(out);
        out.flush();
        channel.force(true);
      }
      move(tmp, abs);
      forceDirectory(abs.getParent());
    } catch (IOException e) {
      deleteQuietly(tmp);
      throw new Lora4jException("Could not write " + target + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      deleteQuietly(tmp);
      throw e;
    }
  }

  /**
   * Builds a directory in a temporary sibling and renames it into place. What is at
   * {@code target} is replaced only when {@link OutputTargets#requireReplaceable} allows it (nothing,
   * an empty directory, an earlier output of {@code kind}, or anything with {@code overwrite}), and
   * only after the new directory is complete; if the final rename fails, the old one is put back.
   */
  public static void writeDirectory(Path target, OutputKind kind, boolean overwrite, DirectoryWriter writer) {
    writeDirectory(target, kind, overwrite, writer, AtomicFiles::move);
  }

  static void writeDirectory(Path target, OutputKind kind, boolean overwrite, DirectoryWriter writer,
      Renamer renamer) {
    Path abs = target.toAbsolutePath();
    Path tmp = null;
    try {
      Files.createDirectories(abs.getParent());
      removeStale(abs);
      OutputTargets.requireReplaceable(abs, kind, overwrite);
      tmp = createSibling(abs, "", "", true);
      writer.write(tmp);
      forceTree(tmp);
      // again: a write can take minutes, and something else may have appeared there meanwhile
      OutputTargets.requireReplaceable(abs, kind, overwrite);
      if (Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) {
        Path old = freshSibling(abs, "old.");
        renamer.move(abs, old);
        try {
          renamer.move(tmp, abs);
        } catch (IOException | RuntimeException e) {
          rollBack(old, abs, e);
          throw e;
        }
        forceDirectory(abs.getParent());
        deleteRecursively(old);
      } else {
        renamer.move(tmp, abs);
        forceDirectory(abs.getParent());
      }
    } catch (IOException e) {
      deleteRecursively(tmp);
      throw new Lora4jException("Could not write " + target + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      deleteRecursively(tmp);
      throw e;
    }
  }

  /** Puts the previous directory back after the new one could not take its place. */
  private static void rollBack(Path old, Path target, Exception failure) {
    try {
      move(old, target);
      forceDirectory(target.getParent());
    } catch (IOException e) {
      failure.addSuppressed(e);
      throw new Lora4jException("Could not write " + target + ": " + failure.getMessage()
          + "; putting the previous contents back failed too (" + e.getMessage() + "), they are in " + old, failure);
    }
  }

  /**
   * Removes temporary siblings of {@code target} that a killed writer left: only names of this
   * class's pattern for this very target, only when their process is gone. A writer killed between
   * its two renames left the previous directory as {@code .old.}: with no target, it goes back.
   */
  static void removeStale(Path target) {
    String prefix = "." + target.getFileName() + ".";
    List<Path> old = new ArrayList<>();
    List<Path> temps = new ArrayList<>();
    try (DirectoryStream<Path> siblings = Files.newDirectoryStream(target.getParent())) {
      for (Path p : siblings) {
        String name = p.getFileName().toString();
        if (!name.startsWith(prefix)) {
          continue;
        }
        String rest = name.substring(prefix.length());
        Matcher m = TEMP.matcher(rest);
        if (m.matches() && !writerAlive(m.group(2), m.group(3))) {
          (m.group(1) != null ? old : temps).add(p);
        }
        Matcher legacy = LEGACY_TEMP.matcher(rest);
        if (legacy.matches() && untouchedFor(p, LEGACY_STALE)) {
          (legacy.group(1) != null ? old : temps).add(p);
        }
      }
    } catch (IOException e) {
      return; // best effort: what cannot be listed cannot be judged
    }
    for (Path p : old) {
      try {
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
          move(p, target);
          continue;
        }
      } catch (IOException e) {
        // fall through: the target exists after all, the old copy is of no use
      }
      deleteQuietlyRecursively(p);
    }
    temps.forEach(AtomicFiles::deleteQuietlyRecursively);
  }

  private static boolean writerAlive(String pid, String startHex) {
    try {
      return writerAlive(Long.parseLong(pid), Long.parseUnsignedLong(startHex, 16));
    } catch (NumberFormatException e) {
      return true; // no pid there ever was: not a name this class wrote, so not one to delete
    }
  }

  /** Whether nothing under {@code p} has changed for {@code age}: a writer writes, so that one is gone. */
  private static boolean untouchedFor(Path p, Duration age) {
    Instant limit = Instant.now().minus(age);
    try (Stream<Path> walk = Files.walk(p)) {
      return walk.allMatch(f -> {
        try {
          return Files.getLastModifiedTime(f, LinkOption.NOFOLLOW_LINKS).toInstant().isBefore(limit);
        } catch (IOException e) {
          return false;
        }
      });
    } catch (IOException | UncheckedIOException e) {
      return false;
    }
  }

  /** Whether the process a temporary name records may still be writing it. */
  static boolean writerAlive(long pid, long startMillis) {
    Optional<ProcessHandle> h = ProcessHandle.of(pid);
    if (h.isEmpty()) {
      return false;
    }
    if (startMillis == 0) {
      return true; // the writer could not tell its start time: any process with its pid may be it
    }
    Optional<Instant> start = h.get().info().startInstant();
    return start.isEmpty() || Math.abs(start.get().toEpochMilli() - startMillis) <= SAME_START_MILLIS;
  }

  /** This process's part of temporary names: {@code <pid>-<start>}. */
  static String writerId() {
    return WRITER;
  }

  /**
   * A fresh hidden sibling of {@code target}. Not {@code Files.createTemp*}: those make files
   * {@code rw-------} and directories {@code rwx------}, which the rename would carry into the
   * result, so a server running as another user could not read an export. Plain creation applies
   * the process umask, like any other tool writing files.
   */
  private static Path createSibling(Path target, String infix, String suffix, boolean directory) throws IOException {
    for (int attempt = 0; ; attempt++) {
      Path p = sibling(target, infix, suffix);
      try {
        return directory ? Files.createDirectory(p) : Files.createFile(p);
      } catch (FileAlreadyExistsException e) {
        if (attempt > 100) {
          throw e;
        }
      }
    }
  }

  /** A sibling name nothing uses yet, not created: the replaced directory is renamed to it. */
  private static Path freshSibling(Path target, String infix) throws IOException {
    for (int attempt = 0; attempt <= 100; attempt++) {
      Path p = sibling(target, infix, "");
      if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
        return p;
      }
    }
    throw new FileAlreadyExistsException(sibling(target, infix, "").toString());
  }

  private static Path sibling(Path target, String infix, String suffix) {
    String random = Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1);
    return target.resolveSibling("." + target.getFileName() + "." + infix + WRITER + "-" + random + suffix);
  }

  /** Flushes every file and directory under {@code dir} to disk, so the rename publishes complete data. */
  private static void forceTree(Path dir) throws IOException {
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.toList()) {
        if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
          try (FileChannel c = FileChannel.open(p, StandardOpenOption.READ)) {
            c.force(true);
          }
        } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
          forceDirectory(p);
        }
      }
    }
  }

  /** Makes a directory's entries (a rename into it) durable; some systems cannot, which is no error. */
  private static void forceDirectory(Path dir) {
    try (FileChannel c = FileChannel.open(dir, StandardOpenOption.READ)) {
      c.force(true);
    } catch (IOException e) {
      // e.g. Windows cannot open a directory; the rename is done, only its durability is weaker
    }
  }

  /** The SHA-256 of bytes already in memory, in the same hex form as {@link #sha256(Path)}. */
  public static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public static String sha256(Path file) {
    try (var in = Files.newInputStream(file)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (IOException e) {
      throw new Lora4jException("Could not read " + file + ": " + e.getMessage(), e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  private static void deleteQuietly(Path p) {
    if (p != null) {
      try {
        Files.deleteIfExists(p);
      } catch (IOException ignored) {
        // best effort: the temp file has a dot name and does not look like a result
      }
    }
  }

  private static void deleteQuietlyRecursively(Path p) {
    try {
      deleteRecursively(p);
    } catch (UncheckedIOException e) {
      // best effort: the next write tries again
    }
  }

  /** Deletes {@code dir} and everything under it; links are removed, never followed. */
  public static void deleteRecursively(Path dir) {
    if (dir == null || !Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(AtomicFiles::deleteQuietly);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
