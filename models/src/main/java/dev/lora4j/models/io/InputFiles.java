package dev.lora4j.models.io;

import dev.lora4j.models.Lora4jException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What an input path really is, said as such: a directory or a device is not "missing". */
public final class InputFiles {
  private InputFiles() {}

  /**
   * Refuses anything but an existing regular file (a link to one is fine). Devices, pipes and
   * sockets are refused too: {@code /dev/urandom} would be read forever.
   *
   * @param what what the file is for, e.g. "data file"
   */
  public static Path requireRegularFile(Path file, String what) {
    Path abs = file.toAbsolutePath().normalize(); // for the message; the checks ask about the path as given
    if (Files.isRegularFile(file)) {
      return file;
    }
    if (Files.isDirectory(file)) {
      throw new Lora4jException(what + " " + abs + " is a directory, expected a file");
    }
    if (Files.exists(file)) {
      throw new Lora4jException(what + " " + abs + " is not a regular file (a device, pipe or socket), expected a file");
    }
    throw new Lora4jException(what + " " + abs + " does not exist");
  }

  /** Refuses anything but an existing directory (a link to one is fine). */
  public static Path requireDirectory(Path dir, String what) {
    Path abs = dir.toAbsolutePath().normalize(); // for the message; the checks ask about the path as given
    if (Files.isDirectory(dir)) {
      return dir;
    }
    if (Files.isRegularFile(dir)) {
      throw new Lora4jException(what + " " + abs + " is a file, expected a directory");
    }
    if (Files.exists(dir)) {
      throw new Lora4jException(what + " " + abs + " is not a directory (a device, pipe or socket)");
    }
    throw new Lora4jException(what + " " + abs + " does not exist");
  }
}
