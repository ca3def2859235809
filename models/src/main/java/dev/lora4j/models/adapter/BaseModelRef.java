package dev.lora4j.models.adapter;

import dev.lora4j.models.base.BaseModelCatalog;

/**
 * Which base model an adapter was trained on: a human id (e.g. {@code minilm-l6}) and the SHA-256
 * of the base ONNX file, which is what decides whether the adapter fits.
 */
public record BaseModelRef(String id, String onnxSha256) {

  /** Whether a hash is recorded: an adapter imported from PEFT records none ({@code ""}). */
  public boolean recordsHash() {
    return onnxSha256 != null && !onnxSha256.isBlank();
  }

  /**
   * Whether the two certainly name different ONNX files: both record a hash and the hashes differ
   * (as hex, so in any case). Where either records none, only module names and shapes can tell.
   */
  public boolean differsFrom(BaseModelRef other) {
    return recordsHash() && other.recordsHash() && !onnxSha256.equalsIgnoreCase(other.onnxSha256);
  }

  /**
   * The id to hand Hugging Face tools (PEFT's {@code base_model_name_or_path}): the built-in base's
   * Hub id when the hash is the built-in model's (lora4j's own id, {@code minilm-l6}, means nothing
   * to them), else the recorded id, which for a directory base is the directory's name.
   */
  public String huggingFaceId() {
    return BaseModelCatalog.huggingFaceId(onnxSha256).orElse(id);
  }
}
