package dev.lora4j.models.base;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lora4j.models.onnx.OnnxModel;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real all-MiniLM-L6-v2 export (decomposed LayerNorm, opset 11) is understood from its graph. */
class MiniLmDescriptionTest {
  @Test
  void describesMiniLm(@TempDir Path dir) throws Exception {
    Path onnx = new BaseModelCatalog(dir).resolve(BaseModelCatalog.DEFAULT_ID).onnx();
    EncoderDescription d = EncoderDescription.of(OnnxModel.read(onnx));
    assertEquals(new EncoderSpec(6, 384, 12, 1536, 30522, 512, 2, 1e-12f, "gelu"), d.spec());
    assertEquals(36, d.modules().size());
    for (LinearModule m : d.modules()) {
      int in = m.kind() == ModuleKind.OUTPUT ? 1536 : 384;
      int out = m.kind() == ModuleKind.INTERMEDIATE ? 1536 : 384;
      assertEquals(in, m.inFeatures(), m.name());
      assertEquals(out, m.outFeatures(), m.name());
    }
    assertEquals(36 * 2 + 4 * 6 + 5, d.weights().size());
  }
}
