package dev.lora4j.exporter;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterDtype;
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
 * @param budget applied to each adapter after compaction ({@code --rank-budget} / {@code --max-size}),
 *     or null for none
 * @param adapterDtype how {@code .onnx_adapter} and PEFT factors are stored; merged and factored
 *     graphs are built from the values that dtype holds ({@link AdapterDtype#served})
 * @param int8Base also write each graph with the base's MatMuls dynamically quantized to int8
 *     ({@code *.int8.onnx}); adapters and head stay float32
 * @param int8Calibration texts to calibrate the int8 base on (empty: none; needs {@code int8Base}):
 *     the float32 base runs over them and each quantized MatMul's input channels are rescaled by
 *     their measured ranges (SmoothQuant), so one outlier channel no longer sets every channel's
 *     int8 step; a few hundred in-domain texts are enough
 * @param adapterModules which modules the multi and mixed graphs get a branch on
 *     ({@code --adapter-modules}): {@code used} (the default, also for null) the union of the
 *     exported adapters' modules, {@code all} every adaptable module, or a list as {@code train
 *     --targets} takes it; see {@link BranchModules}
 */
public record ExportRequest(
    BaseModelFiles base,
    List<Adapter> adapters,
    Set<ExportFormat> formats,
    boolean embeddings,
    Path out,
    Map<String, byte[]> extraFiles,
    boolean overwrite,
    RankBudget budget,
    AdapterDtype adapterDtype,
    boolean int8Base,
    List<String> int8Calibration,
    String adapterModules) {

  public ExportRequest(BaseModelFiles base, List<Adapter> adapters, Set<ExportFormat> formats, boolean embeddings,
      Path out, Map<String, byte[]> extraFiles) {
    this(base, adapters, formats, embeddings, out, extraFiles, false);
  }

  public ExportRequest(BaseModelFiles base, List<Adapter> adapters, Set<ExportFormat> formats, boolean embeddings,
      Path out, Map<String, byte[]> extraFiles, boolean overwrite) {
    this(base, adapters, formats, embeddings, out, extraFiles, overwrite, null, AdapterDtype.FP32, false, List.of(), null);
  }

  public ExportRequest(BaseModelFiles base, List<Adapter> adapters, Set<ExportFormat> formats, boolean embeddings,
      Path out, Map<String, byte[]> extraFiles, boolean overwrite, RankBudget budget) {
    this(base, adapters, formats, embeddings, out, extraFiles, overwrite, budget, AdapterDtype.FP32, false, List.of(), null);
  }

  public ExportRequest {
    Objects.requireNonNull(base, "base");
    Objects.requireNonNull(out, "out");
    adapters = List.copyOf(adapters);
    formats = formats.isEmpty() ? EnumSet.noneOf(ExportFormat.class) : EnumSet.copyOf(formats);
    extraFiles = extraFiles == null ? Map.of() : Map.copyOf(extraFiles);
    adapterDtype = adapterDtype == null ? AdapterDtype.FP32 : adapterDtype;
    adapterModules = adapterModules == null ? BranchModules.USED : adapterModules;
    int8Calibration = int8Calibration == null ? List.of() : List.copyOf(int8Calibration);
    if (!int8Calibration.isEmpty() && !int8Base) {
      throw new IllegalArgumentException("int8 calibration texts without the int8 base: calibration only changes it");
    }
  }

  public static ExportRequest of(BaseModelFiles base, List<Adapter> adapters, Set<ExportFormat> formats, Path out) {
    return new ExportRequest(base, adapters, formats, false, out, Map.of());
  }

  public ExportRequest withEmbeddings(boolean value) {
    return new ExportRequest(base, adapters, formats, value, out, extraFiles, overwrite, budget, adapterDtype, int8Base, int8Calibration, adapterModules);
  }

  public ExportRequest withExtraFiles(Map<String, byte[]> files) {
    return new ExportRequest(base, adapters, formats, embeddings, out, files, overwrite, budget, adapterDtype, int8Base, int8Calibration, adapterModules);
  }

  public ExportRequest withOverwrite(boolean value) {
    return new ExportRequest(base, adapters, formats, embeddings, out, extraFiles, value, budget, adapterDtype, int8Base, int8Calibration, adapterModules);
  }

  public ExportRequest withBudget(RankBudget value) {
    return new ExportRequest(base, adapters, formats, embeddings, out, extraFiles, overwrite, value, adapterDtype, int8Base, int8Calibration, adapterModules);
  }

  public ExportRequest withInt8Base(boolean value) {
    return new ExportRequest(base, adapters, formats, embeddings, out, extraFiles, overwrite, budget, adapterDtype, value, int8Calibration, adapterModules);
  }

  public ExportRequest withInt8Calibration(List<String> texts) {
    return new ExportRequest(base, adapters, formats, embeddings, out, extraFiles, overwrite, budget, adapterDtype, int8Base,
        texts, adapterModules);
  }

  public ExportRequest withAdapterDtype(AdapterDtype value) {
    return new ExportRequest(base, adapters, formats, embeddings, out, extraFiles, overwrite, budget, value, int8Base, int8Calibration, adapterModules);
  }

  public ExportRequest withAdapterModules(String value) {
    return new ExportRequest(base, adapters, formats, embeddings, out, extraFiles, overwrite, budget, adapterDtype, int8Base,
        int8Calibration, value);
  }
}
