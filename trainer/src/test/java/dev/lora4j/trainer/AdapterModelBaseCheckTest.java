package dev.lora4j.trainer;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterFit;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.MixedBatchStacks;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.testing.SyntheticAdapters;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code lora4j eval} (AdapterModel) checks the base model with the exporter's and the runtime's
 * check (AdapterFit). It used to compare the hashes itself, strictly: it refused a PEFT import, which
 * records no base hash, and a hash written in upper case, both of which export and serve accept.
 */
class AdapterModelBaseCheckTest {
  @TempDir static Path dir;
  static TinyTask task;

  @BeforeAll
  static void data() throws Exception {
    task = TinyTask.open(dir, 8, 8);
  }

  private static Adapter adapterFor(BaseModelRef ref) {
    String module = task.base().description().modules().get(0).name();
    return SyntheticAdapters.classifier(task.base().description(), ref, "a", Map.of(module, 2), 2,
        TaskHead.Pooling.MEAN, 7);
  }

  @Test
  void evalAcceptsAPeftImportThatRecordsNoBaseHash() {
    Adapter peft = adapterFor(new BaseModelRef("someone/else-named-it", ""));
    try (AdapterModel m = assertDoesNotThrow(() -> AdapterModel.load(peft, task.base(), DeviceChoice.CPU))) {
      assertEquals(1, m.logits(List.of("a good film")).length);
    }
  }

  @Test
  void evalAcceptsABaseHashRecordedInUpperCase() {
    BaseModelRef ref = task.base().ref();
    Adapter upper = adapterFor(new BaseModelRef(ref.id(), ref.onnxSha256().toUpperCase(java.util.Locale.ROOT)));
    assertDoesNotThrow(() -> AdapterModel.load(upper, task.base(), DeviceChoice.CPU).close());
  }

  @Test
  void evalRefusesAnotherBaseInTheWordsTheRuntimeUses() {
    Adapter other = adapterFor(new BaseModelRef("other-base", "ab".repeat(32)));
    Lora4jException eval = assertThrows(Lora4jException.class,
        () -> AdapterModel.load(other, task.base(), DeviceChoice.CPU));
    Map<String, MixedBatchStacks.ModuleShape> modules = new LinkedHashMap<>();
    for (LinearModule lm : task.base().description().modules()) {
      modules.put(lm.name(), new MixedBatchStacks.ModuleShape(lm.name(), lm.inFeatures(), lm.outFeatures()));
    }
    BaseModelRef ref = task.base().ref();
    Lora4jException runtime = assertThrows(Lora4jException.class, () -> AdapterFit.require(other, "adapter 'a'",
        new AdapterFit.Base(ref.id(), ref.onnxSha256(), task.base().description().spec().hidden(), modules)));
    assertEquals(runtime.getMessage(), eval.getMessage());
  }
}
