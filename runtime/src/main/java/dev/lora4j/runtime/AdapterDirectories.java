package dev.lora4j.runtime;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The directories a client may load adapters from, fixed at start. A request names a file relative
 * to them (or just an adapter name); the file's real path, links followed, must lie inside the real
 * path of the directory it was found in. Anything else gets the same answer as a missing file, so
 * the server does not tell a caller which paths exist.
 */
final class AdapterDirectories {
  private final List<Path> roots;

  AdapterDirectories(List<Path> dirs) {
    List<Path> real = new ArrayList<>();
    for (Path d : dirs) {
      try {
        real.add(d.toRealPath());
      } catch (IOException e) {
        throw new Lora4jException(d + ": adapter directory does not exist or cannot be read", e);
      }
      if (!Files.isDirectory(real.get(real.size() - 1))) {
        throw new Lora4jException(d + ": adapter directory is not a directory");
      }
    }
    this.roots = List.copyOf(real);
  }

  /** The file for {@code file}, a plain relative name such as "sub/x.onnx_adapter"; 400 or 404 otherwise. */
  Path resolve(String file) {
    if (file.isEmpty() || file.length() > 255 || file.startsWith("/") || file.contains("\\") || file.contains("\0")
        || file.contains(":") || !file.endsWith(OrtAdapterFile.EXTENSION)) {
      throw new HttpError(400, "'file' must be a relative file name ending in " + OrtAdapterFile.EXTENSION);
    }
    for (String part : file.split("/", -1)) {
      if (part.isEmpty() || part.equals(".") || part.equals("..")) {
        throw new HttpError(400, "'file' must be a relative file name without '.', '..' or empty parts");
      }
    }
    for (Path root : roots) {
      Path candidate = root.resolve(file);
      if (!Files.exists(candidate, LinkOption.NOFOLLOW_LINKS)) {
        continue;
      }
      try {
        Path real = candidate.toRealPath();
        if (real.startsWith(root) && Files.isRegularFile(real)) {
          return real;
        }
      } catch (IOException e) {
        // a dangling link or an unreadable directory: treated as absent, like everything outside
      }
    }
    throw new HttpError(404, "adapter file '" + file + "' is not in the server's adapter directories");
  }
}
