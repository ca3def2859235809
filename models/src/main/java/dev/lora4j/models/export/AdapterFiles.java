package dev.lora4j.models.export;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.ortformat.MultiAdapterParameters;
import dev.lora4j.models.adapter.ortformat.OrtAdapter;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
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
    String file = path.getFileName().toString();
    if (file.endsWith(OrtAdapterFile.EXTENSION)) {
      Path sidecar = sidecarOf(path);
      if (!Files.isRegularFile(sidecar)) {
        throw new Lora4jException(path + ": its sidecar " + sidecar.getFileName()
            + " (labels, pooling, base model) is missing beside it");
      }
      OrtAdapter parameters = OrtAdapterFile.read(path);
      AdapterSidecar about = AdapterSidecar.read(sidecar);
      Adapter adapter;
      try {
        adapter = MultiAdapterParameters.toAdapter(parameters, about);
      } catch (Lora4jException e) {
        // toAdapter knows the adapter's name, not where it came from.
        throw new Lora4jException(path + ": " + e.getMessage(), e);
      }
      adapter.requireFinite(path.toString());
      return adapter;
    }
    throw new Lora4jException(path + ": not an adapter lora4j can read (expected a PEFT directory with "
        + "adapter_config.json, or an .onnx_adapter file)");
  }

  /** {@code x.onnx_adapter} -> {@code x.adapter.json} beside it. */
  public static Path sidecarOf(Path onnxAdapter) {
    String file = onnxAdapter.getFileName().toString();
    return onnxAdapter.resolveSibling(
        ExportLayout.sidecar(file.substring(0, file.length() - OrtAdapterFile.EXTENSION.length())));
  }
}
