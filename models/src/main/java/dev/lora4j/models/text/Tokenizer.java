package dev.lora4j.models.text;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.InputFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Turns texts into model inputs with a Hugging Face {@code tokenizer.json} of the BERT family
 * (BertNormalizer, BertPreTokenizer, WordPiece), read in pure Java with the {@code tokenizers}
 * library's semantics (its ids are identical on every SST-2 sentence and on hostile text; see
 * TokenizerParityTest). A file with any other normaliser, pre-tokenizer or model is refused.
 *
 * <p>Special tokens are added as the file's post-processor says ({@code [CLS] ... [SEP]} for BERT);
 * a text longer than {@code maxLength} tokens, special tokens included, is cut in the direction the
 * file asks for (right unless its {@code truncation.direction} says left), keeping the special
 * tokens; rows are padded on the right to the longest row of the batch, not to {@code maxLength}.
 *
 * <p>Thread-safe: {@link #encode} may be called from many threads at once. After {@link #close}
 * encodes fail.
 */
public final class Tokenizer implements AutoCloseable {
  public static final int DEFAULT_MAX_LENGTH = 128;

  private static final ObjectMapper JSON = new ObjectMapper();

  private final WordPieceTokenizer model;
  private final Path file;
  private final int defaultMaxLength;
  private final SpecialTokenLayout layout;
  private final long padId;
  private final long padTypeId;
  private final boolean truncateLeft;
  private volatile boolean closed;

  private Tokenizer(WordPieceTokenizer model, Path file, int defaultMaxLength, long padId, long padTypeId,
      boolean truncateLeft) {
    this.model = model;
    this.file = file;
    this.defaultMaxLength = defaultMaxLength;
    this.layout = model.layout();
    this.padId = padId;
    this.padTypeId = padTypeId;
    this.truncateLeft = truncateLeft;
  }

  /** Opens {@code tokenizerJson} with the default maximum length of {@value #DEFAULT_MAX_LENGTH}. */
  public static Tokenizer open(Path tokenizerJson) {
    return open(tokenizerJson, DEFAULT_MAX_LENGTH);
  }

  /** Opens {@code tokenizerJson}; {@link #encode(List)} cuts texts at {@code defaultMaxLength} tokens. */
  public static Tokenizer open(Path tokenizerJson, int defaultMaxLength) {
    byte[] bytes = read(tokenizerJson);
    JsonNode json = parse(tokenizerJson, bytes);
    TokenizerJsonCheck.check(tokenizerJson, json);
    WordPieceTokenizer model = WordPieceTokenizer.read(tokenizerJson, json);
    Tokenizer t = new Tokenizer(model, tokenizerJson, defaultMaxLength, padId(json),
        json.path("padding").path("pad_type_id").asLong(0),
        "left".equalsIgnoreCase(json.path("truncation").path("direction").asText()));
    t.checkMaxLength(defaultMaxLength);
    return t;
  }

  /** Encodes {@code texts} as one batch, each cut at the default maximum length. */
  public Encoding encode(List<String> texts) {
    return encode(texts, defaultMaxLength);
  }

  /**
   * Encodes {@code texts} as one batch.
   *
   * @param maxLength the most tokens a row may have, special tokens included
   * @throws Lora4jException if {@code texts} is empty, or a text is null or gives no tokens at all
   *     (empty, blank, or only characters the tokenizer drops): such a row would carry no meaning
   */
  public Encoding encode(List<String> texts, int maxLength) {
    if (texts == null || texts.isEmpty()) {
      throw new Lora4jException("Nothing to tokenize: the list of texts is empty");
    }
    checkMaxLength(maxLength);
    for (int i = 0; i < texts.size(); i++) {
      if (texts.get(i) == null) {
        throw new Lora4jException("Cannot tokenize text #" + i + ": it is null");
      }
    }
    if (closed) {
      throw new IllegalStateException("Tokenizer for " + file + " is closed");
    }
    int[][] content = new int[texts.size()][];
    for (int i = 0; i < content.length; i++) {
      content[i] = model.encode(texts.get(i));
    }
    return assemble(content, texts, maxLength);
  }

  /** How many special tokens every row carries; {@code maxLength} must leave room for more. */
  public int specialTokenCount() {
    return layout.prefix() + layout.suffix();
  }

  public int defaultMaxLength() {
    return defaultMaxLength;
  }

  public Path file() {
    return file;
  }

  @Override
  public void close() {
    closed = true;
  }

  private Encoding assemble(int[][] content, List<String> texts, int maxLength) {
    int batch = content.length;
    int prefix = layout.prefix();
    int suffix = layout.suffix();
    int room = maxLength - prefix - suffix;
    int[] counts = new int[batch];
    boolean[] truncated = new boolean[batch];
    int seq = 0;
    for (int r = 0; r < batch; r++) {
      if (content[r].length == 0) {
        throw new Lora4jException("Cannot tokenize text #" + r + " (" + preview(texts.get(r))
            + "): it gives no tokens; it is empty or holds only whitespace or characters " + file
            + " drops");
      }
      truncated[r] = content[r].length > room;
      counts[r] = prefix + Math.min(content[r].length, room) + suffix;
      seq = Math.max(seq, counts[r]);
    }
    long[] ids = new long[batch * seq];
    long[] mask = new long[batch * seq];
    long[] types = new long[batch * seq];
    Arrays.fill(ids, padId);
    Arrays.fill(types, padTypeId);
    for (int r = 0; r < batch; r++) {
      int kept = counts[r] - prefix - suffix;
      // Hugging Face truncates the text's tokens to maxLength minus the special tokens, then adds the
      // special tokens around them; cutting per call lets maxLength vary without shared state.
      int from = truncateLeft ? content[r].length - kept : 0;
      int at = r * seq;
      for (int i = 0; i < prefix; i++, at++) {
        ids[at] = layout.prefixIds()[i];
        types[at] = layout.prefixTypes()[i];
      }
      for (int i = 0; i < kept; i++, at++) {
        ids[at] = content[r][from + i];
        types[at] = layout.sequenceType();
      }
      for (int i = 0; i < suffix; i++, at++) {
        ids[at] = layout.suffixIds()[i];
        types[at] = layout.suffixTypes()[i];
      }
      Arrays.fill(mask, r * seq, r * seq + counts[r], 1L);
    }
    return new Encoding(batch, seq, ids, mask, types, counts, truncated);
  }

  private void checkMaxLength(int maxLength) {
    if (maxLength <= specialTokenCount()) {
      throw new Lora4jException("maxLength " + maxLength + " leaves no room for text: " + file + " adds "
          + specialTokenCount() + " special tokens to every text, so maxLength must be at least "
          + (specialTokenCount() + 1));
    }
  }

  /** A tokenizer.json is a few megabytes even for large vocabularies. */
  static final long FILE_LIMIT = 256L << 20;

  private static byte[] read(Path file) {
    return InputFiles.readAll(file, FILE_LIMIT, "tokenizer file");
  }

  private static JsonNode parse(Path file, byte[] bytes) {
    JsonNode json;
    try {
      json = JSON.readTree(bytes);
    } catch (JsonProcessingException e) {
      throw new Lora4jException(file + ": not a tokenizer.json, the JSON is truncated or corrupt ("
          + e.getOriginalMessage() + (e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()
          + ", column " + e.getLocation().getColumnNr()) + ")", e);
    } catch (IOException e) {
      throw new Lora4jException(file + ": cannot read the tokenizer file (" + e.getMessage() + ")", e);
    }
    if (json == null || json.isMissingNode()) {
      throw new Lora4jException(file + ": not a tokenizer.json, the file is empty");
    }
    if (!json.isObject() || !json.path("model").isObject()) {
      throw new Lora4jException(file + ": not a Hugging Face tokenizer.json (it has no \"model\" section)");
    }
    return json;
  }

  /**
   * The id to pad with: what the file's padding section says, else its {@code [PAD]}/{@code <pad>}
   * token, else 0. Padded positions are masked out, so this only has to be a valid id.
   */
  private static long padId(JsonNode json) {
    JsonNode padding = json.path("padding");
    if (padding.has("pad_id")) {
      return padding.get("pad_id").asLong();
    }
    for (JsonNode token : json.path("added_tokens")) {
      String content = token.path("content").asText();
      if (content.equals("[PAD]") || content.equals("<pad>")) {
        return token.path("id").asLong();
      }
    }
    return 0;
  }

  private static String preview(String text) {
    String cut = text.length() > 40 ? text.substring(0, 40) + "..." : text;
    StringBuilder sb = new StringBuilder("\"");
    cut.codePoints().forEach(c -> {
      if (Character.isISOControl(c)) {
        sb.append(String.format("\\u%04x", c));
      } else {
        sb.appendCodePoint(c);
      }
    });
    return sb.append('"').toString();
  }
}
