package dev.lora4j.models.export;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.InputFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * Checks the file names an {@code export.json} lists. An export writes every file directly into its
 * directory, so an entry must be one plain name: not absolute, no separator, not {@code .} or
 * {@code ..}. Where the file exists it must, after links are resolved, still lie inside the
 * directory and be a regular file (a directory for PEFT entries) no larger than a graph can be.
 */
final class ExportPaths {
  /** ONNX graphs are protobufs, which cannot reach 2 GiB; nothing an export lists is larger. */
  static final long FILE_LIMIT = InputFiles.ARRAY_LIMIT;

  private final Path dir;
  private final Path manifest;

  ExportPaths(Path dir, Path manifest) {
    this.dir = dir;
    this.manifest = manifest;
  }

  /** Refuses {@code name} unless it is absent (null) or a safe entry of the directory. */
  void check(String field, String name, boolean directory) {
    if (name == null) {
      return;
    }
    if (name.isEmpty() || name.equals(".") || name.equals("..") || name.indexOf('/') >= 0
        || name.indexOf('\\') >= 0 || name.indexOf('\0') >= 0) {
      throw fail(field, name, "must be a file name inside the export directory");
    }
    Path file = dir.resolve(name);
    if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
      return; // what is missing is reported by whoever needs it, with its purpose
    }
    Path real;
    try {
      real = file.toRealPath();
      if (!real.startsWith(dir.toRealPath())) {
        throw fail(field, name, "leads outside the export directory (to " + real + ")");
      }
    } catch (IOException e) {
      throw fail(field, name, "cannot be resolved (" + InputFiles.describe(e) + "; a broken link?)");
    }
    if (directory) {
      if (!Files.isDirectory(real)) {
        throw fail(field, name, "is not a directory");
      }
      return;
    }
    long size = InputFiles.requireRegularFile(file, "file listed in " + manifest.getFileName());
    if (size > FILE_LIMIT) {
      throw fail(field, name, "is " + size + " bytes, over the " + FILE_LIMIT + "-byte limit");
    }
  }

  private Lora4jException fail(String field, String name, String problem) {
    return new Lora4jException(manifest + ": " + field + " '" + name + "' " + problem);
  }
}
