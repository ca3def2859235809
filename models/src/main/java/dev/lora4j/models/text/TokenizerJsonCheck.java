package dev.lora4j.models.text;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.models.Lora4jException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/**
 * Checks the parts of a {@code tokenizer.json} that Hugging Face's native tokenizers library trusts:
 * it deserializes them without complaint and later panics on encode, and a Rust panic aborts the
 * whole JVM (exit 134) instead of throwing. Found by the hostile-input corpus: a template that names a
 * special token the processor does not define. Also refused here: an empty vocabulary, and a
 * WordPiece unk_token missing from it. lora4j now reads the file in pure Java
 * ({@link WordPieceTokenizer}), which relies on these checks, so a file it accepts is one the native
 * library can encode with too. Everything refused here is one message naming the file and the field.
 */
final class TokenizerJsonCheck {
  private final Path file;

  private TokenizerJsonCheck(Path file) {
    this.file = file;
  }

  static void check(Path file, JsonNode json) {
    TokenizerJsonCheck c = new TokenizerJsonCheck(file);
    c.model(json.path("model"));
    JsonNode post = json.path("post_processor");
    if (!post.isMissingNode() && !post.isNull()) {
      c.postProcessor(post, "post_processor");
    }
  }

  private void model(JsonNode model) {
    JsonNode vocab = model.path("vocab");
    if (vocab.isObject()) {
      if (vocab.isEmpty()) {
        throw fail("model.vocab is empty");
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!e.getValue().canConvertToInt() || !e.getValue().isIntegralNumber() || e.getValue().intValue() < 0) {
          throw fail("model.vocab gives token '" + e.getKey() + "' the id " + e.getValue()
              + ", not a non-negative integer");
        }
      }
      // WordPiece maps every unknown word to unk_token and fails on each text once it is missing.
      JsonNode unk = model.path("unk_token");
      if ("WordPiece".equals(model.path("type").asText()) && unk.isTextual() && !vocab.has(unk.textValue())) {
        throw fail("model.unk_token '" + unk.textValue() + "' is not in model.vocab");
      }
    } else if (vocab.isArray() && vocab.isEmpty()) {
      throw fail("model.vocab is empty");
    }
  }

  private void postProcessor(JsonNode post, String where) {
    if (!post.isObject()) {
      throw fail(where + " is not an object");
    }
    String type = post.path("type").asText("");
    switch (type) {
      case "TemplateProcessing" -> template(post, where);
      case "Sequence" -> {
        JsonNode list = post.path("processors");
        for (int i = 0; list.isArray() && i < list.size(); i++) {
          postProcessor(list.get(i), where + ".processors[" + i + "]");
        }
      }
      default -> { }
    }
  }

  /** Every special token a template places must be defined, with as many ids as tokens. */
  private void template(JsonNode post, String where) {
    JsonNode special = post.path("special_tokens");
    if (!special.isObject()) {
      throw fail(where + ".special_tokens is missing or not an object");
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = special.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      JsonNode ids = e.getValue().path("ids");
      JsonNode tokens = e.getValue().path("tokens");
      if (!ids.isArray() || !tokens.isArray() || ids.size() != tokens.size() || ids.isEmpty()) {
        throw fail(where + ".special_tokens." + e.getKey() + " needs equally long, non-empty ids and tokens arrays");
      }
    }
    for (String part : new String[] {"single", "pair"}) {
      JsonNode items = post.path(part);
      for (int i = 0; items.isArray() && i < items.size(); i++) {
        JsonNode token = items.get(i).path("SpecialToken");
        if (token.isObject() && !special.has(token.path("id").asText())) {
          throw fail(where + "." + part + "[" + i + "] places special token '" + token.path("id").asText()
              + "', which " + where + ".special_tokens does not define");
        }
      }
    }
  }

  private Lora4jException fail(String problem) {
    return new Lora4jException(file + ": not a usable tokenizer.json: " + problem);
  }
}
