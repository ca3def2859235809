package dev.lora4j.models.text;

import ai.djl.engine.EngineException;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.InputFiles;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Turns texts into model inputs with a Hugging Face {@code tokenizer.json}, through DJL's binding of
 * the Rust {@code tokenizers} library (its native library comes from the DJL jar; nothing is
 * downloaded).
 *
 * <p>Special tokens are added as the file's post-processor says ({@code [CLS] ... [SEP]} for BERT);
 * a text longer than {@code maxLength} tokens, special tokens included, is cut in the direction the
 * file asks for (right unless its {@code truncation.direction} says left), keeping the special
 * tokens; rows are padded on the right to the longest row of the batch, not to {@code maxLength}.
 *
 * <p>Thread-safe: {@link #encode} may be called from many threads at once (the native tokenizer is
 * only read while encoding). {@link #close} waits for encodes in flight and frees the native memory;
 * later calls fail.
 */
public final class Tokenizer implements AutoCloseable {
  public static final int DEFAULT_MAX_LENGTH = 128;

  static {
    // DJL "calls home" (probes the EC2 metadata address, up to seconds of timeouts) when it creates
    // a tokenizer unless it runs offline or tracking is opted out; lora4j never reaches the network.
    // Explicit settings by the user win.
    System.getProperties().putIfAbsent("ai.djl.offline", "true");
    System.getProperties().putIfAbsent("OPT_OUT_TRACKING", "true");
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  private final HuggingFaceTokenizer hf;
  private final Path file;
  private final int defaultMaxLength;
  private final SpecialTokenLayout layout;
  private final long padId;
  private final long padTypeId;
  private final boolean truncateLeft;
  private final ReadWriteLock lock = new ReentrantReadWriteLock();
  private boolean closed;

  private Tokenizer(HuggingFaceTokenizer hf, Path file, int defaultMaxLength, SpecialTokenLayout layout,
      long padId, long padTypeId, boolean truncateLeft) {
    this.hf = hf;
    this.file = file;
    this.defaultMaxLength = defaultMaxLength;
    this.layout = layout;
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
    HuggingFaceTokenizer hf = createNative(tokenizerJson, bytes);
    try {
      SpecialTokenLayout layout = probe(hf, tokenizerJson);
      Tokenizer t = new Tokenizer(hf, tokenizerJson, defaultMaxLength, layout, padId(json),
          json.path("padding").path("pad_type_id").asLong(0),
          "left".equalsIgnoreCase(json.path("truncation").path("direction").asText()));
      t.checkMaxLength(defaultMaxLength);
      return t;
    } catch (RuntimeException e) {
      hf.close();
      throw e;
    }
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
    String[] input = new String[texts.size()];
    for (int i = 0; i < input.length; i++) {
      input[i] = texts.get(i);
      if (input[i] == null) {
        throw new Lora4jException("Cannot tokenize text #" + i + ": it is null");
      }
    }
    ai.djl.huggingface.tokenizers.Encoding[] raw = encodeNative(input);
    return assemble(raw, texts, maxLength);
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
    lock.writeLock().lock();
    try {
      if (!closed) {
        closed = true;
        hf.close();
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  private ai.djl.huggingface.tokenizers.Encoding[] encodeNative(String[] input) {
    // The read lock lets encodes run in parallel but keeps close() from freeing the native tokenizer
    // under one of them, which would crash the JVM rather than throw.
    lock.readLock().lock();
    try {
      if (closed) {
        throw new IllegalStateException("Tokenizer for " + file + " is closed");
      }
      return hf.batchEncode(input, true, false);
    } finally {
      lock.readLock().unlock();
    }
  }

  private Encoding assemble(ai.djl.huggingface.tokenizers.Encoding[] raw, List<String> texts, int maxLength) {
    int batch = raw.length;
    int prefix = layout.prefix();
    int suffix = layout.suffix();
    int room = maxLength - prefix - suffix;
    int[] counts = new int[batch];
    boolean[] truncated = new boolean[batch];
    int seq = 0;
    for (int r = 0; r < batch; r++) {
      int content = raw[r].getIds().length - prefix - suffix;
      if (content <= 0) {
        throw new Lora4jException("Cannot tokenize text #" + r + " (" + preview(texts.get(r))
            + "): it gives no tokens; it is empty or holds only whitespace or characters " + file
            + " drops");
      }
      truncated[r] = content > room;
      counts[r] = prefix + Math.min(content, room) + suffix;
      seq = Math.max(seq, counts[r]);
    }
    long[] ids = new long[batch * seq];
    long[] mask = new long[batch * seq];
    long[] types = new long[batch * seq];
    Arrays.fill(ids, padId);
    Arrays.fill(types, padTypeId);
    for (int r = 0; r < batch; r++) {
      int total = raw[r].getIds().length;
      int kept = counts[r] - prefix - suffix;
      // Cutting here rather than in the native tokenizer lets maxLength vary per call without
      // mutating shared native state; it is the same cut: Hugging Face truncates the text's tokens
      // to maxLength minus the special tokens, then adds the special tokens around them.
      int from = prefix + (truncateLeft ? total - prefix - suffix - kept : 0);
      int at = r * seq;
      copyRow(raw[r].getIds(), ids, at, prefix, from, kept, suffix);
      copyRow(raw[r].getTypeIds(), types, at, prefix, from, kept, suffix);
      Arrays.fill(mask, at, at + counts[r], 1L);
    }
    return new Encoding(batch, seq, ids, mask, types, counts, truncated);
  }

  /** Copies special prefix, the kept text tokens and the special suffix into one output row. */
  private static void copyRow(long[] src, long[] dst, int at, int prefix, int from, int kept, int suffix) {
    System.arraycopy(src, 0, dst, at, prefix);
    System.arraycopy(src, from, dst, at + prefix, kept);
    System.arraycopy(src, src.length - suffix, dst, at + prefix + kept, suffix);
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

  /**
   * The native tokenizer accepts files it cannot encode with (an empty vocabulary, an unknown token
   * missing from it); the probe is the first encode, so its failure is the file's fault.
   */
  private static SpecialTokenLayout probe(HuggingFaceTokenizer hf, Path file) {
    try {
      return SpecialTokenLayout.probe(hf, file);
    } catch (Lora4jException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new Lora4jException(file + ": not a usable tokenizer.json, it cannot encode a one-letter text ("
          + InputFiles.describe(e) + ")", e);
    }
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

  private static HuggingFaceTokenizer createNative(Path file, byte[] bytes) {
    // Truncation and padding stay off in the native tokenizer: encode() does both per call, so one
    // instance serves every maxLength and is never mutated after this point.
    Map<String, String> options = Map.of("addSpecialTokens", "true", "truncation", "false", "padding", "false");
    try {
      return HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(bytes), options);
    } catch (EngineException | LinkageError e) {
      throw new Lora4jException("Cannot load the Hugging Face tokenizers native library for "
          + System.getProperty("os.name") + "/" + System.getProperty("os.arch") + " (needed for " + file
          + "): " + e.getMessage(), e);
    } catch (IOException | RuntimeException e) {
      throw new Lora4jException(file + ": not a usable tokenizer.json (" + InputFiles.describe(e) + ")", e);
    }
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
