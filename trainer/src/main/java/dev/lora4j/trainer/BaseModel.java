package dev.lora4j.trainer;

import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.base.BaseModelCatalog;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.text.Tokenizer;

/** A base model ready to train on: its files and its encoder as described from the ONNX graph. */
public record BaseModel(BaseModelFiles files, EncoderDescription description) {

  /** {@code minilm-l6} (embedded), a directory with model.onnx + tokenizer.json, or a .onnx file. */
  public static BaseModel open(String spec) {
    return of(BaseModelCatalog.atDefaultCache().resolve(spec));
  }

  public static BaseModel of(BaseModelFiles files) {
    return new BaseModel(files, EncoderDescription.of(OnnxModel.read(files.onnx())));
  }

  public BaseModelRef ref() {
    return files.ref();
  }

  public Tokenizer tokenizer(int maxLength) {
    return Tokenizer.open(files.tokenizer(), maxLength);
  }
}
