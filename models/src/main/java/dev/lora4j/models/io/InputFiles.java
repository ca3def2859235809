package dev.lora4j.models.io;

import dev.lora4j.models.Lora4jException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Reads files lora4j is handed (models, adapters, configs) with their size checked before anything
 * is allocated: a directory, a device such as {@code /dev/zero}, a named pipe or a file above the
 * format's limit is refused with a message naming the file, rather than blocking, running out of
 * memory, or being reported as missing.
 */
public final class InputFiles {
  /** JSON configs (adapter_config.json, sidecars, export.json) are kilobytes; this is generous. */
  public static final long JSON_LIMIT = 16L << 20;
  /** Java arrays stop just below 2 GiB. */
  public static final long ARRAY_LIMIT = Integer.MAX_VALUE - 8;

  private InputFiles() {}

  /**
   * The size of a regular file (links followed), refusing what is not one.
   *
   * @param what the kind of file, for messages ("tokenizer file", "ONNX model")
   */
  public static long requireRegularFile(Path file, String what) {
    BasicFileAttributes attrs;
    try {
      attrs = Files.readAttributes(file, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      throw new Lora4jException(shown(file) + ": no such file");
    } catch (AccessDeniedException e) {
      throw new Lora4jException(shown(file) + ": permission denied, cannot read the " + what);
    } catch (IOException e) {
      throw new Lora4jException(shown(file) + ": cannot read the " + what + " (" + describe(e) + ")", e);
    }
    if (attrs.isDirectory()) {
      throw new Lora4jException(shown(file) + ": is a directory, expected a " + what);
    }
    if (!attrs.isRegularFile()) {
      throw new Lora4jException(shown(file) + ": not a regular file (a device, pipe or socket), expected a " + what);
    }
    return attrs.size();
  }

  /**
   * All bytes of a regular file of at most {@code limit} bytes. The read stops at the limit even
   * if the file grows meanwhile, so memory stays bounded.
   */
  public static byte[] readAll(Path file, long limit, String what) {
    long size = requireRegularFile(file, what);
    long cap = Math.min(limit, ARRAY_LIMIT);
    if (size > cap) {
      throw new Lora4jException(shown(file) + ": is " + size + " bytes, over the " + cap + "-byte limit for a " + what);
    }
    try (InputStream in = Files.newInputStream(file)) {
      byte[] bytes = in.readNBytes((int) size);
      if (bytes.length != size || in.read() >= 0) {
        throw new Lora4jException(shown(file) + ": changed size while being read (" + size + " bytes expected)");
      }
      return bytes;
    } catch (NoSuchFileException e) {
      throw new Lora4jException(shown(file) + ": no such file");
    } catch (IOException e) {
      throw new Lora4jException(shown(file) + ": cannot read the " + what + " (" + describe(e) + ")", e);
    }
  }

  /** Refuses anything but an existing directory (a link to one is fine). */
  public static Path requireDirectory(Path dir, String what) {
    if (Files.isDirectory(dir)) {
      return dir;
    }
    if (Files.isRegularFile(dir)) {
      throw new Lora4jException(shown(dir) + ": is a file, not a directory (" + what + ")");
    }
    if (Files.exists(dir)) {
      throw new Lora4jException(shown(dir) + ": is a device, pipe or socket, not a directory (" + what + ")");
    }
    throw new Lora4jException(shown(dir) + ": no such directory");
  }

  /** The path as given, or its absolute form when it prints as nothing (an empty or blank argument). */
  private static String shown(Path file) {
    String s = file.toString();
    return s.isBlank() ? "'" + file.toAbsolutePath() + "'" : s;
  }

  /** An I/O exception's message, never "null". */
  public static String describe(Throwable e) {
    String m = e.getMessage();
    return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
  }
}
