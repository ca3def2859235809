package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.export.ExportLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The runtime opens only files inside the export directory, and never a device. */
class ExportDirectoryBoundsTest {
  @TempDir Path tmp;

  private String refusal(Path export) {
    return assertThrows(Lora4jException.class,
        () -> AdapterRuntime.open(export, RuntimeOptions.defaults().withDevice(Device.CPU)).close()).getMessage();
  }

  @Test
  void exportJsonNamingDevZeroAsAGraphIsRefusedNotReadUntilMemoryRunsOut() throws Exception {
    Path export = TestExports.tinyExport(tmp);
    Path manifest = export.resolve(ExportLayout.MANIFEST);
    ObjectMapper om = new ObjectMapper();
    ObjectNode json = (ObjectNode) om.readTree(manifest.toFile());
    json.put("multi_graph", "/dev/zero");
    om.writeValue(manifest.toFile(), json);
    assertEquals(manifest + ": multi_graph '/dev/zero' must be a file name inside the export directory",
        refusal(export));
  }

  @Test
  void aGraphReplacedByALinkToADeviceIsRefused() throws Exception {
    Path export = TestExports.tinyExport(tmp);
    Files.delete(export.resolve(ExportLayout.MULTI_GRAPH));
    Files.createSymbolicLink(export.resolve(ExportLayout.MULTI_GRAPH), Path.of("/dev/zero"));
    assertEquals(export.resolve(ExportLayout.MANIFEST) + ": multi_graph 'base.multi.onnx' leads outside the export"
        + " directory (to /dev/zero)", refusal(export));
  }
}
