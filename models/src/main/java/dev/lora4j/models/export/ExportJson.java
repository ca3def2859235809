package dev.lora4j.models.export;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.io.InputFiles;
import java.io.IOException;
import java.nio.file.Path;

/** JSON of the export directory: snake_case keys, absent values left out, unknown keys ignored (newer writers). */
final class ExportJson {
  static final ObjectMapper MAPPER = new ObjectMapper()
      .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
      .setSerializationInclusion(JsonInclude.Include.NON_NULL)
      .enable(SerializationFeature.INDENT_OUTPUT)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private ExportJson() {}

  static void write(Path file, Object value) {
    try {
      AtomicFiles.write(file, MAPPER.writeValueAsBytes(value));
    } catch (IOException e) {
      throw new Lora4jException("Could not write " + file + ": " + e.getMessage(), e);
    }
  }

  static <T> T read(Path file, Class<T> type) {
    byte[] bytes = InputFiles.readAll(file, InputFiles.JSON_LIMIT, "JSON file");
    T value;
    try {
      value = MAPPER.readValue(bytes, type);
    } catch (JsonProcessingException e) {
      throw new Lora4jException(file + ": not a valid " + type.getSimpleName() + " ("
          + oneLine(e.getOriginalMessage()) + where(e) + ")", e);
    } catch (IOException e) {
      throw new Lora4jException(file + ": not a valid " + type.getSimpleName() + " (" + InputFiles.describe(e) + ")", e);
    }
    if (value == null) {
      throw new Lora4jException(file + ": not a valid " + type.getSimpleName() + " (the file holds JSON null)");
    }
    return value;
  }

  private static String where(JsonProcessingException e) {
    return e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr();
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.replaceAll("\\s*\\R\\s*", " ");
  }
}
