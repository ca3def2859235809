package dev.lora4j.models.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * tokenizer.json content the native library accepts and then panics on, which aborts the JVM: each
 * must be refused with a message first. (Run without the check, the first case kills the test JVM
 * with "fatal runtime error ... aborting", exit 134.)
 */
class TokenizerJsonCheckTest {
  @TempDir Path dir;

  private String refusal(Consumer<ObjectNode> change) throws Exception {
    ObjectNode json = (ObjectNode) new ObjectMapper().readTree(TinyBert.tokenizerJson());
    change.accept(json);
    Path file = Files.writeString(dir.resolve("tokenizer.json"), json.toString());
    return assertThrows(Lora4jException.class, () -> Tokenizer.open(file)).getMessage()
        .replace(file.toString(), "tokenizer.json");
  }

  @Test
  void templateNamingAnUndefinedSpecialTokenIsRefusedInsteadOfAbortingTheJvm() throws Exception {
    assertEquals("tokenizer.json: not a usable tokenizer.json: post_processor.single[0] places special token"
        + " '[CLS]', which post_processor.special_tokens does not define",
        refusal(j -> ((ObjectNode) j.get("post_processor").get("special_tokens")).remove("[CLS]")));
  }

  @Test
  void anEmptyVocabularyIsRefusedWithTheFileName() throws Exception {
    assertEquals("tokenizer.json: not a usable tokenizer.json: model.vocab is empty",
        refusal(j -> ((ObjectNode) j.get("model").get("vocab")).removeAll()));
  }

  @Test
  void anUnknownTokenMissingFromTheVocabularyIsRefused() throws Exception {
    assertEquals("tokenizer.json: not a usable tokenizer.json: model.unk_token '[UNK]' is not in model.vocab",
        refusal(j -> ((ObjectNode) j.get("model").get("vocab")).remove("[UNK]")));
  }
}
