package dev.lora4j.models.export;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterDtype;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.ortformat.MultiAdapterParameters;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.io.InputFiles;
import dev.lora4j.models.io.AtomicFiles;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads an adapter from either file form lora4j writes: a PEFT directory ({@code adapter_config.json}
 * + {@code adapter_model.safetensors}, also PEFT's own), or an ONNX Runtime {@code .onnx_adapter}
 * with the {@code .adapter.json} sidecar that an export writes beside it.
 */
public final class AdapterFiles {
  private AdapterFiles() {}

  public static Adapter read(Path path) {
    if (!Files.exists(path)) {
      throw new Lora4jException(path + ": no such adapter (expected a PEFT directory or an .onnx_adapter file)");
    }
    if (Files.isDirectory(path)) {
      return PeftAdapters.read(path);
    }
    InputFiles.requireRegularFile(path, "PEFT directory or .onnx_adapter file");
    String file = path.getFileName().toString();
    if (file.endsWith(OrtAdapterFile.EXTENSION)) {
      Path sidecarFile = sidecarOf(path);
      if (!Files.isRegularFile(sidecarFile)) {
        throw new Lora4jException(path + ": its sidecar " + sidecarFile.getFileName()
            + " (labels, pooling, base model) is missing beside it");
      }
      // One read serves the hash and the parse: bounded before anything is hashed, and no window in
      // which the file checked and the file parsed could differ.
      byte[] bytes = InputFiles.readAll(path, InputFiles.ARRAY_LIMIT, "ONNX Runtime adapter file");
      AdapterSidecar sidecar = AdapterSidecar.read(sidecarFile);
      sidecar.requireTiedTo(sidecarFile, path, AtomicFiles.sha256(bytes));
      Adapter adapter = MultiAdapterParameters.toAdapter(OrtAdapterFile.fromBytes(bytes, path.toString()), sidecar,
          path.toString());
      adapter.requireFinite(path.toString());
      return adapter;
    }
    throw new Lora4jException(path + ": not an adapter lora4j can read (expected a PEFT directory with "
        + "adapter_config.json, or an .onnx_adapter file)");
  }

  /**
   * Writes an adapter, compacted, as {@code file} ({@code .onnx_adapter}) and its sidecar beside it,
   * tied together (see {@link AdapterSidecar}). Returns the sidecar's path.
   */
  public static Path writeOnnxAdapter(Path file, Adapter adapter, String baseId, String baseSha256) {
    return writeOnnxAdapter(file, adapter, baseId, baseSha256, AdapterDtype.FP32);
  }

  /** As {@link #writeOnnxAdapter(Path, Adapter, String, String)}, the factors stored as {@code dtype}. */
  public static Path writeOnnxAdapter(Path file, Adapter adapter, String baseId, String baseSha256,
      AdapterDtype dtype) {
    Adapter compact = adapter.compact(); // the sidecar's ranks must be the modules the file holds
    byte[] bytes = OrtAdapterFile.toBytes(MultiAdapterParameters.of(compact, dtype));
    AtomicFiles.write(file, bytes);
    Path sidecar = sidecarOf(file);
    AdapterSidecar.of(compact, baseId, baseSha256, dtype, AtomicFiles.sha256(bytes)).write(sidecar);
    return sidecar;
  }

  /** {@code x.onnx_adapter} -> {@code x.adapter.json} beside it. */
  public static Path sidecarOf(Path onnxAdapter) {
    String file = onnxAdapter.getFileName().toString();
    return onnxAdapter.resolveSibling(
        ExportLayout.sidecar(file.substring(0, file.length() - OrtAdapterFile.EXTENSION.length())));
  }
}
