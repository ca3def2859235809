package dev.lora4j.models.export;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
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
    try {
      return MAPPER.readValue(Files.readAllBytes(file), type);
    } catch (NoSuchFileException e) {
      throw new Lora4jException(file + ": no such file");
    } catch (IOException e) {
      throw new Lora4jException(file + ": not a valid " + type.getSimpleName() + " (" + e.getMessage() + ")", e);
    }
  }
}
