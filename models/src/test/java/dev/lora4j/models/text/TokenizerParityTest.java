package dev.lora4j.models.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.Lora4jException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pure-Java {@link Tokenizer} against Hugging Face's Rust {@code tokenizers} (DJL's binding, the
 * implementation lora4j used before): token ids, attention masks and type ids must be identical,
 * padding included, on every SST-2 sentence, on hostile text, on every code point of the planes in
 * use, and on variants of the MiniLM file that switch each option the reader implements.
 */
class TokenizerParityTest {
  /** Long enough that no SST-2 sentence is cut: these comparisons are about tokens, not truncation. */
  static final int NO_CUT = 512;
  static final int BATCH = 64;

  @TempDir static Path dir;
  static Path miniLm;
  static ObjectNode miniLmJson;

  @BeforeAll
  static void copyMiniLm() throws IOException {
    miniLm = dir.resolve("tokenizer.json");
    try (InputStream in = TokenizerParityTest.class.getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
      Files.copy(in, miniLm);
    }
    miniLmJson = (ObjectNode) new ObjectMapper().readTree(miniLm.toFile());
  }

  /** Every sentence of SST-2 train and dev, in padded batches as the runtime sends them. */
  @Test
  void everySst2SentenceEncodesAsHuggingFaceDoes() throws IOException {
    List<String> sentences = new ArrayList<>(sst2("train.tsv"));
    sentences.addAll(sst2("dev.tsv"));
    try (Tokenizer ours = Tokenizer.open(miniLm); HuggingFaceTokenizer hf = reference(miniLm, true)) {
      int rows = compareBatches(ours, hf, sentences, NO_CUT);
      assertEquals(sentences.size(), rows);
      System.out.println("[tokenizer parity] SST-2 train + dev: " + rows + " sentences, ids, masks and type ids"
          + " identical to Hugging Face tokenizers");
    }
  }

  /**
   * Each hostile text alone and cut at several lengths. A text Hugging Face encodes to special
   * tokens only must be refused by ours (by design, an empty row carries no meaning).
   */
  @Test
  void hostileTextsEncodeAsHuggingFaceDoes() throws IOException {
    int[] compared = compareTexts(miniLm, hostileTexts());
    System.out.println("[tokenizer parity] hostile texts: " + compared[0] + " encodings identical, "
        + compared[1] + " texts without tokens refused as Hugging Face gives them none");
    assertTrue(compared[1] >= 5, "the set holds empty, blank and control-only texts");
  }

