package dev.lora4j.models.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.lora4j.models.Lora4jException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * How many special tokens a tokenizer's post-processor puts before and after a single text
 * ({@code [CLS] text [SEP]}: 1 and 1). Knowing this lets {@link Tokenizer} cut long texts itself,
 * keeping those tokens, exactly where Hugging Face's own truncation would.
 */
record SpecialTokenLayout(int prefix, int suffix) {
  private static final String PROBE = "a";

  /** Encodes a one-word probe with and without special tokens and sees where the text landed. */
  static SpecialTokenLayout probe(HuggingFaceTokenizer hf, Path file) {
    var with = hf.encode(PROBE, true, false);
    long[] bare = hf.encode(PROBE, false, false).getIds();
    long[] special = with.getSpecialTokenMask();
    int prefix = 0;
    while (prefix < special.length && special[prefix] == 1) {
      prefix++;
    }
    int suffix = 0;
    while (suffix < special.length - prefix && special[special.length - 1 - suffix] == 1) {
      suffix++;
    }
    long[] ids = with.getIds();
    if (bare.length == 0 || ids.length != prefix + bare.length + suffix
        || !Arrays.equals(bare, Arrays.copyOfRange(ids, prefix, prefix + bare.length))) {
      throw new Lora4jException(file + ": unsupported post-processor: it does not put special tokens "
          + "only around the text (\"" + PROBE + "\" encodes to " + Arrays.toString(ids) + " with special tokens, "
          + Arrays.toString(bare) + " without)");
    }
    return new SpecialTokenLayout(prefix, suffix);
  }
}
