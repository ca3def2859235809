package dev.lora4j.models.text;

import java.text.Normalizer;

/**
 * Hugging Face's {@code BertNormalizer}, step for step: drop control characters and turn whitespace
 * into spaces; put spaces around CJK ideographs; strip accents (NFD, then drop non-spacing marks);
 * lower-case. Accent stripping left unset ({@code null} in the file) follows lower-casing, as in
 * {@code tokenizers}.
 */
record BertNormalizer(boolean cleanText, boolean handleChineseChars, boolean stripAccents, boolean lowercase) {

  String normalize(String text) {
    StringBuilder out = new StringBuilder(text.length() + 8);
    for (int i = 0; i < text.length(); ) {
      int c = text.codePointAt(i);
      i += Character.charCount(c);
      if (cleanText) {
        if (c == 0 || c == 0xFFFD || BertCharacters.isControl(c)) {
          continue;
        }
        if (BertCharacters.isWhitespace(c)) {
          c = ' ';
        }
      }
      if (handleChineseChars && BertCharacters.isChineseChar(c)) {
        out.append(' ').appendCodePoint(c).append(' ');
      } else {
        out.appendCodePoint(c);
      }
    }
    String s = out.toString();
    if (stripAccents) {
      s = stripAccents(s);
    }
    return lowercase ? lowercase(s) : s;
  }

  private static String stripAccents(String s) {
    String nfd = Normalizer.normalize(s, Normalizer.Form.NFD);
    StringBuilder out = new StringBuilder(nfd.length());
    for (int i = 0; i < nfd.length(); ) {
      int c = nfd.codePointAt(i);
      i += Character.charCount(c);
      if (!BertCharacters.isNonspacingMark(c)) {
        out.appendCodePoint(c);
      }
    }
    return out.toString();
  }

  /**
   * Rust's {@code char::to_lowercase}, one character at a time: unlike {@link String#toLowerCase} it
   * never looks at context (a final sigma stays σ), and unlike {@link Character#toLowerCase(int)} it
   * applies the one unconditional multi-character mapping, İ to i + combining dot above.
   */
  private static String lowercase(String s) {
    StringBuilder out = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); ) {
      int c = s.codePointAt(i);
      i += Character.charCount(c);
      if (c == 0x130) {
        out.append("i\u0307");
      } else {
        out.appendCodePoint(Character.toLowerCase(c));
      }
    }
    return out.toString();
  }
}
