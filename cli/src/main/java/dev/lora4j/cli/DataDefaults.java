package dev.lora4j.cli;

import dev.lora4j.models.Lora4jException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where {@code --train} / {@code --dev} / {@code --data} point when not given: SST-2 beside the repository. */
final class DataDefaults {
  static final Path SST2 = Path.of("..", "shared", "data", "sst2");

  private DataDefaults() {}

  /** The given path, else {@code ../shared/data/sst2/<file>} when present, else a clear error. */
  static Path resolve(String given, String option, String file) {
    if (given != null) {
      return Path.of(given);
    }
    Path p = SST2.resolve(file);
    if (Files.isRegularFile(p)) {
      return p;
    }
    throw new Lora4jException("--" + option + " is required (the default " + p.toAbsolutePath().normalize()
        + " does not exist)");
  }
}
