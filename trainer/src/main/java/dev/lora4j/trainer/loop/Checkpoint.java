package dev.lora4j.trainer.loop;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.io.OutputKind;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Everything a run needs to continue as if never stopped: where it is (step, epoch, batch), the
 * options and data it ran on, the trained arrays, the optimizer moments, and the best weights so
 * far. A directory with {@code checkpoint.json} and {@code tensors.bin}, replaced atomically, so a
 * crash mid-write leaves the previous checkpoint intact.
 *
 * @param meta JSON-able state: positions, config, data fingerprint, best evaluation
 * @param tensors float arrays by name (parameters, {@code best/<name>}, optimizer moments)
 */
public record Checkpoint(Map<String, Object> meta, Map<String, float[]> tensors) {
  static final String META = "checkpoint.json";
  static final String TENSORS = "tensors.bin";
  static final int MAGIC = 0x4C344A43; // "L4JC"
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /**
   * A checkpoint directory as an output: {@code checkpoint.json} with the fields a checkpoint always
   * has, and nothing but the two files. Each checkpoint replaces the previous one; anything else
   * at that path is refused rather than deleted.
   */
  public static final OutputKind OUTPUT_KIND = OutputKind.of("a lora4j checkpoint directory",
      OutputKind.jsonObject(m -> m.path("format").isIntegralNumber() && m.path("step").isIntegralNumber()
          && m.has("config")), META, TENSORS);

  public void write(Path dir) {
    AtomicFiles.writeDirectory(dir, OUTPUT_KIND, false, tmp -> {
      JSON.writeValue(tmp.resolve(META).toFile(), meta);
      try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(
          Files.newOutputStream(tmp.resolve(TENSORS)), 1 << 16))) {
        out.writeInt(MAGIC);
        out.writeInt(tensors.size());
        for (Map.Entry<String, float[]> e : tensors.entrySet()) {
          out.writeUTF(e.getKey());
          out.writeInt(e.getValue().length);
          for (float f : e.getValue()) {
            out.writeFloat(f);
          }
        }
      }
    });
  }

  public static boolean exists(Path dir) {
    return Files.isRegularFile(dir.resolve(META)) && Files.isRegularFile(dir.resolve(TENSORS));
  }

  /** Reads and checks a checkpoint; every problem is one message naming the file (see {@link CheckpointReader}). */
  public static Checkpoint read(Path dir) {
    return CheckpointReader.read(dir);
  }

  public long getLong(String key) {
    Object v = meta.get(key);
    if (!(v instanceof Number n)) {
      throw new Lora4jException("checkpoint field '" + key + "' is missing or not a number");
    }
    return n.longValue();
  }

  public float[] tensor(String name) {
    float[] v = tensors.get(name);
    if (v == null) {
      throw new Lora4jException("checkpoint has no tensor " + name);
    }
    return v;
  }
}
