package dev.lora4j.models.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.lora4j.models.Lora4jException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ReadOnlyBufferException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Against the real all-MiniLM-L6-v2 vocabulary: [PAD]=0, [CLS]=101, [SEP]=102. */
class TokenizerTest {
  static final long CLS = 101;
  static final long SEP = 102;
  static final String LONG = String.join(" ", Collections.nCopies(200, "tokenizers cut long texts"));

  @TempDir static Path dir;
  static Path json;
  static Tokenizer tokenizer;

  @BeforeAll
  static void open() throws IOException {
    json = dir.resolve("tokenizer.json");
    try (InputStream in = TokenizerTest.class.getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
      Files.copy(in, json);
    }
    tokenizer = Tokenizer.open(json);
  }

  @AfterAll
  static void close() {
    tokenizer.close();
  }

  @Test
  void knownIdsWithSpecialTokens() {
    Encoding e = tokenizer.encode(List.of("Hello world"));
    assertArrayEquals(new long[] {CLS, 7592, 2088, SEP}, e.inputIds());
    assertArrayEquals(new long[] {1, 1, 1, 1}, e.attentionMask());
    assertArrayEquals(new long[] {0, 0, 0, 0}, e.tokenTypeIds());
    assertEquals(2, tokenizer.specialTokenCount());
  }

  @Test
  void batchIsPaddedToItsLongestRowOnly() {
    List<String> texts = List.of("a", "The quick brown fox jumps over the lazy dog", "hello world");
    Encoding e = tokenizer.encode(texts, 64);
    assertEquals(3, e.batchSize());
    int longest = Arrays.stream(e.tokenCounts()).max().orElseThrow();
    assertEquals(longest, e.sequenceLength());
    assertEquals(11, longest); // 9 words + [CLS] + [SEP]
    assertArrayEquals(new long[] {3, 11}, e.shape());
    assertEquals(3 * 11, e.inputIds().length);
    long[] ids = e.inputIds();
    long[] mask = e.attentionMask();
    long[] types = e.tokenTypeIds();
    for (int r = 0; r < 3; r++) {
      int n = e.tokenCount(r);
      assertEquals(CLS, ids[r * 11]);
      assertEquals(SEP, ids[r * 11 + n - 1]);
      for (int t = 0; t < 11; t++) {
        assertEquals(t < n ? 1 : 0, mask[r * 11 + t], "mask row " + r + " pos " + t);
        assertEquals(0, types[r * 11 + t]);
        if (t >= n) {
          assertEquals(0, ids[r * 11 + t], "padding is [PAD]=0");
        }
      }
      assertFalse(e.isTruncated(r));
    }
    assertArrayEquals(new int[] {3, 11, 4}, e.tokenCounts());
  }

  /**
   * Selected rows of a batch equal encoding their texts alone: fails if the selection keeps the old
   * padding length, copies another row, or loses a row's truncation flag.
   */
  @Test
  void rowsOfABatchEncodeAsTheirTextsAlone() {
    List<String> texts = List.of(LONG, "a", "The quick brown fox jumps over the lazy dog", "hello world");
    Encoding all = tokenizer.encode(texts, 16);
    int[] rows = {3, 1, 2};
    Encoding some = all.rows(rows);
    assertEquals(tokenizer.encode(List.of(texts.get(3), texts.get(1), texts.get(2)), 16), some);
    assertEquals(11, some.sequenceLength());
    assertEquals(tokenizer.encode(List.of(LONG, "a"), 16), all.rows(new int[] {0, 1}));
    assertTrue(all.rows(new int[] {0}).isTruncated(0));
  }

  @Test
  void longTextIsCutKeepingSpecialTokens() {
    Encoding full = tokenizer.encode(List.of(LONG), 2048);
    assertTrue(full.tokenCount(0) > 600, "precondition: text is long");
    Encoding cut = tokenizer.encode(List.of(LONG, "short"), 10);
    assertEquals(10, cut.sequenceLength());
    assertEquals(10, cut.tokenCount(0));
    assertTrue(cut.isTruncated(0));
    assertFalse(cut.isTruncated(1));
    long[] expected = new long[10];
    System.arraycopy(full.rowIds(0), 0, expected, 0, 9);
    expected[9] = SEP;
    assertArrayEquals(expected, cut.rowIds(0));
    assertEquals(3, cut.tokenCount(1));
  }

  @Test
  void defaultMaxLengthIs128() {
    Encoding e = tokenizer.encode(List.of(LONG));
    assertEquals(128, e.sequenceLength());
    assertEquals(SEP, e.rowIds(0)[127]);
    try (Tokenizer t = Tokenizer.open(json, 16)) {
      assertEquals(16, t.encode(List.of(LONG)).sequenceLength());
      assertEquals(16, t.defaultMaxLength());
    }
  }

