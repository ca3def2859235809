package dev.lora4j.models.text;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.models.Lora4jException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A BERT-family {@code tokenizer.json} read in pure Java, with Hugging Face {@code tokenizers}'
 * semantics: added tokens are split out of the raw text, the rest goes through the normaliser, the
 * pre-tokenizer and the WordPiece model; {@link #layout()} tells what the post-processor adds
 * around it. Any component it does not implement is refused when the file is read, never
 * approximated. Immutable, so thread-safe.
 */
final class WordPieceTokenizer {
  private static final String SUPPORTED = "lora4j reads BERT WordPiece tokenizers: normalizer BertNormalizer or"
      + " none, pre_tokenizer BertPreTokenizer or none, model WordPiece, post_processor TemplateProcessing,"
      + " BertProcessing or none";

  private final AddedTokens raw;
  private final AddedTokens normalized;
  private final BertNormalizer normalizer;
  private final boolean bertPreTokenizer;
  private final WordPiece model;
  private final SpecialTokenLayout layout;

  private WordPieceTokenizer(AddedTokens raw, AddedTokens normalized, BertNormalizer normalizer,
      boolean bertPreTokenizer, WordPiece model, SpecialTokenLayout layout) {
    this.raw = raw;
    this.normalized = normalized;
    this.normalizer = normalizer;
    this.bertPreTokenizer = bertPreTokenizer;
    this.model = model;
    this.layout = layout;
  }

  SpecialTokenLayout layout() {
    return layout;
  }

  /** The ids of {@code text}'s own tokens, without the post-processor's special tokens. */
  int[] encode(String text) {
    String s = replaceLoneSurrogates(text);
    IntList out = new IntList();
    for (AddedTokens.Piece piece : raw.split(s)) {
      if (piece.id() >= 0) {
        out.add(piece.id());
        continue;
      }
      String part = s.substring(piece.from(), piece.to());
      String norm = normalizer == null ? part : normalizer.normalize(part);
      for (AddedTokens.Piece p : normalized.split(norm)) {
        if (p.id() >= 0) {
          out.add(p.id());
        } else {
          words(norm.substring(p.from(), p.to()), out);
        }
      }
    }
    return out.toArray();
  }

  /** BertPreTokenizer: whitespace separates words and is dropped; each punctuation mark is a word. */
  private void words(String s, IntList out) {
    if (!bertPreTokenizer) {
      model.tokenize(s, out);
      return;
    }
    int wordStart = -1;
    for (int i = 0; i < s.length(); ) {
      int c = s.codePointAt(i);
      int next = i + Character.charCount(c);
      boolean space = BertCharacters.isWhitespace(c);
      if (space || BertCharacters.isPunctuation(c)) {
        if (wordStart >= 0) {
          model.tokenize(s.substring(wordStart, i), out);
          wordStart = -1;
        }
        if (!space) {
          model.tokenize(s.substring(i, next), out);
        }
      } else if (wordStart < 0) {
        wordStart = i;
      }
      i = next;
    }
    if (wordStart >= 0) {
      model.tokenize(s.substring(wordStart), out);
    }
  }

  /** Java strings may hold unpaired surrogates; Rust strings cannot, and the binding turns them into U+FFFD. */
  private static String replaceLoneSurrogates(String s) {
    StringBuilder out = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean lone = Character.isHighSurrogate(c)
          ? i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))
          : Character.isLowSurrogate(c) && (i == 0 || !Character.isHighSurrogate(s.charAt(i - 1)));
      if (lone && out == null) {
        out = new StringBuilder(s.length()).append(s, 0, i);
      }
      if (out != null) {
        out.append(lone ? '\uFFFD' : c);
      }
    }
    return out == null ? s : out.toString();
  }

  /** Reads an already parsed and checked ({@link TokenizerJsonCheck}) tokenizer.json. */
  static WordPieceTokenizer read(Path file, JsonNode json) {
    Reader r = new Reader(file);
    BertNormalizer normalizer = r.normalizer(json.path("normalizer"));
    boolean bert = r.preTokenizer(json.path("pre_tokenizer"));
    Map<String, Integer> vocab = r.vocab(json.path("model"));
    WordPiece model = r.model(json.path("model"), vocab);
    List<AddedTokens.Token> rawTokens = new ArrayList<>();
    List<AddedTokens.Token> normTokens = new ArrayList<>();
    r.addedTokens(json.path("added_tokens"), vocab, normalizer, rawTokens, normTokens);
    SpecialTokenLayout layout = r.postProcessor(json.path("post_processor"));
    return new WordPieceTokenizer(new AddedTokens(rawTokens), new AddedTokens(normTokens), normalizer, bert,
        model, layout);
  }

  /** The parsing, with messages that name the file and the field. */
  private static final class Reader {
    private final Path file;

    Reader(Path file) {
      this.file = file;
    }

    BertNormalizer normalizer(JsonNode n) {
      if (absent(n)) {
        return null;
      }
      String type = type(n, "normalizer");
      if (!type.equals("BertNormalizer")) {
        throw unsupported("normalizer.type '" + type + "'");
      }
      boolean lowercase = bool(n, "lowercase", "normalizer");
      JsonNode strip = n.path("strip_accents");
      if (!absent(strip) && !strip.isBoolean()) {
        throw unusable("normalizer.strip_accents is " + strip + ", not true, false or null");
      }
      return new BertNormalizer(bool(n, "clean_text", "normalizer"), bool(n, "handle_chinese_chars", "normalizer"),
          absent(strip) ? lowercase : strip.booleanValue(), lowercase);
    }

    boolean preTokenizer(JsonNode n) {
      if (absent(n)) {
        return false;
      }
      String type = type(n, "pre_tokenizer");
      if (!type.equals("BertPreTokenizer")) {
        throw unsupported("pre_tokenizer.type '" + type + "'");
      }
      return true;
    }

    Map<String, Integer> vocab(JsonNode model) {
      String type = type(model, "model");
      if (!type.equals("WordPiece")) {
        throw unsupported("model.type '" + type + "'");
      }
      JsonNode vocab = model.path("vocab");
      if (!vocab.isObject()) {
        throw unusable("model.vocab is missing or not an object");
      }
      Map<String, Integer> map = new HashMap<>(vocab.size() * 2);
      for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        map.put(e.getKey(), e.getValue().intValue()); // TokenizerJsonCheck made sure these are ints >= 0
      }
      return map;
    }

    WordPiece model(JsonNode model, Map<String, Integer> vocab) {
      String unk = text(model, "unk_token", "[UNK]", "model");
      Integer unkId = vocab.get(unk);
      if (unkId == null) {
        throw unusable("model.unk_token '" + unk + "' is not in model.vocab");
      }
      String prefix = text(model, "continuing_subword_prefix", "##", "model");
      JsonNode max = model.path("max_input_chars_per_word");
      int maxChars = 100;
      if (!absent(max)) {
        if (!max.canConvertToInt() || !max.isIntegralNumber() || max.intValue() < 0) {
          throw unusable("model.max_input_chars_per_word is " + max + ", not a non-negative integer");
        }
        maxChars = max.intValue();
      }
      return new WordPiece(vocab, unkId, prefix, maxChars);
    }

    /**
     * Ids as {@code tokenizers} assigns them on load: a token already in the vocabulary keeps that id,
     * any other gets the next id after the vocabulary and the added tokens (the id written in the file
     * is not used).
     */
    void addedTokens(JsonNode list, Map<String, Integer> vocab, BertNormalizer normalizer,
        List<AddedTokens.Token> raw, List<AddedTokens.Token> norm) {
      if (absent(list)) {
        return;
      }
      if (!list.isArray()) {
        throw unusable("added_tokens is not a list");
      }
      Map<String, Integer> ids = new HashMap<>();
      Map<Integer, JsonNode> byId = new LinkedHashMap<>();
      int max = -1;
      for (int i = 0; i < list.size(); i++) {
        JsonNode t = list.get(i);
        String where = "added_tokens[" + i + "]";
        if (!t.isObject() || !t.path("content").isTextual()) {
          throw unusable(where + ".content is missing or not a string");
        }
        String content = t.get("content").textValue();
        if (content.isEmpty()) {
          continue;
        }
        Integer id = ids.get(content);
        if (id == null) {
          id = vocab.get(content);
        }
        if (id == null) {
          // tokenizers 0.21: after the vocabulary, or after the highest added id if that is beyond it
          id = max >= vocab.size() || vocab.isEmpty() ? max + 1 : vocab.size();
        }
        max = Math.max(max, id);
        ids.put(content, id);
        byId.put(id, t); // a later entry for the same token replaces the earlier one, as in tokenizers
      }
      for (Map.Entry<Integer, JsonNode> e : byId.entrySet()) {
        JsonNode t = e.getValue();
        String where = "added_tokens (" + t.get("content").textValue() + ")";
        String content = t.get("content").textValue();
        boolean isNormalized = flag(t, "normalized", true, where);
        String text = isNormalized && normalizer != null ? normalizer.normalize(content) : content;
        AddedTokens.Token token = new AddedTokens.Token(text, e.getKey(), flag(t, "single_word", false, where),
            flag(t, "lstrip", false, where), flag(t, "rstrip", false, where));
        (isNormalized ? norm : raw).add(token);
      }
    }

    SpecialTokenLayout postProcessor(JsonNode n) {
      if (absent(n)) {
        return SpecialTokenLayout.NONE;
      }
      String type = type(n, "post_processor");
      return switch (type) {
        case "TemplateProcessing" -> template(n);
        case "BertProcessing" -> new SpecialTokenLayout(new int[] {pairId(n, "cls")}, new int[] {0}, 0,
            new int[] {pairId(n, "sep")}, new int[] {0});
        default -> throw unsupported("post_processor.type '" + type + "'");
      };
    }

    /** BertProcessing writes a special token as ["[CLS]", 101]. */
    private int pairId(JsonNode n, String field) {
      JsonNode pair = n.path(field);
      if (!pair.isArray() || pair.size() != 2 || !pair.get(1).canConvertToInt() || pair.get(1).intValue() < 0) {
        throw unusable("post_processor." + field + " is not a [token, id] pair");
      }
      return pair.get(1).intValue();
    }

    private SpecialTokenLayout template(JsonNode n) {
      JsonNode single = n.path("single");
      if (!single.isArray()) {
        throw unusable("post_processor.single is missing or not a list");
      }
      IntList[] ids = {new IntList(), new IntList()};
      IntList[] types = {new IntList(), new IntList()};
      int side = 0;
      int sequenceType = 0;
      for (int i = 0; i < single.size(); i++) {
        JsonNode item = single.get(i);
        String where = "post_processor.single[" + i + "]";
        if (item.has("Sequence")) {
          JsonNode seq = item.get("Sequence");
          if (side == 1 || !"A".equals(seq.path("id").asText())) {
            throw unsupported(where + " (a template for one text must hold sequence A exactly once)");
          }
          sequenceType = typeId(seq, where);
          side = 1;
        } else if (item.has("SpecialToken")) {
          JsonNode special = item.get("SpecialToken");
          int typeId = typeId(special, where);
          // TokenizerJsonCheck made sure the token is defined with as many ids as tokens
          for (JsonNode id : n.path("special_tokens").path(special.path("id").asText()).path("ids")) {
            if (!id.canConvertToInt() || id.intValue() < 0) {
              throw unusable("post_processor.special_tokens." + special.path("id").asText() + " has the id "
                  + id + ", not a non-negative integer");
            }
            ids[side].add(id.intValue());
            types[side].add(typeId);
          }
        } else {
          throw unusable(where + " is neither a Sequence nor a SpecialToken");
        }
      }
      if (side == 0) {
        throw unsupported("post_processor.single (a template for one text must hold sequence A exactly once)");
      }
      return new SpecialTokenLayout(ids[0].toArray(), types[0].toArray(), sequenceType, ids[1].toArray(),
          types[1].toArray());
    }

    private int typeId(JsonNode item, String where) {
      JsonNode t = item.path("type_id");
      if (absent(t)) {
        return 0;
      }
      if (!t.canConvertToInt() || !t.isIntegralNumber() || t.intValue() < 0) {
        throw unusable(where + ".type_id is " + t + ", not a non-negative integer");
      }
      return t.intValue();
    }

    private String type(JsonNode n, String where) {
      if (!n.isObject()) {
        throw unusable(where + " is not an object");
      }
      JsonNode type = n.path("type");
      if (!type.isTextual()) {
        throw unusable(where + ".type is missing or not a string");
      }
      return type.textValue();
    }

    private boolean bool(JsonNode n, String field, String where) {
      JsonNode v = n.path(field);
      if (!v.isBoolean()) {
        throw unusable(where + "." + field + " is missing or not true/false");
      }
      return v.booleanValue();
    }

    private boolean flag(JsonNode n, String field, boolean fallback, String where) {
      JsonNode v = n.path(field);
      if (absent(v)) {
        return fallback;
      }
      if (!v.isBoolean()) {
        throw unusable(where + "." + field + " is " + v + ", not true/false");
      }
      return v.booleanValue();
    }

    private String text(JsonNode n, String field, String fallback, String where) {
      JsonNode v = n.path(field);
      if (absent(v)) {
        return fallback;
      }
      if (!v.isTextual()) {
        throw unusable(where + "." + field + " is " + v + ", not a string");
      }
      return v.textValue();
    }

    private static boolean absent(JsonNode n) {
      return n.isMissingNode() || n.isNull();
    }

    private Lora4jException unusable(String problem) {
      return new Lora4jException(file + ": not a usable tokenizer.json: " + problem);
    }

    private Lora4jException unsupported(String what) {
      return new Lora4jException(file + ": not a usable tokenizer.json: " + what + " is not implemented ("
          + SUPPORTED + ")");
    }
  }
}
