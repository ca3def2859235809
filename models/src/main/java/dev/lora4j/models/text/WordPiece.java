package dev.lora4j.models.text;

import java.util.Map;

/**
 * Hugging Face's {@code WordPiece} model: greedy longest-match-first sub-words, later pieces written
 * with the continuing prefix ({@code ##}); a word with a part no vocabulary entry covers, or with
 * more than {@code maxInputCharsPerWord} characters (code points, as Rust counts {@code chars}), is
 * one unknown token.
 */
final class WordPiece {
  private final Map<String, Integer> vocab;
  private final int unkId;
  private final String prefix;
  private final int maxInputCharsPerWord;

  WordPiece(Map<String, Integer> vocab, int unkId, String prefix, int maxInputCharsPerWord) {
    this.vocab = vocab;
    this.unkId = unkId;
    this.prefix = prefix;
    this.maxInputCharsPerWord = maxInputCharsPerWord;
  }

  void tokenize(String word, IntList out) {
    if (word.codePointCount(0, word.length()) > maxInputCharsPerWord) {
      out.add(unkId);
      return;
    }
    int mark = out.size();
    int start = 0;
    while (start < word.length()) {
      int end = word.length();
      Integer id = null;
      while (start < end) {
        String piece = start > 0 ? prefix + word.substring(start, end) : word.substring(start, end);
        id = vocab.get(piece);
        if (id != null) {
          break;
        }
        end = word.offsetByCodePoints(end, -1);
      }
      if (id == null) {
        out.truncate(mark);
        out.add(unkId);
        return;
      }
      out.add(id);
      start = end;
    }
  }
}
