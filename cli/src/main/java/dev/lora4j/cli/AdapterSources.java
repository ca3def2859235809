package dev.lora4j.cli;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.ortformat.MultiAdapterParameters;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.export.AdapterSidecar;
import dev.lora4j.models.export.ExportLayout;
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
    if (!Files.exists(path)) {
      throw new Lora4jException(path + ": no such adapter (expected a PEFT directory or an .onnx_adapter file)");
    }
    String file = path.getFileName().toString();
    if (Files.isRegularFile(path) && file.endsWith(OrtAdapterFile.EXTENSION)) {
      String name = file.substring(0, file.length() - OrtAdapterFile.EXTENSION.length());
      Path sidecar = path.resolveSibling(ExportLayout.sidecar(name));
      if (!Files.isRegularFile(sidecar)) {
        throw new Lora4jException(path + ": its sidecar " + sidecar.getFileName()
            + " (labels, pooling, base model) is missing beside it");
      }
      Adapter a = MultiAdapterParameters.toAdapter(OrtAdapterFile.read(path), AdapterSidecar.read(sidecar));
      return new Loaded(a, bytes(path) + bytes(sidecar));
    }
    throw new Lora4jException(path + ": not an adapter lora4j can read (expected a PEFT directory with "
        + "adapter_config.json, or an .onnx_adapter file)");
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