  /**
   * Every code point of planes 0 to 2 and 14, and the private-use planes' ends, in four positions
   * (alone, inside a word, between words, doubled). This checks the character tables (control,
   * whitespace, punctuation, CJK, accents, lower-casing) where they matter, against the library's own.
   */
  @Test
  void everyCodePointEncodesAsHuggingFaceDoes() throws IOException {
    List<Integer> points = new ArrayList<>();
    for (int c = 0; c < 0x30000; c++) {
      points.add(c);
    }
    for (int c = 0xE0000; c < 0xE1000; c++) {
      points.add(c);
    }
    points.addAll(List.of(0xF0000, 0xF0001, 0xFFFFD, 0x100000, 0x100001, 0x10FFFD, 0x10FFFF, 0x50000));
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < points.size(); i += 16) {
      texts.add(codePointText(points.subList(i, Math.min(points.size(), i + 16))));
    }
    List<String> differing = new ArrayList<>();
    try (Tokenizer ours = Tokenizer.open(miniLm); HuggingFaceTokenizer hf = reference(miniLm, false)) {
      for (int t = 0; t < texts.size(); t++) {
        if (!Arrays.equals(hf.encode(texts.get(t)).getIds(), ours.encode(List.of(texts.get(t)), 4096).inputIds())) {
          // find the code points to blame, one at a time
          for (int c : points.subList(t * 16, Math.min(points.size(), t * 16 + 16))) {
            String one = codePointText(List.of(c));
            if (!Arrays.equals(hf.encode(one).getIds(), ours.encode(List.of(one), 4096).inputIds())) {
              differing.add(String.format("U+%04X (%s)", c, Character.getName(c)));
            }
          }
        }
      }
    }
    assertEquals(List.of(), differing, differing.size() + " code points encode differently");
    System.out.println("[tokenizer parity] code points: " + points.size() + " in " + texts.size()
        + " texts, identical to Hugging Face tokenizers");
  }

  /** Each code point alone, inside a word, between words and doubled; "end" keeps the text from being empty. */
  private static String codePointText(List<Integer> points) {
    StringBuilder sb = new StringBuilder();
    for (int c : points) {
      String s = new String(Character.toChars(c));
      sb.append(s).append(" a").append(s).append("b ").append(s).append(s).append(" ");
    }
    return sb.append("end").toString();
  }

  /** Each option the reader implements, switched in the MiniLM file, against the library reading the same file. */
  @Test
  void fileVariantsEncodeAsHuggingFaceDoes() throws IOException {
    Map<String, Consumer<ObjectNode>> variants = new java.util.LinkedHashMap<>();
    variants.put("cased, no cleaning, no CJK split", j -> normalizer(j).put("lowercase", false)
        .put("clean_text", false).put("handle_chinese_chars", false));
    variants.put("accents stripped without lower-casing", j -> normalizer(j).put("lowercase", false)
        .put("strip_accents", true));
    variants.put("lower-cased keeping accents", j -> normalizer(j).put("strip_accents", false));
    variants.put("no normalizer", j -> j.putNull("normalizer"));
    variants.put("no pre-tokenizer", j -> j.putNull("pre_tokenizer"));
    variants.put("short words, other prefix", j -> ((ObjectNode) j.get("model"))
        .put("max_input_chars_per_word", 7).put("continuing_subword_prefix", "@@"));
    variants.put("BertProcessing", j -> {
      ObjectNode p = j.putObject("post_processor").put("type", "BertProcessing");
      p.putArray("sep").add("[SEP]").add(102);
      p.putArray("cls").add("[CLS]").add(101);
    });
    variants.put("template with type ids and two prefix tokens", j -> {
      ObjectNode post = (ObjectNode) j.get("post_processor");
      ArrayNode single = post.putArray("single");
      single.addObject().putObject("SpecialToken").put("id", "[CLS]").put("type_id", 2);
      single.addObject().putObject("SpecialToken").put("id", "[MASK]").put("type_id", 0);
      single.addObject().putObject("Sequence").put("id", "A").put("type_id", 1);
      single.addObject().putObject("SpecialToken").put("id", "[SEP]").put("type_id", 3);
      ObjectNode mask = ((ObjectNode) post.get("special_tokens")).putObject("[MASK]").put("id", "[MASK]");
      mask.putArray("ids").add(103);
      mask.putArray("tokens").add("[MASK]");
    });
    variants.put("no post-processor", j -> j.putNull("post_processor"));
    variants.put("added tokens: normalized, single word, lstrip, rstrip, a made-up id", j -> {
      ArrayNode added = (ArrayNode) j.get("added_tokens");
      added.add(added("Movie Star", false, true, false, false, 7));
      added.add(added("<lft>", false, false, true, false, 30522));
      added.add(added("<rgt>", false, false, false, true, 5));
      added.add(added("<both>", false, false, true, true, 30524));
      added.add(added("ing", true, false, false, false, 1));
      added.add(added("[MASK]", false, false, true, false, 103));
    });
    variants.put("truncation from the left", j -> j.putObject("truncation").put("direction", "Left")
        .put("max_length", 128).put("strategy", "LongestFirst").put("stride", 0));

    List<String> texts = new ArrayList<>(hostileTexts());
    texts.addAll(sst2("dev.tsv").subList(0, 200));
    texts.addAll(List.of("a Movie Star is born", "the movie star", "MovieStar", "x<lft>y", "x  <lft>  y",
        "x  <rgt>  y <rgt>", "a <both> b<both>c", "singing king ing ing.", "look [MASK] here  [MASK]",
        "<lft><rgt><both>", "<rgt>  <lft>"));
    int total = 0;
    for (Map.Entry<String, Consumer<ObjectNode>> v : variants.entrySet()) {
      ObjectNode json = miniLmJson.deepCopy();
      v.getValue().accept(json);
      Path file = dir.resolve("variant-" + total + ".json");
      Files.writeString(file, json.toString());
      try {
        int[] compared = compareTexts(file, texts);
        total += compared[0];
      } catch (AssertionError e) {
        throw new AssertionError(v.getKey() + ": " + e.getMessage(), e);
      }
    }
    System.out.println("[tokenizer parity] " + variants.size() + " file variants: " + total
        + " encodings identical to Hugging Face tokenizers");
  }

  @Test
  void componentsItDoesNotImplementAreRefusedNamingTheFile() throws IOException {
    Map<String, Consumer<ObjectNode>> cases = new java.util.LinkedHashMap<>();
    cases.put("model.type 'BPE'", j -> ((ObjectNode) j.get("model")).put("type", "BPE"));
    cases.put("normalizer.type 'NFKC'", j -> j.putObject("normalizer").put("type", "NFKC"));
    cases.put("normalizer.type 'Sequence'", j -> j.putObject("normalizer").put("type", "Sequence"));
    cases.put("pre_tokenizer.type 'Whitespace'", j -> j.putObject("pre_tokenizer").put("type", "Whitespace"));
    cases.put("post_processor.type 'RobertaProcessing'",
        j -> j.putObject("post_processor").put("type", "RobertaProcessing"));
    cases.put("post_processor.single[0] (a template for one text must hold sequence A exactly once)", j -> {
      ArrayNode single = ((ObjectNode) j.get("post_processor")).putArray("single");
      single.addObject().putObject("Sequence").put("id", "B").put("type_id", 0);
    });
    int i = 0;
    for (Map.Entry<String, Consumer<ObjectNode>> c : cases.entrySet()) {
      ObjectNode json = miniLmJson.deepCopy();
      c.getValue().accept(json);
      Path file = Files.writeString(dir.resolve("unsupported-" + i++ + ".json"), json.toString());
      String message = assertThrows(Lora4jException.class, () -> Tokenizer.open(file)).getMessage();
      assertTrue(message.startsWith(file + ": not a usable tokenizer.json: " + c.getKey()), message);
    }
  }

  /** Informational: the pure-Java tokenizer's speed against the native one on SST-2 dev, same batches. */
  @Test
  void speedOnSst2DevAgainstTheNativeLibrary() throws IOException {
    List<String> dev = sst2("dev.tsv");
    try (Tokenizer ours = Tokenizer.open(miniLm); HuggingFaceTokenizer hf = reference(miniLm, true)) {
      long[] best = {Long.MAX_VALUE, Long.MAX_VALUE};
      for (int round = 0; round < 3; round++) { // the first round warms both up
        long t0 = System.nanoTime();
        for (int i = 0; i < dev.size(); i += BATCH) {
          ours.encode(dev.subList(i, Math.min(dev.size(), i + BATCH)));
        }
        long t1 = System.nanoTime();
        for (int i = 0; i < dev.size(); i += BATCH) {
          hf.batchEncode(dev.subList(i, Math.min(dev.size(), i + BATCH)));
        }
        long t2 = System.nanoTime();
        best[0] = Math.min(best[0], t1 - t0);
        best[1] = Math.min(best[1], t2 - t1);
      }
      System.out.printf("[tokenizer speed] SST-2 dev, %d sentences in batches of %d: pure Java %.1f ms"
          + " (%.0f sentences/s), DJL native %.1f ms (%.0f sentences/s)%n", dev.size(), BATCH, best[0] / 1e6,
          dev.size() / (best[0] / 1e9), best[1] / 1e6, dev.size() / (best[1] / 1e9));
    }
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * Compares each text alone, uncut and cut at a few lengths, with the native tokenizer configured
   * to truncate at the same length. Returns {encodings compared, texts refused}.
   */
  private static int[] compareTexts(Path file, List<String> texts) throws IOException {
    int compared = 0;
    int refused = 0;
    try (Tokenizer ours = Tokenizer.open(file)) {
      for (int maxLength : new int[] {NO_CUT, 6, 17}) {
        if (maxLength <= ours.specialTokenCount()) {
          continue;
        }
        try (HuggingFaceTokenizer hf = HuggingFaceTokenizer.builder().optTokenizerPath(file)
            .optAddSpecialTokens(true).optMaxLength(maxLength).optTruncation(true).optPadding(false).build()) {
          for (int t = 0; t < texts.size(); t++) {
            String text = texts.get(t);
            var ref = hf.encode(text);
            if (ref.getIds().length == ours.specialTokenCount()) {
              assertThrows(Lora4jException.class, () -> ours.encode(List.of(text), maxLength),
                  "Hugging Face gives text #" + t + " " + describe(text) + " no tokens; ours must refuse it");
              refused += maxLength == NO_CUT ? 1 : 0;
              continue;
            }
            Encoding e = ours.encode(List.of(text), maxLength);
            String what = "text #" + t + " " + describe(text) + " at maxLength " + maxLength;
            assertArrayEquals(ref.getIds(), e.inputIds(), "ids of " + what);
            assertArrayEquals(ref.getAttentionMask(), e.attentionMask(), "attention mask of " + what);
            assertArrayEquals(ref.getTypeIds(), e.tokenTypeIds(), "type ids of " + what);
            compared++;
          }
        }
      }
    }
    return new int[] {compared, refused};
  }

  /** Compares padded batches (the native tokenizer pads to the longest row too); returns rows compared. */
  private static int compareBatches(Tokenizer ours, HuggingFaceTokenizer hf, List<String> texts, int maxLength) {
    int rows = 0;
    for (int i = 0; i < texts.size(); i += BATCH) {
      List<String> batch = texts.subList(i, Math.min(texts.size(), i + BATCH));
      Encoding e = ours.encode(batch, maxLength);
      var ref = hf.batchEncode(batch);
      int seq = e.sequenceLength();
      for (int r = 0; r < batch.size(); r++) {
        String what = "text #" + (i + r) + " " + describe(batch.get(r));
        assertEquals(seq, ref[r].getIds().length, "padded length of the batch holding " + what);
        assertArrayEquals(ref[r].getIds(), Arrays.copyOfRange(e.inputIds(), r * seq, (r + 1) * seq), "ids of " + what);
        assertArrayEquals(ref[r].getAttentionMask(), Arrays.copyOfRange(e.attentionMask(), r * seq, (r + 1) * seq),
            "attention mask of " + what);
        assertArrayEquals(ref[r].getTypeIds(), Arrays.copyOfRange(e.tokenTypeIds(), r * seq, (r + 1) * seq),
            "type ids of " + what);
        rows++;
      }
    }
    return rows;
  }

  /** The native tokenizer as lora4j used it, padding to the batch's longest row, never truncating. */
  private static HuggingFaceTokenizer reference(Path file, boolean pad) throws IOException {
    return HuggingFaceTokenizer.newInstance(file,
        Map.of("addSpecialTokens", "true", "truncation", "false", "padding", String.valueOf(pad)));
  }

  static List<String> hostileTexts() {
    String longWord = "supercalifragilistic".repeat(6); // 120 characters: one [UNK]
    String word100 = "a".repeat(100); // exactly the limit: still split into pieces
    List<String> texts = new ArrayList<>(List.of(
        "", " ", "   \t\n  ", "\u0000", "\u0000\u0001\u001f\u007f", "\u200b\u200d\ufeff", "\ufffd", "\u00a0\u3000\u2003",
        "Hello, World!", "HELLO world... what?!", "don't stop-believing (now) [ok] {yes} <no> #1 @me $5 %x ^ & * _ ~ `",
        "café naïve façade résumé coöperate Ångström Øre Æsir straße",
        "cafe\u0301 nai\u0308ve fac\u0327ade re\u0301sume\u0301", // decomposed accents
        "ÉCOLE Élève ÇA", "İstanbul ıi I İ", "ΣΟΦΟΣ σοφός ς", "ǅ ǈ ǋ ﬁ ﬀ ß ẞ",
        "日本語のテキスト and 中文字符 mixed with English", "我爱电影", "한국어 텍스트", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３",
        "emoji 😀😃 🎬🍿 👍🏽 👨‍👩‍👧 ❤️ ✔︎ 🇫🇷", "e\u0301\u0302\u0303 a\u20dd", "zero\u200bwidth\u200cjoin\u200dhere\u2060",
        "soft\u00adhyphen bidi\u202eoverride\u202c", "ctrl\u0007bell\u001bescape\u0085nel\u2028line\u2029para",
        "tab\there\r\nnewline\u000bvt\u000cff", "private \ue000 \ue001 \uf8ff \udb80\udc00", "lone \ud800 surrogate \udc00 x",
        "Ελληνικά Русский текст עברית العربية हिन्दी ไทย", "math ∑∫√∞ ≠ ≤ ± ×÷ currency €£¥₹ ©®™",
        "quotes “curly” ‘single’ «guillemets» „low“ — en–dash … ellipsis", "a\u0300\u0301\u0302b 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐁𝐨𝐥𝐝",
        "[CLS] [SEP] [PAD] [MASK] [UNK] inside text", "[cls] [Sep] [SEP][SEP]x[SEP]", "##ing ## #",
        longWord, word100, word100 + "a", "prefix " + longWord + " suffix", "ab".repeat(60) + "é",
        "𠀀𠀁 𪜀 𫝀 𫠠 𬺰 丽 﨑", "ǆ\u0345\u0307", "e\u0301".repeat(150),
        String.join(" ", Collections.nCopies(300, "tokenizers cut long texts")),
        "word ".repeat(2000), "x".repeat(5000), "日".repeat(400)));
    StringBuilder mixed = new StringBuilder();
    for (int c = 0x20; c < 0x3000; c += 7) {
      mixed.appendCodePoint(c);
    }
    texts.add(mixed.toString());
    return texts;
  }

  private static ObjectNode normalizer(ObjectNode json) {
    return (ObjectNode) json.get("normalizer");
  }

  private static ObjectNode added(String content, boolean normalized, boolean singleWord, boolean lstrip,
      boolean rstrip, int id) {
    return new ObjectMapper().createObjectNode().put("id", id).put("content", content).put("single_word", singleWord)
        .put("lstrip", lstrip).put("rstrip", rstrip).put("normalized", normalized).put("special", !normalized);
  }

  /** {@code ../shared/data/sst2} beside the repository root (tests run in the module directory). */
  static List<String> sst2(String name) throws IOException {
    for (Path root : new Path[] {Path.of("..", "..", "shared"), Path.of("..", "shared")}) {
      Path file = root.resolve("data").resolve("sst2").resolve(name).toAbsolutePath().normalize();
      if (Files.isRegularFile(file)) {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        List<String> sentences = new ArrayList<>(lines.size());
        for (String line : lines.subList(1, lines.size())) {
          sentences.add(line.substring(0, line.lastIndexOf('\t')));
        }
        return sentences;
      }
    }
    fail("SST-2 not found: expected ../shared/data/sst2/" + name + " beside the repository root");
    return List.of();
  }

  private static String describe(String text) {
    StringBuilder sb = new StringBuilder("\"");
    String cut = text.length() > 60 ? text.substring(0, 60) + "..." : text;
    cut.codePoints().forEach(c -> {
      if (c < 0x20 || c > 0x7e) {
        sb.append(String.format("\\u{%x}", c));
      } else {
        sb.appendCodePoint(c);
      }
    });
    return sb.append('"').toString();
  }
}
