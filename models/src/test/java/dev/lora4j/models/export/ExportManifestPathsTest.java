package dev.lora4j.models.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lora4j.models.Lora4jException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** export.json may only name files inside its directory: no traversal, no devices, no links out. */
class ExportManifestPathsTest {
  @TempDir Path dir;

  private Path manifest(String multiGraph) {
    new ExportManifest(1, "t", "c", new ExportManifest.Base("b", "ab".repeat(32), 2, 32, 17, 64), null, multiGraph,
        null, null, List.of()).write(dir.resolve(ExportLayout.MANIFEST));
    return dir.resolve(ExportLayout.MANIFEST);
  }

  private String refusal(String multiGraph) {
    Path m = manifest(multiGraph);
    return assertThrows(Lora4jException.class, () -> ExportManifest.read(dir)).getMessage()
        .replace(m.toString(), "export.json");
  }

  @Test
  void exportJsonNamingDevZeroOrAPathOutsideIsRefused() {
    assertEquals("export.json: multi_graph '/dev/zero' must be a file name inside the export directory",
        refusal("/dev/zero"));
    assertEquals("export.json: multi_graph '../base.onnx' must be a file name inside the export directory",
        refusal("../base.onnx"));
    assertEquals("export.json: multi_graph '..' must be a file name inside the export directory", refusal(".."));
  }

  @Test
  void exportJsonListingALinkOutOfTheDirectoryIsRefused() throws Exception {
    Files.createSymbolicLink(dir.resolve("base.multi.onnx"), Path.of("/dev/zero"));
    assertEquals("export.json: multi_graph 'base.multi.onnx' leads outside the export directory (to /dev/zero)",
        refusal("base.multi.onnx"));
  }

  @Test
  void exportJsonListingADirectoryAsAGraphIsRefused() throws Exception {
    Files.createDirectories(dir.resolve("base.multi.onnx"));
    assertEquals(dir.resolve("base.multi.onnx") + ": is a directory, expected a file listed in export.json",
        refusal("base.multi.onnx"));
  }
}
