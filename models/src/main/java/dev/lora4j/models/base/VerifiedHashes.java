package dev.lora4j.models.base;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SHA-256 of large files, remembered across runs so a 90 MB base model is not re-read every time a
 * command starts.
 *
 * <p>After hashing a file, a stamp goes into {@code <dir>/<sha256 of the file's real path>} holding
 * the hash and the file's fingerprint: real path, size, modification time and file key (device +
 * inode on Linux). A later call that finds the same fingerprint returns the recorded hash without
 * reading the file. Why this is safe enough: every way a cached model realistically goes bad — a
 * killed copy, a truncated file, a replacement by rename, an edit — changes the size, the inode or
 * the modification time. What it does not catch is an in-place overwrite of the same length that
 * also restores the modification time (deliberate tampering, or silent bit rot); the stamp is a
 * cache of our own verification, not a security boundary. Files modified within the last few
 * seconds get no stamp ("racy" files, as git calls them): a coarse file-system clock could give a
 * second write in the same tick the same modification time.
 *
 * <p>Stamps live in lora4j's cache, never beside the file, so user model directories are only
 * read. Stamps that cannot be written (read-only cache) just mean hashing again next time.
 */
final class VerifiedHashes {
  private static final Logger LOG = LoggerFactory.getLogger(VerifiedHashes.class);
  /** Coarsest common file-system timestamp (FAT: 2 s), with a margin. */
  static final Duration RACY = Duration.ofSeconds(3);

  private final Path stampDir;

  VerifiedHashes(Path stampDir) {
    this.stampDir = stampDir;
  }

  /** The file's SHA-256 as lower-case hex, from its stamp when the file has not changed since. */
  String sha256(Path file) {
    Path real;
    String fingerprint;
    try {
      real = file.toRealPath();
      fingerprint = fingerprint(real);
    } catch (NoSuchFileException e) {
      throw new Lora4jException(file + ": no such file");
    } catch (IOException e) {
      throw new Lora4jException(file + ": cannot read (" + e.getMessage() + ")", e);
    }
    Path stamp = stampDir.resolve(hex(real.toString()));
    Optional<String> recorded = recorded(stamp, fingerprint);
    if (recorded.isPresent()) {
      return recorded.get();
    }
    String sha = AtomicFiles.sha256(real);
    record(real, stamp, fingerprint, sha);
    return sha;
  }

  private static String fingerprint(Path real) throws IOException {
    BasicFileAttributes a = Files.readAttributes(real, BasicFileAttributes.class);
    return "path " + real + "\nsize " + a.size() + "\nmtime " + a.lastModifiedTime().toInstant()
        + "\nfile " + a.fileKey() + "\n";
  }

  private static Optional<String> recorded(Path stamp, String fingerprint) {
    String text;
    try {
      text = Files.readString(stamp, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return Optional.empty(); // no stamp yet, or unreadable: hash the file
    }
    int nl = text.indexOf('\n');
    if (nl != 64 + "sha256 ".length() || !text.startsWith("sha256 ") || !text.substring(nl + 1).equals(fingerprint)) {
      return Optional.empty();
    }
    return Optional.of(text.substring("sha256 ".length(), nl));
  }

  private static void record(Path real, Path stamp, String fingerprint, String sha) {
    try {
      // The file may have changed while it was being read; a stamp must describe what was hashed.
      if (!fingerprint(real).equals(fingerprint)) {
        return;
      }
      Instant modified = Files.getLastModifiedTime(real).toInstant();
      if (modified.isAfter(Instant.now().minus(RACY))) {
        return;
      }
      AtomicFiles.write(stamp, ("sha256 " + sha + "\n" + fingerprint).getBytes(StandardCharsets.UTF_8));
    } catch (IOException | Lora4jException e) {
      LOG.debug("No hash stamp for {} ({}); it will be hashed again next time", real, e.getMessage());
    }
  }

  private static String hex(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
