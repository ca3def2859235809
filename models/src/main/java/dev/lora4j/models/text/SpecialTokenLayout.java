package dev.lora4j.models.text;

/**
 * What a tokenizer's post-processor puts around a single text ({@code [CLS] text [SEP]} for BERT):
 * the special tokens before and after it with their type ids, and the type id of the text's own
 * tokens. Knowing this lets {@link Tokenizer} cut long texts itself, keeping those tokens, exactly
 * where Hugging Face's own truncation would.
 */
record SpecialTokenLayout(int[] prefixIds, int[] prefixTypes, int sequenceType, int[] suffixIds,
    int[] suffixTypes) {

  static final SpecialTokenLayout NONE = new SpecialTokenLayout(new int[0], new int[0], 0, new int[0], new int[0]);

  int prefix() {
    return prefixIds.length;
  }

  int suffix() {
    return suffixIds.length;
  }
}
