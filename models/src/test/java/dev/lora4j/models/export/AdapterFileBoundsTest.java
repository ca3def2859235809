package dev.lora4j.models.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.ortformat.MultiAdapterParameters;
import dev.lora4j.models.adapter.ortformat.OrtAdapter;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.adapter.ortformat.OrtAdapterParameter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** .onnx_adapter files (with their sidecar) that are damaged, incomplete or non-finite. */
class AdapterFileBoundsTest {
  @TempDir Path dir;

  private final Adapter adapter = OrtAdapterCorpusTest.adapter().compact();

  @Test
  void truncatedAdapterFilesAreRefusedWithAMessageNeverNull() {
    byte[] bytes = OrtAdapterFile.toBytes(MultiAdapterParameters.of(adapter));
    OrtAdapter whole = OrtAdapterFile.fromBytes(bytes, "a.onnx_adapter");
    int refused = 0;
    for (int n = 0; n < bytes.length; n++) {
      byte[] cut = Arrays.copyOf(bytes, n);
      try {
        // Only trailing alignment padding may go without changing what is read.
        assertEquals(whole, OrtAdapterFile.fromBytes(cut, "a.onnx_adapter"), "truncated to " + n);
      } catch (Lora4jException e) {
        refused++;
        assertTrue(e.getMessage().startsWith("a.onnx_adapter: "), e.getMessage());
        assertFalse(e.getMessage().contains("null"), e.getMessage());
      }
    }
    assertTrue(refused >= bytes.length - 8, refused + " of " + bytes.length + " truncations refused");
  }

  private Path write(Predicate<OrtAdapterParameter> keep) {
    OrtAdapter full = MultiAdapterParameters.of(adapter);
    Path file = dir.resolve(ExportLayout.onnxAdapter("tiny"));
    OrtAdapterFile.write(file, OrtAdapter.of(full.parameters().stream().filter(keep).toList()));
    AdapterSidecar.of(adapter, "tiny-bert", "ab".repeat(32)).write(dir.resolve(ExportLayout.sidecar("tiny")));
    return file;
  }

  @Test
  void anAdapterFileWithoutHeadBiasIsRefusedWithItsName() {
    Path file = write(p -> !p.name().equals(AdapterTensorNames.HEAD_BIAS));
    Lora4jException e = assertThrows(Lora4jException.class, () -> AdapterFiles.read(file));
    assertEquals(file + ": adapter 'tiny': the adapter file has " + AdapterTensorNames.HEAD_WEIGHT + " but no "
        + AdapterTensorNames.HEAD_BIAS, e.getMessage());
  }

  @Test
  void anAdapterFileMissingAModuleItsSidecarNamesIsRefused() {
    String dropped = adapter.modules().keySet().iterator().next();
    Path file = write(p -> !p.name().startsWith(dropped));
    Lora4jException e = assertThrows(Lora4jException.class, () -> AdapterFiles.read(file));
    assertTrue(e.getMessage().startsWith(file + ": adapter 'tiny': the adapter file holds modules ["), e.getMessage());
    assertTrue(e.getMessage().contains("but its sidecar names"), e.getMessage());
  }

  @Test
  void nonFiniteWeightsInAnAdapterFileAreRefusedAtRead() throws Exception {
    Path file = write(p -> true);
    byte[] bytes = Files.readAllBytes(file);
    byte[] bias = OrtAdapterFile.fromBytes(bytes, "x").parameter(AdapterTensorNames.HEAD_BIAS).orElseThrow().rawData();
    int at = indexOf(bytes, bias);
    Arrays.fill(bytes, at, at + 4, (byte) 0xFF); // a NaN
    Files.write(file, bytes);
    Lora4jException e = assertThrows(Lora4jException.class, () -> AdapterFiles.read(file));
    assertEquals(file + ": the classifier bias contains NaN or infinite values", e.getMessage());
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    for (int i = 0; i + needle.length <= hay.length; i++) {
      if (Arrays.equals(hay, i, i + needle.length, needle, 0, needle.length)) {
        return i;
      }
    }
    throw new AssertionError("not found");
  }
}
