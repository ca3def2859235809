package dev.lora4j.exporter;

import dev.lora4j.models.adapter.Adapter;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What to export.
 *
 * @param baseId what the user calls the base model (e.g. {@code minilm-l6}), recorded in the files
 * @param baseOnnx the base model's ONNX file; its SHA-256 is what adapters are checked against
 * @param tokenizer the base model's {@code tokenizer.json}, copied into the export; may be null
 * @param adapters one or more, unique names (they become file names)
 * @param embeddings merged / factored graphs output {@code sentence_embedding} instead of logits
 * @param out the export directory; replaced as a whole once the new one is complete
 * @param extraFiles more files to place in the directory (e.g. the command line's rank plot)
 */
public record ExportRequest(
    String baseId,
    Path baseOnnx,
    Path tokenizer,
    List<Adapter> adapters,
    Set<ExportFormat> formats,
    boolean embeddings,
    Path out,
    Map<String, byte[]> extraFiles) {

  public ExportRequest {
    Objects.requireNonNull(baseId, "baseId");
    Objects.requireNonNull(baseOnnx, "baseOnnx");
    Objects.requireNonNull(out, "out");
    adapters = List.copyOf(adapters);
    formats = formats.isEmpty() ? EnumSet.noneOf(ExportFormat.class) : EnumSet.copyOf(formats);
    extraFiles = extraFiles == null ? Map.of() : Map.copyOf(extraFiles);
  }

  public static ExportRequest of(String baseId, Path baseOnnx, Path tokenizer, List<Adapter> adapters,
      Set<ExportFormat> formats, Path out) {
    return new ExportRequest(baseId, baseOnnx, tokenizer, adapters, formats, false, out, Map.of());
  }

  public ExportRequest withEmbeddings(boolean value) {
    return new ExportRequest(baseId, baseOnnx, tokenizer, adapters, formats, value, out, extraFiles);
  }

  public ExportRequest withExtraFiles(Map<String, byte[]> files) {
    return new ExportRequest(baseId, baseOnnx, tokenizer, adapters, formats, embeddings, out, files);
  }
}
