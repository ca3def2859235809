package dev.lora4j.models.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lora4j.models.Lora4jException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Hugging Face behaviours that are easiest to get wrong in Java, each pinned without the native
 * library (TokenizerParityTest compares against it wholesale). Ids are looked up by hand in the
 * all-MiniLM-L6-v2 vocabulary: [CLS]=101, [SEP]=102, [UNK]=100.
 */
class WordPieceTokenizerTest {
  @TempDir static Path dir;
  static Tokenizer tokenizer;

  @BeforeAll
  static void open() throws IOException {
    Path json = dir.resolve("tokenizer.json");
    try (InputStream in = WordPieceTokenizerTest.class.getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
      Files.copy(in, json);
    }
    tokenizer = Tokenizer.open(json, 512);
  }

  @AfterAll
  static void close() {
    tokenizer.close();
  }

  private static long[] ids(String text) {
    return tokenizer.encode(List.of(text)).rowIds(0);
  }

  @Test
  void aWordOverTheCharacterLimitIsOneUnknownToken() {
    assertArrayEquals(new long[] {101, 100, 102}, ids("a".repeat(101)));
    long[] atLimit = ids("a".repeat(100));
    assertEquals(13360, atLimit[1], "100 characters are still split into pieces, 'aaa' first");
  }

  @Test
  void privateUseCharactersAreDroppedLikeControlCharacters() {
    assertArrayEquals(new long[] {101, 1060, 2497, 102}, ids("x\uE001b"), "x ##b: U+E001 is dropped");
    assertArrayEquals(new long[] {101, 1060, 2497, 102}, ids("x\u200Bb\u0000"), "zero-width space and NUL too");
    assertThrows(Lora4jException.class, () -> ids("\uE001\uF8FF"));
  }

  @Test
  void lowerCasingIsPerCharacterSoAFinalSigmaStaysSigma() {
    // String.toLowerCase would make the final Σ a ς (##ς = 19579); Rust's char::to_lowercase does not.
    assertArrayEquals(new long[] {101, 1060, 29733, 102}, ids("XΣ"));
  }

  @Test
  void composedAndDecomposedAccentsAreStrippedAlike() {
    assertArrayEquals(new long[] {101, 15743, 102}, ids("NAÏVE"));
    assertArrayEquals(new long[] {101, 15743, 102}, ids("nai\u0308ve"));
  }

  @Test
  void cjkIdeographsAreWordsOfTheirOwn() {
    assertArrayEquals(new long[] {101, 1746, 1861, 102}, ids("中文"));
  }

  @Test
  void specialTokensWrittenInTheTextAreKeptWhole() {
    assertArrayEquals(new long[] {101, 7592, 102, 102}, ids("hello[SEP]"));
    assertArrayEquals(new long[] {101, 7592, 100, 102}, ids("hello [UNK]"));
  }

  @Test
  void loneSurrogatesAreDroppedAsTheBindingDropsThem() {
    assertArrayEquals(new long[] {101, 1060, 2497, 102}, ids("x\uD800b"));
  }
}
