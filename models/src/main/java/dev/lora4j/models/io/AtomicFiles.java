package dev.lora4j.models.io;

import dev.lora4j.models.Lora4jException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.stream.Stream;

/**
 * Writes that never leave a half-written file or directory behind: everything goes to a temporary
 * sibling first and is renamed into place only once complete.
 */
public final class AtomicFiles {
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

  public static void write(Path target, byte[] bytes) {
    write(target, out -> out.write(bytes));
  }

  public static void write(Path target, StreamWriter writer) {
    Path abs = target.toAbsolutePath();
    Path tmp = null;
    try {
      Files.createDirectories(abs.getParent());
      tmp = createSibling(abs, ".tmp", false);
      try (OutputStream out = Files.newOutputStream(tmp)) {
        writer.write(out);
      }
      move(tmp, abs);
    } catch (IOException e) {
      deleteQuietly(tmp);
      throw new Lora4jException("Could not write " + target + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      deleteQuietly(tmp);
      throw e;
    }
  }

  /**
   * Builds a directory in a temporary sibling and renames it into place; an existing directory at
   * {@code target} is replaced only after the new one is complete.
   */
  public static void writeDirectory(Path target, DirectoryWriter writer) {
    Path abs = target.toAbsolutePath();
    Path tmp = null;
    try {
      Files.createDirectories(abs.getParent());
      tmp = createSibling(abs, "", true);
      writer.write(tmp);
      if (Files.exists(abs)) {
        Path old = Files.createTempDirectory(abs.getParent(), "." + abs.getFileName() + ".old.");
        Files.delete(old);
        Files.move(abs, old);
        move(tmp, abs);
        deleteRecursively(old);
      } else {
        move(tmp, abs);
      }
    } catch (IOException e) {
      deleteRecursively(tmp);
      throw new Lora4jException("Could not write " + target + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      deleteRecursively(tmp);
      throw e;
    }
  }

  /**
   * A fresh hidden sibling of {@code target}. Not {@code Files.createTemp*}: those make files
   * {@code rw-------} and directories {@code rwx------}, which the rename would carry into the
   * result, so a server running as another user could not read an export. Plain creation applies
   * the process umask, like any other tool writing files.
   */
  private static Path createSibling(Path target, String suffix, boolean directory) throws IOException {
    for (int attempt = 0; ; attempt++) {
      String id = Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong() >>> 1);
      Path p = target.resolveSibling("." + target.getFileName() + "." + id + suffix);
      try {
        return directory ? Files.createDirectory(p) : Files.createFile(p);
      } catch (java.nio.file.FileAlreadyExistsException e) {
        if (attempt > 100) {
          throw e;
        }
      }
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

  public static void deleteRecursively(Path dir) {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(AtomicFiles::deleteQuietly);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
