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
import dev.lora4j.models.io.AtomicFiles;
import java.io.IOException;
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

  private Path write(Predicate<OrtAdapterParameter> keep) throws IOException {
    OrtAdapter full = MultiAdapterParameters.of(adapter);
    Path file = dir.resolve(ExportLayout.onnxAdapter("tiny"));
    OrtAdapterFile.write(file, OrtAdapter.of(full.parameters().stream().filter(keep).toList()));
    tie(file);
    return file;
  }

  /** A sidecar tied to the file as it is now, so that what is tested is the check after the tie. */
  private void tie(Path file) throws IOException {
    AdapterSidecar.of(adapter, "tiny-bert", "ab".repeat(32), AtomicFiles.sha256(Files.readAllBytes(file)))
        .write(dir.resolve(ExportLayout.sidecar("tiny")));
  }

  @Test
  void nonFiniteWeightsInAnAdapterFileAreRefusedAtRead() throws Exception {
    Path file = write(p -> true);
    byte[] bytes = Files.readAllBytes(file);
    byte[] bias = OrtAdapterFile.fromBytes(bytes, "x").parameter(AdapterTensorNames.HEAD_BIAS).orElseThrow().rawData();
    int at = indexOf(bytes, bias);
    Arrays.fill(bytes, at, at + 4, (byte) 0xFF); // a NaN
    Files.write(file, bytes);
    tie(file);
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
