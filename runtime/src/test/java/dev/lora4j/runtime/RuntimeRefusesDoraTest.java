package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.export.AdapterFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runtime serves adapters as low-rank inputs of shared graphs, which cannot apply DoRA's
 * magnitudes; loading a DoRA adapter must fail naming it, not serve plain LoRA in its place.
 */
class RuntimeRefusesDoraTest {
  @Test
  void loadingADoraAdapterIsRefusedNamingItAndTheMergedExport(@TempDir Path tmp) throws Exception {
    Path export = TestExports.tinyExport(tmp);
    Adapter alpha = AdapterFiles.read(export.resolve("alpha.onnx_adapter"));
    List<LowRankModule> dora = new ArrayList<>();
    for (LowRankModule m : alpha.modules().values()) {
      float[] magnitude = new float[m.outFeatures()];
      Arrays.fill(magnitude, 0.5f);
      dora.add(new LowRankModule(m.module(), m.a(), m.b(), m.scaling(), null, null, magnitude));
    }
    Path dir = tmp.resolve("dora");
    PeftAdapters.write(new Adapter("dora", alpha.base(), Adapter.byName(dora), alpha.head(), alpha.provenance()), dir);

    try (AdapterRuntime rt = AdapterRuntime.open(export, RuntimeOptions.defaults().withDevice(Device.CPU))) {
      String message = assertThrows(Lora4jException.class, () -> rt.load("dora", dir)).getMessage();
      assertEquals("adapter 'dora' is a DoRA adapter (use_dora: a magnitude vector per module), which the runtime"
          + " (loading " + dir.toAbsolutePath() + "; it serves adapters through the multi-adapter and mixed-batch"
          + " graphs) cannot apply; export it as a merged or factored graph (--format merged / factored), which apply"
          + " the magnitudes", message);
      assertFalse(rt.adapters().stream().anyMatch(i -> i.name().equals("dora")), "the refused adapter is listed");
    }
  }
}
