package dev.lora4j.models.adapter;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.InputFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Typed, checked access to one object of a JSON config file. Every failure is one message
 * "{@code <file>: <field path> <problem>}", so a user can find the offending line. JSON null counts
 * as absent, because PEFT writes {@code null} for every option left at its default.
 *
 * @param path dotted path of this object inside the file, empty for the root
 */
record JsonFields(ObjectNode node, String source, String path) {
  /** Duplicate keys are errors: which of two values PEFT or lora4j would use is not obvious. */
  static final JsonMapper MAPPER = JsonMapper.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .build();

  private static final TypeReference<LinkedHashMap<String, Object>> PLAIN_MAP = new TypeReference<>() {};

  /** Reads a JSON file whose root must be an object. */
  static JsonFields read(Path file) {
    String source = file.toString();
    JsonNode root;
    try {
      root = MAPPER.readTree(InputFiles.readAll(file, InputFiles.JSON_LIMIT, "JSON file"));
    } catch (JsonProcessingException e) {
      String where = e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")";
      throw new Lora4jException(source + ": invalid JSON: " + String.valueOf(e.getOriginalMessage()).replaceAll("\\s*\\R\\s*", " ")
          + where);
    } catch (IOException e) {
      throw new Lora4jException(source + ": cannot be read: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new Lora4jException(source + ": not a JSON object");
    }
    return new JsonFields((ObjectNode) root, source, "");
  }

  Lora4jException fail(String problem) {
    return new Lora4jException(source + ": " + problem);
  }

  /** How a field is named in messages: its dotted path from the root. */
  String name(String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  /** The value, or null when the field is missing or JSON null. */
  JsonNode get(String key) {
    JsonNode v = node.get(key);
    return v == null || v.isNull() ? null : v;
  }

  boolean has(String key) {
    return get(key) != null;
  }

  String string(String key, String fallback) {
    JsonNode v = get(key);
    if (v == null) {
      return fallback;
    }
    if (!v.isTextual()) {
      throw fail(name(key) + " must be a string, not " + v);
    }
    return v.textValue();
  }

  String requireString(String key) {
    require(key);
    return string(key, null);
  }

  boolean bool(String key, boolean fallback) {
    JsonNode v = get(key);
    if (v == null) {
      return fallback;
    }
    if (!v.isBoolean()) {
      throw fail(name(key) + " must be true or false, not " + v);
    }
    return v.booleanValue();
  }

  int positiveInt(String key, int fallback) {
    JsonNode v = get(key);
    if (v == null) {
      return fallback;
    }
    if (!v.canConvertToExactIntegral() || !v.canConvertToInt() || v.intValue() <= 0) {
      throw fail(name(key) + " must be a positive integer, not " + v);
    }
    return v.intValue();
  }

  long requireLong(String key) {
    JsonNode v = require(key);
    if (!v.isIntegralNumber() || !v.canConvertToLong()) {
      throw fail(name(key) + " must be an integer, not " + v);
    }
    return v.longValue();
  }

  double number(String key, double fallback) {
    JsonNode v = get(key);
    if (v == null) {
      return fallback;
    }
    if (!v.isNumber()) {
      throw fail(name(key) + " must be a number, not " + v);
    }
    return v.doubleValue();
  }

  /** A nested object, or null when absent. */
  JsonFields object(String key) {
    JsonNode v = get(key);
    if (v == null) {
      return null;
    }
    if (!v.isObject()) {
      throw fail(name(key) + " must be a JSON object, not " + v);
    }
    return new JsonFields((ObjectNode) v, source, name(key));
  }

  JsonFields requireObject(String key) {
    require(key);
    return object(key);
  }

  /** An array of strings; empty when absent. */
  List<String> strings(String key) {
    JsonNode v = get(key);
    List<String> out = new ArrayList<>();
    if (v == null) {
      return out;
    }
    if (!v.isArray()) {
      throw fail(name(key) + " must be an array of strings, not " + v);
    }
    for (JsonNode item : v) {
      if (!item.isTextual()) {
        throw fail(name(key) + " must be an array of strings, but holds " + item);
      }
      out.add(item.textValue());
    }
    return out;
  }

  /**
   * An object of free-form values as plain Java (String, Integer / Long, Double, Boolean, List,
   * Map), in file order; empty when absent.
   */
  Map<String, Object> plainMap(String key) {
    JsonFields o = object(key);
    return o == null ? new LinkedHashMap<>() : o.toPlainMap();
  }

  Map<String, Object> toPlainMap() {
    return MAPPER.convertValue(node, PLAIN_MAP);
  }

  /** The keys of this object in file order, each with its value. */
  Iterator<Map.Entry<String, JsonNode>> fields() {
    return node.fields();
  }

  /** Refuses fields this version does not know, so nothing written by a newer one is dropped. */
  void rejectUnknown(Set<String> known) {
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!known.contains(k)) {
        throw fail(name(k) + " is not a field lora4j knows (known: "
            + String.join(", ", known.stream().sorted().toList()) + ")");
      }
    }
  }

  private JsonNode require(String key) {
    JsonNode v = get(key);
    if (v == null) {
      throw fail(name(key) + " is missing");
    }
    return v;
  }
}
