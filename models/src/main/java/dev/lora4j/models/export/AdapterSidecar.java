package dev.lora4j.models.export;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.TaskHead;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What an {@code .onnx_adapter} file cannot say and the runtime needs: label names, pooling, which
 * base model the adapter belongs to (SHA-256 of the base ONNX file it was exported against), and
 * the ranks kept, for display. Written as {@code <adapter>.adapter.json} beside it.
 *
 * @param head {@code classifier} or {@code embeddings}
 * @param ranks rank per adapted module after compaction
 * @param parameters values stored (factors and head)
 */
public record AdapterSidecar(
    String name,
    String baseId,
    String baseOnnxSha256,
    String head,
    String pooling,
    List<String> labels,
    Map<String, Integer> ranks,
    long parameters,
    String method,
    String tool) {

  public static final String CLASSIFIER = "classifier";
  public static final String EMBEDDINGS = "embeddings";

  /** The sidecar of a compact adapter exported against the base with {@code baseSha256}. */
  public static AdapterSidecar of(Adapter compact, String baseId, String baseSha256) {
    TaskHead h = compact.head();
    return new AdapterSidecar(compact.name(), baseId, baseSha256, h.isClassifier() ? CLASSIFIER : EMBEDDINGS,
        h.pooling().id(), h.labels(), compact.ranks(), compact.parameterCount(), compact.provenance().method(),
        compact.provenance().tool());
  }

  public TaskHead.Pooling poolingMode() {
    return TaskHead.Pooling.parse(pooling);
  }

  public void write(Path file) {
    ExportJson.write(file, this);
  }

  public static AdapterSidecar read(Path file) {
    return ExportJson.read(file, AdapterSidecar.class);
  }
}
