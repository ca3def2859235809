package dev.lora4j.exporter;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.tensor.Matrix;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A PEFT LoRA adapter directory written by hand, byte for byte as PEFT saves one
 * ({@code adapter_config.json} + {@code adapter_model.safetensors}), so the import path is tested
 * against the format rather than against our own writer.
 */
final class PeftFixture {
  private PeftFixture() {}

  /** Safetensors: u64 little-endian header length, JSON header, then the raw tensors. */
  static byte[] safetensors(Map<String, Matrix> tensors) throws IOException {
    ObjectMapper om = new ObjectMapper();
    ObjectNode header = om.createObjectNode();
    header.putObject("__metadata__").put("format", "pt");
    long offset = 0;
    for (Map.Entry<String, Matrix> e : tensors.entrySet()) {
      Matrix m = e.getValue();
      ObjectNode t = header.putObject(e.getKey());
      t.put("dtype", "F32");
      t.putArray("shape").add(m.rows()).add(m.cols());
      long size = 4L * m.data().length;
      t.putArray("data_offsets").add(offset).add(offset + size);
      offset += size;
    }
    byte[] json = om.writeValueAsBytes(header);
    int padded = (json.length + 7) / 8 * 8; // the header is padded with spaces to 8 bytes
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
    out.write(json);
    out.write(" ".repeat(padded - json.length).getBytes(StandardCharsets.US_ASCII));
    for (Matrix m : tensors.values()) {
      ByteBuffer b = ByteBuffer.allocate(4 * m.data().length).order(ByteOrder.LITTLE_ENDIAN);
      b.asFloatBuffer().put(m.data());
      out.write(b.array());
    }
    return out.toByteArray();
  }

  /**
   * Writes a PEFT LoRA directory for feature extraction: {@code tensors} under PEFT names, a
   * config with {@code r}, {@code lora_alpha}, {@code rank_pattern}, {@code alpha_pattern} and the
   * other keys PEFT writes.
   */
  static Path write(Path dir, String baseName, int r, double alpha, Map<String, Integer> rankPattern,
      Map<String, Double> alphaPattern, List<String> targets, Map<String, Matrix> tensors) throws IOException {
    Files.createDirectories(dir);
    ObjectMapper om = new ObjectMapper();
    ObjectNode c = om.createObjectNode();
    c.put("peft_type", "LORA");
    c.put("task_type", "FEATURE_EXTRACTION");
    c.put("base_model_name_or_path", baseName);
    c.put("r", r);
    c.put("lora_alpha", alpha);
    c.put("lora_dropout", 0.1);
    c.put("bias", "none");
    c.put("fan_in_fan_out", false);
    c.put("use_rslora", false);
    c.put("use_dora", false);
    c.put("inference_mode", true);
    var t = c.putArray("target_modules");
    targets.forEach(t::add);
    ObjectNode rp = c.putObject("rank_pattern");
    rankPattern.forEach(rp::put);
    ObjectNode ap = c.putObject("alpha_pattern");
    alphaPattern.forEach(ap::put);
    c.putNull("modules_to_save");
    Files.write(dir.resolve("adapter_config.json"), om.writerWithDefaultPrettyPrinter().writeValueAsBytes(c));
    Files.write(dir.resolve("adapter_model.safetensors"), safetensors(new LinkedHashMap<>(tensors)));
    return dir;
  }
}
