package dev.lora4j.models.adapter.safetensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.models.Lora4jException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses one safetensors file, checking everything the format promises: a sane header length, a
 * JSON object header, known element types, shapes that match their byte ranges, and byte ranges
 * that tile the data buffer exactly (no overlap, no gap, nothing left over) as the specification
 * requires. Each failure is one message "{@code <file>: <problem>}".
 */
final class SafetensorsDecoder {
  /** One header entry, validated on its own; coverage is checked across all of them. */
  private record Entry(String name, DType dtype, long[] shape, long begin, long end) {}

  private final byte[] bytes;
  private final String source;

  SafetensorsDecoder(byte[] bytes, String source) {
    this.bytes = bytes;
    this.source = source;
  }

  Safetensors decode() {
    if (bytes.length < 8) {
      throw fail("file is " + bytes.length + " bytes, too short for the 8-byte header length");
    }
    long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    // Read as unsigned: a negative long is a length above 2^63.
    if (headerLength < 0 || headerLength > Safetensors.MAX_HEADER_BYTES) {
      throw fail("header length " + Long.toUnsignedString(headerLength) + " is over the "
          + Safetensors.MAX_HEADER_BYTES + "-byte limit (not a safetensors file?)");
    }
    if (headerLength > bytes.length - 8) {
      throw fail("header length " + headerLength + " runs past the end of the file (" + bytes.length
          + " bytes)");
    }
    int bufferStart = 8 + (int) headerLength;
    long bufferLength = bytes.length - bufferStart;

    JsonNode header = parseHeader((int) headerLength);
    Map<String, String> metadata = Map.of();
    List<Entry> entries = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> field = it.next();
      if (field.getKey().equals(Safetensors.METADATA_KEY)) {
        metadata = metadata(field.getValue());
      } else {
        entries.add(entry(field.getKey(), field.getValue(), bufferLength));
      }
    }
    checkCoverage(entries, bufferLength);

    Map<String, SafeTensor> tensors = new LinkedHashMap<>();
    for (Entry e : entries) {
      ByteBuffer slice = ByteBuffer.wrap(bytes, bufferStart + (int) e.begin, (int) (e.end - e.begin));
      tensors.put(e.name, new SafeTensor(e.dtype, e.shape, slice));
    }
    return new Safetensors(tensors, metadata);
  }

  private JsonNode parseHeader(int length) {
    JsonNode header;
    try {
      header = Safetensors.JSON.readTree(bytes, 8, length);
    } catch (JsonProcessingException e) {
      throw fail("header is not valid JSON: " + oneLine(e.getOriginalMessage()));
    } catch (IOException e) {
      throw fail("header is not valid JSON: " + oneLine(e.getMessage()));
    }
    if (header == null || !header.isObject()) {
      throw fail("header is not a JSON object");
    }
    return header;
  }

  private Map<String, String> metadata(JsonNode node) {
    if (!node.isObject()) {
      throw fail(Safetensors.METADATA_KEY + " is not a JSON object");
    }
    Map<String, String> out = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> f = it.next();
      if (!f.getValue().isTextual()) {
        throw fail(Safetensors.METADATA_KEY + " value '" + f.getKey() + "' is not a string");
      }
      out.put(f.getKey(), f.getValue().textValue());
    }
    return out;
  }

  private Entry entry(String name, JsonNode node, long bufferLength) {
    String what = "tensor '" + name + "'";
    if (!node.isObject()) {
      throw fail(what + " is not described by a JSON object");
    }
    JsonNode dtypeNode = node.get("dtype");
    if (dtypeNode == null || !dtypeNode.isTextual()) {
      throw fail(what + " has no dtype string");
    }
    DType dtype = DType.parse(dtypeNode.textValue());
    if (dtype == null) {
      throw fail(what + " has dtype '" + dtypeNode.textValue() + "', which lora4j does not read (it reads "
          + DType.supported() + ")");
    }
    long[] shape = longs(node.get("shape"));
    if (shape == null) {
      throw fail(what + " has no shape array of integers");
    }
    long needed;
    try {
      needed = Math.multiplyExact(SafeTensor.elementCount(shape), (long) dtype.size());
    } catch (IllegalArgumentException e) {
      throw fail(what + " has a negative dimension in shape " + Arrays.toString(shape));
    } catch (ArithmeticException e) {
      throw fail(what + " has shape " + Arrays.toString(shape) + ", too large to exist");
    }
    long[] offsets = longs(node.get("data_offsets"));
    if (offsets == null || offsets.length != 2) {
      throw fail(what + " has no data_offsets pair of integers [begin, end]");
    }
    long begin = offsets[0];
    long end = offsets[1];
    if (begin < 0 || begin > end) {
      throw fail(what + " has data_offsets " + Arrays.toString(offsets) + ", not a range 0 <= begin <= end");
    }
    if (end > bufferLength) {
      throw fail(what + " has data_offsets " + Arrays.toString(offsets) + " past the end of the "
          + bufferLength + "-byte data buffer");
    }
    if (needed != end - begin) {
      throw fail(what + " of dtype " + dtype + " and shape " + Arrays.toString(shape) + " needs " + needed
          + " bytes but its data_offsets " + Arrays.toString(offsets) + " hold " + (end - begin));
    }
    return new Entry(name, dtype, shape, begin, end);
  }

  /** The byte ranges, sorted, must follow one another exactly from 0 to the end of the buffer. */
  private void checkCoverage(List<Entry> entries, long bufferLength) {
    List<Entry> sorted = new ArrayList<>(entries);
    sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
    long covered = 0;
    Entry previous = null;
    for (Entry e : sorted) {
      if (e.begin < covered) {
        throw fail("tensors '" + previous.name + "' and '" + e.name + "' overlap in the data buffer");
      }
      if (e.begin > covered) {
        throw fail("bytes " + covered + ".." + e.begin + " of the data buffer belong to no tensor");
      }
      covered = e.end;
      previous = e;
    }
    if (covered != bufferLength) {
      throw fail("bytes " + covered + ".." + bufferLength + " at the end of the data buffer belong to no tensor");
    }
  }

  /** A JSON array of integers that fit a long, or null when it is anything else. */
  private static long[] longs(JsonNode node) {
    if (node == null || !node.isArray()) {
      return null;
    }
    long[] out = new long[node.size()];
    for (int i = 0; i < out.length; i++) {
      JsonNode v = node.get(i);
      if (!v.isIntegralNumber() || !v.canConvertToLong()) {
        return null;
      }
      out[i] = v.longValue();
    }
    return out;
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.replaceAll("\\s*\\R\\s*", " ");
  }

  private Lora4jException fail(String problem) {
    return new Lora4jException(source + ": " + problem);
  }
}
