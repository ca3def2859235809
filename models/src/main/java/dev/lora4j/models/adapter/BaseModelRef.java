package dev.lora4j.models.adapter;

/**
 * Which base model an adapter was trained on: a human id (e.g. {@code minilm-l6}) and the SHA-256
 * of the base ONNX file, which is what decides whether the adapter fits.
 */
public record BaseModelRef(String id, String onnxSha256) {}
