package dev.lora4j.exporter;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.base.BaseModelFiles;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What to export.
 *
 * @param base the base model's files (from {@code BaseModelCatalog}); its id and ONNX SHA-256 are
 *     recorded in the export and adapters are checked against that SHA-256; its tokenizer is copied
 * @param adapters one or more, unique names (they become file names)
 * @param embeddings merged / factored graphs output {@code sentence_embedding} instead of logits
 * @param out the export directory; replaced as a whole once the new one is complete
 * @param extraFiles more files to place in the directory (e.g. the command line's rank plot)
 * @param overwrite replace whatever is at {@code out}; without it only an earlier export (or an empty
 *     directory) is replaced and anything else is refused
 * @param int8Base also write the int8-base variant of every graph ({@code Int8BaseWriter}): the base
 *     model's constant-weight MatMuls dynamically quantized, adapter branches and head float32
 */
public record ExportRequest(
    BaseModelFiles base,
    List<Adapter> adapters,
    Set<ExportFormat> formats,
    boolean embeddings,
    Path out,
    Map<String, byte[]> extraFiles,
    boolean overwrite,
    boolean int8Base) {

  public ExportRequest(BaseModelFiles base, List<Adapter> adapters, Set<ExportFormat> formats, boolean embeddings,
      Path out, Map<String, byte[]> extraFiles) {
    this(base, adapters, formats, embeddings, out, extraFiles, false);
  }

  public ExportRequest(BaseModelFiles base, List<Adapter> adapters, Set<ExportFormat> formats, boolean embeddings,
      Path out, Map<String, byte[]> extraFiles, boolean overwrite) {
    this(base, adapters, formats, embeddings, out, extraFiles, overwrite, false);
  }

  public ExportRequest {
    Objects.requireNonNull(base, "base");
    Objects.requireNonNull(out, "out");
    adapters = List.copyOf(adapters);
    formats = formats.isEmpty() ? EnumSet.noneOf(ExportFormat.class) : EnumSet.copyOf(formats);
    extraFiles = extraFiles == null ? Map.of() : Map.copyOf(extraFiles);
  }

  public static ExportRequest of(BaseModelFiles base, List<Adapter> adapters, Set<ExportFormat> formats, Path out) {
    return new ExportRequest(base, adapters, formats, false, out, Map.of());
  }

  public ExportRequest withEmbeddings(boolean value) {
    return new ExportRequest(base, adapters, formats, value, out, extraFiles, overwrite, int8Base);
  }

  public ExportRequest withExtraFiles(Map<String, byte[]> files) {
    return new ExportRequest(base, adapters, formats, embeddings, out, files, overwrite, int8Base);
  }

  public ExportRequest withOverwrite(boolean value) {
    return new ExportRequest(base, adapters, formats, embeddings, out, extraFiles, value, int8Base);
  }

  public ExportRequest withInt8Base(boolean value) {
    return new ExportRequest(base, adapters, formats, embeddings, out, extraFiles, overwrite, value);
  }
}
