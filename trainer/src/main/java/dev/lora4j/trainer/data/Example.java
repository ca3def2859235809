package dev.lora4j.trainer.data;

/** A tokenized text: token ids with special tokens, no padding, and its label index. */
public record Example(long[] ids, int label) {
  public int length() {
    return ids.length;
  }
}
