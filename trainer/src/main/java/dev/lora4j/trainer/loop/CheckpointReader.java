package dev.lora4j.trainer.loop;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.InputFiles;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UTFDataFormatException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads a {@link Checkpoint} as untrusted input: positions must be whole numbers a run can reach,
 * every tensor length is checked against the bytes left in {@code tensors.bin} before its array is
 * allocated, values must be finite, and nothing may follow the last tensor. Each failure is one
 * message naming the file and what is wrong, so a damaged checkpoint is never half-resumed.
 */
final class CheckpointReader {
  /** Smallest entry in tensors.bin: a 2-byte name length and a 4-byte value count. */
  private static final int MIN_ENTRY_BYTES = 6;
  private static final ObjectMapper JSON = new ObjectMapper();

  private CheckpointReader() {}

  static Checkpoint read(Path dir) {
    if (!Checkpoint.exists(dir)) {
      throw new Lora4jException("no checkpoint in " + dir.toAbsolutePath() + " (expected " + Checkpoint.META + " and "
          + Checkpoint.TENSORS + "; checkpoints are written with --checkpoint-every N)");
    }
    Map<String, Object> meta = meta(dir.resolve(Checkpoint.META));
    Map<String, float[]> tensors = tensors(dir.resolve(Checkpoint.TENSORS));
    return new Checkpoint(meta, tensors);
  }

  private static Map<String, Object> meta(Path file) {
    byte[] bytes = InputFiles.readAll(file, InputFiles.JSON_LIMIT, "checkpoint file");
    Map<String, Object> meta;
    try {
      meta = JSON.readValue(bytes, new TypeReference<LinkedHashMap<String, Object>>() {});
    } catch (JsonProcessingException e) {
      throw new Lora4jException(file + ": not a valid checkpoint (" + oneLine(e.getOriginalMessage()) + ")", e);
    } catch (IOException e) {
      throw new Lora4jException(file + ": cannot read the checkpoint (" + InputFiles.describe(e) + ")", e);
    }
    if (meta == null) {
      throw new Lora4jException(file + ": not a valid checkpoint (the file holds JSON null)");
    }
    Fields f = new Fields(file, meta);
    long format = f.count("format", 1);
    if (format != 1) {
      throw f.fail("format " + format + " is not one this lora4j reads (1)");
    }
    f.count("step", Long.MAX_VALUE);
    f.count("epoch", Integer.MAX_VALUE);
    f.count("next_batch", Integer.MAX_VALUE);
    f.count("adam_steps", Long.MAX_VALUE);
    Object loss = meta.get("last_loss");
    // The writer spells a NaN loss (no step yet) as the string "NaN".
    if (loss != null && !(loss instanceof Number) && !"NaN".equals(loss)) {
      throw f.fail("last_loss must be a number, not " + loss);
    }
    if (meta.get("config") != null && !(meta.get("config") instanceof Map)) {
      throw f.fail("config must be an object");
    }
    evaluation(f, "best");
    evaluation(f, "last");
    return meta;
  }

  /** An evaluation report as {@code TrainingLoop} writes it, or absent. */
  private static void evaluation(Fields parent, String key) {
    Object v = parent.values.get(key);
    if (v == null) {
      return;
    }
    if (!(v instanceof Map<?, ?> m)) {
      throw parent.fail(key + " must be an object");
    }
    @SuppressWarnings("unchecked")
    Fields f = new Fields(parent.file, (Map<String, Object>) m, key + ".");
    f.count("step", Long.MAX_VALUE);
    f.count("epoch", Integer.MAX_VALUE);
    f.count("examples", Integer.MAX_VALUE);
    for (String k : new String[] {"accuracy", "loss", "seconds"}) {
      if (!(f.values.get(k) instanceof Number)) {
        throw f.fail(k + " is missing or not a number");
      }
    }
    if (!(f.values.get("ranks") instanceof Map<?, ?> ranks)) {
      throw f.fail("ranks is missing or not an object");
    }
    @SuppressWarnings("unchecked")
    Fields r = new Fields(parent.file, (Map<String, Object>) ranks, key + ".ranks.");
    for (Object module : ranks.keySet()) {
      r.count((String) module, Integer.MAX_VALUE);
    }
  }

