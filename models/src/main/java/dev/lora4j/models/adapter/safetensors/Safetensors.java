package dev.lora4j.models.adapter.safetensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.io.InputFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.SeekableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The contents of a safetensors file (the Hugging Face format: 8-byte little-endian header length,
 * JSON header, raw data buffer), with a strict reader and a writer that lays files out as the
 * reference implementation does. Immutable; tensors and metadata are kept sorted by name.
 *
 * @param tensors by name
 * @param metadata the header's {@code __metadata__} strings; empty when there are none
 */
public record Safetensors(Map<String, SafeTensor> tensors, Map<String, String> metadata) {
  /** The header key that holds metadata instead of a tensor. */
  public static final String METADATA_KEY = "__metadata__";

  /** The reference implementation's cap; a larger "header" means the file is something else. */
  static final long MAX_HEADER_BYTES = 100_000_000;

  /** Duplicate names and text after the header object are errors, not silently resolved. */
  static final JsonMapper JSON = JsonMapper.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .build();

  public Safetensors {
    if (tensors.containsKey(METADATA_KEY)) {
      throw new IllegalArgumentException(METADATA_KEY + " is reserved and cannot name a tensor");
    }
    tensors = Collections.unmodifiableMap(new TreeMap<>(tensors));
    metadata = Collections.unmodifiableMap(new TreeMap<>(metadata));
  }

  public static Safetensors of(Map<String, SafeTensor> tensors) {
    return new Safetensors(tensors, Map.of());
  }

  /** Reads and validates a file; every problem is one {@link Lora4jException} naming the file. */
  public static Safetensors read(Path file) {
    long size = InputFiles.requireRegularFile(file, "safetensors file");
    if (size > Integer.MAX_VALUE - 8) {
      throw new Lora4jException(file + ": file is " + size + " bytes; lora4j reads safetensors files below 2 GB");
    }
    return decode(InputFiles.readAll(file, InputFiles.ARRAY_LIMIT, "safetensors file"), file.toString());
  }

  /**
   * The {@code __metadata__} strings of a file, reading its header only: enough to recognise a file
   * without loading its tensors, which are not checked. Every problem is one
   * {@link Lora4jException} naming the file.
   */
  public static Map<String, String> readMetadata(Path file) {
    JsonNode header;
    try (SeekableByteChannel in = Files.newByteChannel(file)) {
      ByteBuffer length = readFully(in, 8, file);
      long n = length.order(ByteOrder.LITTLE_ENDIAN).getLong(0);
      if (n < 0 || n > MAX_HEADER_BYTES || n > in.size() - 8) {
        throw new Lora4jException(file + ": header length " + Long.toUnsignedString(n)
            + " is over the limit or past the end of the file (not a safetensors file?)");
      }
      header = JSON.readTree(readFully(in, (int) n, file).array());
    } catch (JsonProcessingException e) {
      throw new Lora4jException(file + ": header is not valid JSON: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new Lora4jException(file + ": cannot be read: " + e.getMessage(), e);
    }
    if (header == null || !header.isObject()) {
      throw new Lora4jException(file + ": header is not a JSON object");
    }
    JsonNode meta = header.get(METADATA_KEY);
    if (meta == null) {
      return Map.of();
    }
    if (!meta.isObject()) {
      throw new Lora4jException(file + ": " + METADATA_KEY + " is not a JSON object");
    }
    Map<String, String> out = new TreeMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = meta.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> f = it.next();
      if (!f.getValue().isTextual()) {
        throw new Lora4jException(file + ": " + METADATA_KEY + " value '" + f.getKey() + "' is not a string");
      }
      out.put(f.getKey(), f.getValue().textValue());
    }
    return Collections.unmodifiableMap(out);
  }

  private static ByteBuffer readFully(SeekableByteChannel in, int length, Path file) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(length);
    while (b.hasRemaining()) {
      if (in.read(b) < 0) {
        throw new Lora4jException(file + ": ends inside its header (" + b.position() + " of " + length + " bytes)");
      }
    }
    return b;
  }

  /**
   * Parses the bytes of a safetensors file.
   *
   * @param source names the file in error messages
   */
  public static Safetensors decode(byte[] bytes, String source) {
    return new SafetensorsDecoder(bytes, source).decode();
  }

  /** Writes the file atomically: readers never see a half-written one. */
  public void write(Path file) {
    AtomicFiles.write(file, this::writeTo);
  }

  public byte[] encode() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      writeTo(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /**
   * Header keys sorted; data ordered by element size (largest first), then name, so every tensor
   * starts aligned to its element size, which memory-mapping readers rely on. The header is padded
   * with spaces to a multiple of 8 bytes for the same reason.
   */
  private void writeTo(OutputStream out) throws IOException {
    List<Map.Entry<String, SafeTensor>> layout = new ArrayList<>(tensors.entrySet());
    layout.sort(Comparator.comparingInt((Map.Entry<String, SafeTensor> e) -> -e.getValue().dtype().size())
        .thenComparing(Map.Entry::getKey));

    TreeMap<String, ObjectNode> entries = new TreeMap<>();
    long offset = 0;
    for (Map.Entry<String, SafeTensor> e : layout) {
      SafeTensor t = e.getValue();
      long end = offset + t.data().remaining();
      ObjectNode entry = JsonNodeFactory.instance.objectNode();
      entry.put("dtype", t.dtype().name());
      ArrayNode shape = entry.putArray("shape");
      Arrays.stream(t.shape()).forEach(shape::add);
      entry.putArray("data_offsets").add(offset).add(end);
      entries.put(e.getKey(), entry);
      offset = end;
    }
    if (!metadata.isEmpty()) {
      ObjectNode meta = JsonNodeFactory.instance.objectNode();
      metadata.forEach(meta::put);
      entries.put(METADATA_KEY, meta);
    }
    ObjectNode header = JsonNodeFactory.instance.objectNode();
    entries.forEach(header::set);

    byte[] json = JSON.writeValueAsBytes(header);
    int padding = (8 - json.length % 8) % 8;
    ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    length.putLong(json.length + padding);
    out.write(length.array());
    out.write(json);
    out.write(" ".repeat(padding).getBytes(StandardCharsets.US_ASCII));
    WritableByteChannel channel = Channels.newChannel(out);
    for (Map.Entry<String, SafeTensor> e : layout) {
      ByteBuffer data = e.getValue().data();
      while (data.hasRemaining()) {
        channel.write(data);
      }
    }
    out.flush();
  }
}
