package dev.lora4j.models.adapter.ortformat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.onnxruntime.OrtLoraAdapter;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.tensor.FloatTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OrtAdapterFileTest {
  static OrtAdapter sample() {
    float[] a = new float[7 * 3];
    for (int i = 0; i < a.length; i++) {
      a[i] = i * 0.5f - 3;
    }
    return new OrtAdapter(3, 4, List.of(
        // an odd-sized first tensor, so the second one's data needs alignment padding
        OrtAdapterParameter.floats("x", new FloatTensor(new long[] {1, 1}, new float[] {42f})),
        OrtAdapterParameter.floats("m.lora_A", new FloatTensor(new long[] {7, 3}, a)),
        OrtAdapterParameter.floats("m.lora_B", new FloatTensor(new long[] {0, 5}, new float[0])),
        OrtAdapterParameter.int64s("head.cls_pooling", new long[] {1}, 1)));
  }

  @Test
  void roundTripsAndOnnxRuntimeLoadsIt(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("a.onnx_adapter");
    OrtAdapterFile.write(file, sample());
    assertEquals(sample(), OrtAdapterFile.read(file));
    try (OrtLoraAdapter loaded = OrtLoraAdapter.create(file.toAbsolutePath().toString())) {
      loaded.getClass(); // ONNX Runtime verifies identifier, schema and format version on create
    }
  }

  @Test
  void headerAndAlignmentAreWhatOnnxRuntimeChecks() {
    byte[] bytes = OrtAdapterFile.toBytes(sample());
    assertEquals("TORT", new String(bytes, 4, 4, java.nio.charset.StandardCharsets.US_ASCII));
    // every raw_data vector starts 8-aligned: ONNX Runtime uses the bytes in place as the tensor
    byte[] needle = new byte[4];
    ByteBuffer.wrap(needle).order(ByteOrder.LITTLE_ENDIAN).putFloat(-3f);
    int at = indexOf(bytes, needle);
    assertEquals(0, at % 8, "A's first float at " + at);
    assertEquals(7 * 3 * 4, ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getInt(at - 4), "vector length prefix");
  }

  @Test
  void refusesWhatIsNotAnAdapter(@TempDir Path dir) throws Exception {
    Path junk = dir.resolve("junk.onnx_adapter");
    Files.write(junk, "definitely not flatbuffers".getBytes());
    Lora4jException e = assertThrows(Lora4jException.class, () -> OrtAdapterFile.read(junk));
    assertEquals(junk + ": not an ONNX Runtime adapter file (no 'TORT' identifier)", e.getMessage());

    byte[] bytes = OrtAdapterFile.toBytes(sample());
    Path cut = dir.resolve("cut.onnx_adapter");
    Files.write(cut, Arrays.copyOf(bytes, bytes.length / 2));
    Lora4jException e2 = assertThrows(Lora4jException.class, () -> OrtAdapterFile.read(cut));
    assertEquals(true, e2.getMessage().startsWith(cut + ": corrupt ONNX Runtime adapter file"), e2.getMessage());
  }

  @Test
  void parametersConvertBack() {
    OrtAdapter s = sample();
    assertArrayEquals(new long[] {1}, s.parameter("head.cls_pooling").orElseThrow().asLongs());
    assertEquals(-3f, s.parameter("m.lora_A").orElseThrow().asFloats().data()[0]);
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i <= hay.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