  private static Map<String, float[]> tensors(Path file) {
    long size = InputFiles.requireRegularFile(file, "checkpoint file");
    Map<String, float[]> tensors = new LinkedHashMap<>();
    String at = "the header";
    try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
      if (size < 8 || in.readInt() != Checkpoint.MAGIC) {
        throw new Lora4jException(file + ": not a lora4j checkpoint (no L4JC header)");
      }
      long left = size - 8;
      int n = in.readInt();
      if (n < 0 || n > left / MIN_ENTRY_BYTES) {
        throw new Lora4jException(file + ": says it holds " + n + " tensors, which " + left
            + " bytes cannot (corrupt count)");
      }
      for (int i = 0; i < n; i++) {
        at = "tensor #" + i;
        String name = in.readUTF();
        left -= 2 + utfLength(name);
        at = "tensor '" + name + "'";
        int length = in.readInt();
        left -= 4;
        if (length < 0 || length > left / 4) {
          throw new Lora4jException(file + ": tensor '" + name + "' says it holds " + length
              + " values, but only " + Math.max(0, left) + " bytes follow (corrupt length)");
        }
        float[] v = new float[length];
        for (int j = 0; j < length; j++) {
          v[j] = in.readFloat();
          if (!Float.isFinite(v[j])) {
            throw new Lora4jException(file + ": tensor '" + name + "' holds " + v[j] + " at index " + j
                + "; a checkpoint holds finite values only");
          }
        }
        left -= 4L * length;
        if (tensors.put(name, v) != null) {
          throw new Lora4jException(file + ": tensor '" + name + "' appears twice");
        }
      }
      if (in.read() >= 0) {
        throw new Lora4jException(file + ": has bytes after its last tensor (corrupt or not a checkpoint)");
      }
    } catch (EOFException e) {
      throw new Lora4jException(file + ": truncated, it ends inside " + at, e);
    } catch (UTFDataFormatException e) {
      throw new Lora4jException(file + ": " + at + " has a name that is not valid modified UTF-8", e);
    } catch (IOException e) {
      throw new Lora4jException(file + ": cannot read the checkpoint (" + InputFiles.describe(e) + ")", e);
    }
    return tensors;
  }

  /** Bytes {@link DataInputStream#readUTF} consumed for {@code s} (modified UTF-8). */
  private static int utfLength(String s) {
    int n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      n += c >= 1 && c <= 0x7f ? 1 : c <= 0x7ff ? 2 : 3;
    }
    return n;
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.replaceAll("\\s*\\R\\s*", " ");
  }

  /** Checked access to one JSON object of checkpoint.json. */
  private record Fields(Path file, Map<String, Object> values, String prefix) {
    Fields(Path file, Map<String, Object> values) {
      this(file, values, "");
    }

    /** A whole number in [0, max]. */
    long count(String key, long max) {
      Object v = values.get(key);
      if (v == null) {
        throw fail(key + " is missing");
      }
      if (!(v instanceof Integer || v instanceof Long || v instanceof java.math.BigInteger)) {
        throw fail(key + " must be a whole number, not " + v);
      }
      Number n = (Number) v;
      if (n instanceof java.math.BigInteger b ? b.bitLength() > 63 || b.signum() < 0 : n.longValue() < 0
          || n.longValue() > max) {
        throw fail(key + " is " + v + "; it must be between 0 and " + max);
      }
      return n.longValue();
    }

    Lora4jException fail(String problem) {
      return new Lora4jException(file + ": " + prefix + problem);
    }
  }
}
