package dev.lora4j.models.adapter.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.tensor.Matrix;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
  @TempDir Path tmp;

  @Test
  void readsTheMetadataFromTheHeaderAlone() throws IOException {
    Path file = tmp.resolve("m.safetensors");
    new Safetensors(Map.of("w", SafeTensor.f32(new long[] {2}, 1f, 2f)), Map.of("format", "pt", "note", "{\"a\":1}"))
        .write(file);
    // cut the data buffer off: the header is all readMetadata needs
    byte[] bytes = Files.readAllBytes(file);
    Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length - 8));
    assertEquals(Map.of("format", "pt", "note", "{\"a\":1}"), Safetensors.readMetadata(file));
  }

  @Test
  void readingTheMetadataOfSomethingElseFailsNamingTheFile() throws IOException {
    Path file = tmp.resolve("not.safetensors");
    Files.write(file, new byte[] {1, 2, 3});
    Lora4jException e = assertThrows(Lora4jException.class, () -> Safetensors.readMetadata(file));
    assertEquals(file + ": ends inside its header (3 of 8 bytes)", e.getMessage());
    Files.write(file, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array());
    e = assertThrows(Lora4jException.class, () -> Safetensors.readMetadata(file));
    assertEquals(file + ": header length 1099511627776 is over the limit or past the end of the file (not a"
        + " safetensors file?)", e.getMessage());
  }

  @Test
  void writesByteForByteWhatTheReferenceImplementationWrites() {
    // safetensors 0.8.0: save({"b": f32 [1.5, -2], "a": i64 [[7]], "c": f32 zeros(0, 3)}, metadata={"format": "pt"})
    String header = "{\"__metadata__\":{\"format\":\"pt\"},"
        + "\"a\":{\"dtype\":\"I64\",\"shape\":[1,1],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
        + "\"c\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[16,16]}}  ";
    byte[] expected = file(header, HexFormat.of().parseHex("07000000000000000000c03f000000c0"));

    Map<String, SafeTensor> tensors = new LinkedHashMap<>();
    tensors.put("b", SafeTensor.f32(new long[] {2}, 1.5f, -2f));
    tensors.put("a", SafeTensor.i64(new long[] {1, 1}, 7));
    tensors.put("c", SafeTensor.f32(new long[] {0, 3}));
    assertArrayEquals(expected, new Safetensors(tensors, Map.of("format", "pt")).encode());
  }

  @Test
  void roundTripsFloatsLongsAndMetadataThroughAFile() throws IOException {
    Map<String, SafeTensor> tensors = new LinkedHashMap<>();
    tensors.put("w", SafeTensor.of(new Matrix(2, 3, new float[] {1, -2, 3.25f, Float.MIN_VALUE, 0, -0f})));
    tensors.put("v", SafeTensor.vector(new float[] {7}));
    tensors.put("scalar", SafeTensor.f32(new long[] {}, 42f));
    tensors.put("ids", SafeTensor.i64(new long[] {3}, Long.MIN_VALUE, 0, Long.MAX_VALUE));
    tensors.put("empty", SafeTensor.f32(new long[] {4, 0}));
    Safetensors original = new Safetensors(tensors, Map.of("format", "pt", "note", "ünïcode"));

    Path file = tmp.resolve("t.safetensors");
    original.write(file);
    Safetensors read = Safetensors.read(file);

    assertEquals(original, read);
    assertEquals(new Matrix(2, 3, new float[] {1, -2, 3.25f, Float.MIN_VALUE, 0, -0f}),
        read.tensors().get("w").toMatrix());
    assertArrayEquals(new long[] {Long.MIN_VALUE, 0, Long.MAX_VALUE}, read.tensors().get("ids").toLongs());
    assertEquals(0, (Files.size(file) - 8 - read.tensors().values().stream()
        .mapToLong(t -> t.data().remaining()).sum()) % 8, "header padded to a multiple of 8");
  }

  @Test
  void readsHalfBfloatAndDoubleAsFloat() {
    ByteBuffer data = ByteBuffer.allocate(5 * 2 + 3 * 2 + 2 * 8).order(ByteOrder.LITTLE_ENDIAN);
    for (int h : new int[] {0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001}) {
      data.putShort((short) h); // 1, -2, 0.5, 65504 (largest half), 2^-24 (smallest subnormal)
    }
    for (int b : new int[] {0x3F80, 0xC020, 0x7F80}) {
      data.putShort((short) b); // 1, -2.5, +inf
    }
    data.putDouble(0.1).putDouble(-1e300);
    String header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[5],\"data_offsets\":[0,10]},"
        + "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[10,16]},"
        + "\"d\":{\"dtype\":\"F64\",\"shape\":[1,2],\"data_offsets\":[16,32]}}";

    Safetensors s = Safetensors.decode(file(header, data.array()), "x");

    assertArrayEquals(new float[] {1, -2, 0.5f, 65504, 0x1p-24f}, s.tensors().get("h").toFloats());
    assertArrayEquals(new float[] {1, -2.5f, Float.POSITIVE_INFINITY}, s.tensors().get("b").toFloats());
    assertArrayEquals(new float[] {0.1f, Float.NEGATIVE_INFINITY}, s.tensors().get("d").toFloats());
    assertEquals(DType.BF16, s.tensors().get("b").dtype());
  }

  @Test
  void refusesAFileShorterThanTheHeaderLength() {
    assertFails(new byte[] {1, 2, 3}, "file is 3 bytes, too short for the 8-byte header length");
  }

  @Test
  void refusesAnAbsurdHeaderLength() {
    byte[] bytes = new byte[16];
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(200_000_000L);
    assertFails(bytes, "header length 200000000 is over the 100000000-byte limit (not a safetensors file?)");
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(-1L);
    assertFails(bytes, "header length 18446744073709551615 is over the 100000000-byte limit (not a safetensors file?)");
  }

  @Test
  void refusesAHeaderLongerThanTheFile() {
    byte[] bytes = new byte[20];
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(13);
    assertFails(bytes, "header length 13 runs past the end of the file (20 bytes)");
  }

  @Test
  void refusesAHeaderThatIsNotJson() {
    // Jackson words the detail; what matters here is the file, the problem, and one line.
    assertFailsWith(file("{\"a\": ", new byte[0]), "header is not valid JSON: Unexpected end-of-input");
    assertFailsWith(file("{} {}", new byte[0]), "header is not valid JSON: Trailing token");
    byte[] notUtf8 = {'{', '"', (byte) 0xff, '"', ':', '1', '}'};
    assertFailsWith(file(notUtf8, new byte[0]), "header is not valid JSON: Invalid UTF-8");
  }

  @Test
  void refusesAHeaderThatIsNotAnObject() {
    assertFails(file("[1, 2]", new byte[0]), "header is not a JSON object");
    assertFails(file("", new byte[0]), "header is not a JSON object");
  }

  @Test
  void refusesDuplicateTensorNames() {
    String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    assertFailsWith(file(header, new byte[8]), "header is not valid JSON: Duplicate field 'a'");
  }

  @Test
  void refusesUnknownDtypes() {
    assertFails(file(entry("I32", "[1]", "[0,4]"), new byte[4]),
        "tensor 't' has dtype 'I32', which lora4j does not read (it reads F64, F32, F16, BF16, I64)");
    assertFails(file("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]), "tensor 't' has no dtype string");
  }

  @Test
  void refusesNegativeAndMalformedShapes() {
    assertFails(file(entry("F32", "[2,-1]", "[0,0]"), new byte[0]),
        "tensor 't' has a negative dimension in shape [2, -1]");
    assertFails(file(entry("F32", "[2.5]", "[0,4]"), new byte[4]), "tensor 't' has no shape array of integers");
    assertFails(file(entry("F32", "[4294967296,4294967296]", "[0,4]"), new byte[4]),
        "tensor 't' has shape [4294967296, 4294967296], too large to exist");
  }

  @Test
  void refusesAShapeThatDoesNotMatchItsBytes() {
    assertFails(file(entry("F32", "[2,3]", "[0,20]"), new byte[20]),
        "tensor 't' of dtype F32 and shape [2, 3] needs 24 bytes but its data_offsets [0, 20] hold 20");
  }

  @Test
  void refusesOffsetsOutOfRange() {
    assertFails(file(entry("F32", "[2]", "[0,8]"), new byte[4]),
        "tensor 't' has data_offsets [0, 8] past the end of the 4-byte data buffer");
    assertFails(file(entry("F32", "[1]", "[8,4]"), new byte[8]),
        "tensor 't' has data_offsets [8, 4], not a range 0 <= begin <= end");
    assertFails(file(entry("F32", "[1]", "[0]"), new byte[4]),
        "tensor 't' has no data_offsets pair of integers [begin, end]");
  }

  @Test
  void refusesOverlappingTensors() {
    String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
    assertFails(file(header, new byte[12]), "tensors 'a' and 'b' overlap in the data buffer");
  }

  @Test
  void refusesGapsAndBytesNoTensorOwns() {
    String gap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
    assertFails(file(gap, new byte[12]), "bytes 4..8 of the data buffer belong to no tensor");
    assertFails(file(entry("F32", "[1]", "[0,4]"), new byte[6]),
        "bytes 4..6 at the end of the data buffer belong to no tensor");
  }

  @Test
  void refusesMetadataThatIsNotStrings() {
    assertFails(file("{\"__metadata__\":{\"n\":1}}", new byte[0]), "__metadata__ value 'n' is not a string");
  }

  @Test
  void namesAMissingFile() {
    Path missing = tmp.resolve("nope.safetensors");
    Lora4jException e = assertThrows(Lora4jException.class, () -> Safetensors.read(missing));
    assertEquals(missing + ": no such file", e.getMessage());
  }

  private static String entry(String dtype, String shape, String offsets) {
    return "{\"t\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}}";
  }

  /** A safetensors file from a header written by hand, unpadded as some writers leave it. */
  static byte[] file(String header, byte[] data) {
    return file(header.getBytes(StandardCharsets.UTF_8), data);
  }

  static byte[] file(byte[] json, byte[] data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length).array());
    out.writeBytes(json);
    out.writeBytes(data);
    return out.toByteArray();
  }

  /** Reads the bytes from a real file, so the message must name that file. */
  private void assertFails(byte[] bytes, String problem) {
    assertEquals(bad().toString() + ": " + problem, failure(bytes));
  }

  private void assertFailsWith(byte[] bytes, String problemStart) {
    String message = failure(bytes);
    assertTrue(message.startsWith(bad() + ": " + problemStart), message);
    assertFalse(message.contains("\n"), message);
  }

  private String failure(byte[] bytes) {
    try {
      Files.write(bad(), bytes);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
    return assertThrows(Lora4jException.class, () -> Safetensors.read(bad())).getMessage();
  }

  private Path bad() {
    return tmp.resolve("bad.safetensors");
  }
}