  /** Our per-call cut must equal Hugging Face's own truncation configured in the native tokenizer. */
  @Test
  void cutMatchesNativeTruncation() throws IOException {
    List<String> texts = List.of(LONG, "Short one.", "Héllo, wörld! Ünïcode façade and naïve café — ok?",
        "a b c d e f g h i j k l m n o p", "hello [SEP] inside the text");
    for (int maxLength : new int[] {3, 5, 8, 17, 128}) {
      Encoding ours = tokenizer.encode(texts, maxLength);
      try (HuggingFaceTokenizer hf = HuggingFaceTokenizer.builder().optTokenizerPath(json)
          .optMaxLength(maxLength).optTruncation(true).optPadding(false).build()) {
        for (int r = 0; r < texts.size(); r++) {
          var ref = hf.encode(texts.get(r));
          assertArrayEquals(ref.getIds(), ours.rowIds(r), "maxLength " + maxLength + " text " + r);
        }
      }
    }
  }

  @Test
  void emptyInputsAreRefused() {
    Lora4jException none = assertThrows(Lora4jException.class, () -> tokenizer.encode(List.of()));
    assertTrue(none.getMessage().contains("empty"), none.getMessage());
    for (String blank : new String[] {"", "   ", "\t\n", "\u0000"}) {
      Lora4jException e = assertThrows(Lora4jException.class, () -> tokenizer.encode(List.of("fine", blank)));
      assertTrue(e.getMessage().contains("text #1") && e.getMessage().contains("no tokens"), e.getMessage());
    }
    List<String> withNull = new ArrayList<>(List.of("fine"));
    withNull.add(null);
    Lora4jException e = assertThrows(Lora4jException.class, () -> tokenizer.encode(withNull));
    assertTrue(e.getMessage().contains("text #1:") && e.getMessage().contains("null"), e.getMessage());
  }

  @Test
  void maxLengthMustLeaveRoomForText() {
    Lora4jException e = assertThrows(Lora4jException.class, () -> tokenizer.encode(List.of("x"), 2));
    assertTrue(e.getMessage().contains("at least 3"), e.getMessage());
    assertEquals(3, tokenizer.encode(List.of("hello world"), 3).sequenceLength());
    assertThrows(Lora4jException.class, () -> Tokenizer.open(json, 1));
  }

  @Test
  void missingOrCorruptFilesNameTheFile() throws IOException {
    Path missing = dir.resolve("nope/tokenizer.json");
    Lora4jException e = assertThrows(Lora4jException.class, () -> Tokenizer.open(missing));
    assertTrue(e.getMessage().contains(missing.toString()) && e.getMessage().contains("no such"), e.getMessage());

    Path truncated = dir.resolve("truncated.json");
    byte[] all = Files.readAllBytes(json);
    Files.write(truncated, Arrays.copyOf(all, all.length / 2));
    e = assertThrows(Lora4jException.class, () -> Tokenizer.open(truncated));
    assertTrue(e.getMessage().contains(truncated.toString()) && e.getMessage().contains("corrupt"), e.getMessage());

    Path empty = Files.write(dir.resolve("empty.json"), new byte[0]);
    e = assertThrows(Lora4jException.class, () -> Tokenizer.open(empty));
    assertTrue(e.getMessage().contains(empty.toString()) && e.getMessage().contains("empty"), e.getMessage());

    Path notTokenizer = Files.writeString(dir.resolve("config.json"), "{\"hidden_size\": 384}");
    e = assertThrows(Lora4jException.class, () -> Tokenizer.open(notTokenizer));
    assertTrue(e.getMessage().contains(notTokenizer.toString()) && e.getMessage().contains("\"model\""), e.getMessage());

    Path badModel = Files.writeString(dir.resolve("bad-model.json"), "{\"model\": {\"type\": \"NoSuchModel\"}}");
    e = assertThrows(Lora4jException.class, () -> Tokenizer.open(badModel));
    assertTrue(e.getMessage().contains(badModel.toString()) && e.getMessage().contains("not a usable"), e.getMessage());
  }

  @Test
  void closedTokenizerRefusesWork() {
    Tokenizer t = Tokenizer.open(json);
    t.close();
    t.close(); // idempotent
    assertThrows(IllegalStateException.class, () -> t.encode(List.of("hello")));
  }

  @Test
  void encodingIsImmutable() {
    Encoding e = tokenizer.encode(List.of("hello world"));
    e.inputIds()[0] = 7;
    e.tokenCounts()[0] = 1;
    assertEquals(CLS, e.inputIds()[0]);
    assertEquals(4, e.tokenCount(0));
    assertThrows(ReadOnlyBufferException.class, () -> e.inputIdsBuffer().put(0, 7));
    assertEquals(tokenizer.encode(List.of("hello world")), e);
  }

  @Test
  void concurrentEncodesAgree() throws Exception {
    List<String> texts = List.of(LONG, "hello world", "The quick brown fox", "Héllo wörld");
    Encoding expected = tokenizer.encode(texts, 64);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<Encoding>> results = new ArrayList<>();
      for (int i = 0; i < 400; i++) {
        results.add(pool.submit(() -> tokenizer.encode(texts, 64)));
      }
      for (Future<Encoding> f : results) {
        assertEquals(expected, f.get());
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
