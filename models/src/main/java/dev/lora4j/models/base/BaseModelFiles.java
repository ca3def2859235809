package dev.lora4j.models.base;

import dev.lora4j.models.adapter.BaseModelRef;
import java.nio.file.Path;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A base model on local disk: its ONNX graph and its {@code tokenizer.json}, ready to open.
 *
 * @param id the name adapters record (e.g. {@code minilm-l6}, or a directory's name)
 * @param onnx the ONNX file
 * @param tokenizer the Hugging Face {@code tokenizer.json}
 * @param onnxSha256 lower-case hex SHA-256 of {@code onnx}: what decides whether an adapter fits
 */
public record BaseModelFiles(String id, Path onnx, Path tokenizer, String onnxSha256) {
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

  public BaseModelFiles {
    Objects.requireNonNull(onnx, "onnx");
    Objects.requireNonNull(tokenizer, "tokenizer");
    if (id == null || id.isBlank()) {
      throw new IllegalArgumentException("a base model needs an id");
    }
    if (onnxSha256 == null || !SHA256.matcher(onnxSha256).matches()) {
      throw new IllegalArgumentException("not a lower-case hex SHA-256: " + onnxSha256);
    }
  }

  /** What an adapter trained on this model records about it. */
  public BaseModelRef ref() {
    return new BaseModelRef(id, onnxSha256);
  }
}
