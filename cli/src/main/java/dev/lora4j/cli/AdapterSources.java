package dev.lora4j.cli;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.export.AdapterFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Reads an adapter from what a user points at, and how many bytes it took on disk. */
final class AdapterSources {
  private AdapterSources() {}

  record Loaded(Adapter adapter, long bytes) {}

  static Loaded read(Path path) {
    Adapter a = AdapterFiles.read(path);
    long bytes = bytes(path);
    if (Files.isRegularFile(path)) {
      bytes += bytes(AdapterFiles.sidecarOf(path));
    }
    return new Loaded(a, bytes);
  }

  private static long bytes(Path p) {
    try (Stream<Path> s = Files.walk(p)) {
      return s.filter(Files::isRegularFile).mapToLong(f -> {
        try {
          return Files.size(f);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }).sum();
    } catch (IOException e) {
      throw new Lora4jException("Could not read " + p + ": " + e.getMessage(), e);
    }
  }
}
