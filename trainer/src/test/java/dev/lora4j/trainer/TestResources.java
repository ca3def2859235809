package dev.lora4j.trainer;

import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.onnx.OnnxModel;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Shared test inputs: SST-2 beside the repository and the embedded MiniLM, each loaded once. */
public final class TestResources {
  private static EncoderDescription miniLm;
  private static Path miniLmDir;

  private TestResources() {}

  /** {@code ../shared/data/sst2} relative to the repository root (tests run in the module directory). */
  public static Path sst2() {
    Path repoRelative = Path.of("..", "..", "shared", "data", "sst2").toAbsolutePath().normalize();
    Path rootRelative = Path.of("..", "shared", "data", "sst2").toAbsolutePath().normalize();
    for (Path p : new Path[] {repoRelative, rootRelative}) {
      if (Files.isRegularFile(p.resolve("dev.tsv"))) {
        return p;
      }
    }
    throw new IllegalStateException("SST-2 data not found: looked for dev.tsv in " + repoRelative + " and "
        + rootRelative + " (expected ../shared/data/sst2 beside the repository root)");
  }

  /** A directory holding {@code model.onnx} and {@code tokenizer.json} of all-MiniLM-L6-v2. */
  public static synchronized Path miniLmDir() {
    if (miniLmDir == null) {
      try {
        Path dir = Files.createTempDirectory("lora4j-minilm");
        copy("/all-minilm-l6-v2.onnx", dir.resolve("model.onnx"));
        copy("/all-minilm-l6-v2-tokenizer.json", dir.resolve("tokenizer.json"));
        dir.toFile().deleteOnExit();
        miniLmDir = dir;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return miniLmDir;
  }

  public static synchronized EncoderDescription miniLm() {
    if (miniLm == null) {
      miniLm = EncoderDescription.of(OnnxModel.read(miniLmDir().resolve("model.onnx")));
    }
    return miniLm;
  }

  private static void copy(String resource, Path to) throws IOException {
    try (InputStream in = TestResources.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("class-path resource " + resource + " missing (lora4j-models jar)");
      }
      Files.copy(in, to, StandardCopyOption.REPLACE_EXISTING);
    }
    to.toFile().deleteOnExit();
  }
}
