package dev.lora4j.models.adapter;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The one base-hash comparison that export, serve, eval and combine share (AdapterFit, AdapterCombiner). */
class BaseModelRefTest {
  private static final String SHA = "0123456789abcdef".repeat(4);

  @Test
  void aHashInAnotherCaseIsTheSameBase() {
    assertFalse(new BaseModelRef("a", SHA.toUpperCase(java.util.Locale.ROOT)).differsFrom(new BaseModelRef("b", SHA)));
  }

  @Test
  void noRecordedHashCannotDiffer() {
    assertFalse(new BaseModelRef("peft", "").differsFrom(new BaseModelRef("b", SHA)));
    assertFalse(new BaseModelRef("peft", "  ").differsFrom(new BaseModelRef("b", SHA)));
    assertFalse(new BaseModelRef("b", SHA).differsFrom(new BaseModelRef("peft", null)));
  }

  @Test
  void differentHashesDiffer() {
    assertTrue(new BaseModelRef("a", "ab".repeat(32)).differsFrom(new BaseModelRef("a", SHA)));
  }
}
