package dev.lora4j.models.base;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import org.junit.jupiter.api.Test;

class ModuleKindTest {
  @Test
  void canonicalNamesGiveLayerAndKind() {
    for (ModuleKind k : ModuleKind.values()) {
      assertEquals(11, ModuleKind.layerOf(k.moduleName(11)).orElseThrow());
      assertEquals(k, ModuleKind.ofModule(k.moduleName(11)));
    }
    assertEquals(ModuleKind.ATTENTION_OUTPUT, ModuleKind.parse("Attention.Output"));
  }

  @Test
  void otherNamesAreRefusedWithTheName() {
    assertTrue(ModuleKind.layerOf("pooler.dense").isEmpty());
    assertTrue(ModuleKind.layerOf("bert.encoder.layer.1.attention.self.query").isEmpty());
    Lora4jException e = assertThrows(Lora4jException.class, () -> ModuleKind.ofModule("pooler.dense"));
    assertTrue(e.getMessage().contains("'pooler.dense'"), e.getMessage());
    e = assertThrows(Lora4jException.class, () -> ModuleKind.ofModule("encoder.layer.0.attention.self.gate"));
    assertTrue(e.getMessage().contains("unknown module type"), e.getMessage());
  }
}
