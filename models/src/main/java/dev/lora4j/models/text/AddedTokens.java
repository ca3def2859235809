package dev.lora4j.models.text;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code added_tokens} of a tokenizer.json ({@code [CLS]}, {@code [SEP]}, ... for BERT): a text
 * that contains one literally gets that token for it, and only the text around it is normalised and
 * split. This follows {@code tokenizers}' AddedVocabulary: leftmost-longest, non-overlapping matches
 * found first; then a {@code single_word} token is dropped where a word character touches it, and
 * {@code lstrip} / {@code rstrip} swallow the whitespace beside it.
 */
final class AddedTokens {
  /** One added token as matched: its text (normalised if the token is), id and options. */
  record Token(String text, int id, boolean singleWord, boolean lstrip, boolean rstrip) {}

  /** A piece of text: either an added token's id, or text (id -1) still to be tokenized. */
  record Piece(int from, int to, int id) {}

  /** The tokens by their first UTF-16 unit, so a position is tried only against tokens that can start there. */
  private final Map<Character, List<Token>> byFirst = new HashMap<>();

  AddedTokens(List<Token> tokens) {
    for (Token t : tokens) {
      if (!t.text().isEmpty()) {
        byFirst.computeIfAbsent(t.text().charAt(0), k -> new ArrayList<>()).add(t);
      }
    }
  }

  boolean isEmpty() {
    return byFirst.isEmpty();
  }

  /** Splits {@code s} into pieces that cover it; empty pieces are left out. */
  List<Piece> split(String s) {
    List<Piece> pieces = new ArrayList<>();
    int startOffset = 0;
    int at = 0;
    while (at < s.length()) {
      Token match = longestAt(s, at);
      if (match == null) {
        at += Character.charCount(s.codePointAt(at));
        continue;
      }
      int start = at;
      int stop = at + match.text().length();
      at = stop; // matches never overlap, even when one is then discarded below
      if (match.singleWord()) {
        boolean startSpace = start == 0 || !isWordChar(s.codePointBefore(start));
        boolean stopSpace = stop == s.length() || !isWordChar(s.codePointAt(stop));
        if (!startSpace || !stopSpace) {
          continue;
        }
      }
      if (match.lstrip()) {
        int newStart = start;
        while (newStart > 0 && BertCharacters.isWhitespace(s.codePointBefore(newStart))) {
          newStart -= Character.charCount(s.codePointBefore(newStart));
        }
        start = Math.max(newStart, startOffset);
      }
      if (match.rstrip()) {
        while (stop < s.length() && BertCharacters.isWhitespace(s.codePointAt(stop))) {
          stop += Character.charCount(s.codePointAt(stop));
        }
      }
      if (startOffset < start) {
        pieces.add(new Piece(startOffset, start, -1));
      }
      pieces.add(new Piece(start, stop, match.id()));
      startOffset = stop;
    }
    if (startOffset < s.length()) {
      pieces.add(new Piece(startOffset, s.length(), -1));
    }
    return pieces;
  }

  private Token longestAt(String s, int at) {
    List<Token> candidates = byFirst.get(s.charAt(at));
    if (candidates == null) {
      return null;
    }
    Token best = null;
    for (Token t : candidates) {
      if ((best == null || t.text().length() > best.text().length()) && s.startsWith(t.text(), at)) {
        best = t;
      }
    }
    return best;
  }

  /** The regex crate's Unicode {@code \w}: alphabetic, marks, decimal digits, connector punctuation, joiners. */
  private static boolean isWordChar(int c) {
    if (Character.isAlphabetic(c) || c == 0x200C || c == 0x200D) {
      return true;
    }
    int type = Character.getType(c);
    return type == Character.NON_SPACING_MARK || type == Character.ENCLOSING_MARK
        || type == Character.COMBINING_SPACING_MARK || type == Character.DECIMAL_DIGIT_NUMBER
        || type == Character.CONNECTOR_PUNCTUATION;
  }
}
