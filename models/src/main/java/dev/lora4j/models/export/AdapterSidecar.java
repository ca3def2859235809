package dev.lora4j.models.export;

import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterDtype;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.io.InputFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What an {@code .onnx_adapter} file cannot say and the runtime needs: label names, pooling, which
 * base model the adapter belongs to (SHA-256 of the base ONNX file it was exported against), and
 * the ranks kept, for display. Written as {@code <adapter>.adapter.json} beside it.
 *
 * <p>The sidecar and its adapter file are tied together, because each alone can silently change
 * every answer (swapped labels invert a classifier; a renamed tensor drops a module). The tie:
 * {@code adapter_sha256} is the SHA-256 of the {@code .onnx_adapter} file's bytes, and
 * {@code content_sha256} is the SHA-256 of the sidecar's own fields (every field but itself,
 * {@code adapter_sha256} included, in canonical JSON: keys sorted, no whitespace). Editing the
 * adapter file alone breaks {@code adapter_sha256}; editing any field of the sidecar alone breaks
 * {@code content_sha256}; both are checked by {@link #read} and {@link #requireTiedTo}. This is an
 * integrity check against accidents and careless edits, not a signature: someone who recomputes
 * both hashes can still change both files.
 *
 * @param head {@code classifier} or {@code embeddings}
 * @param ranks rank per adapted module after compaction; the adapter file must hold exactly these
 * @param parameters values stored (factors and head)
 * @param adapterDtype how the factors are stored: {@code fp32}, {@code fp16} or {@code int8}
 *     ({@link dev.lora4j.models.adapter.AdapterDtype}); absent (sidecars before the field) means fp32
 * @param adapterSha256 SHA-256 of the {@code .onnx_adapter} file this sidecar describes
 * @param contentSha256 SHA-256 of this sidecar's other fields (see above)
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
    String tool,
    String adapterDtype,
    String adapterSha256,
    String contentSha256) {

  public static final String CLASSIFIER = "classifier";
  public static final String EMBEDDINGS = "embeddings";
  static final String CONTENT_FIELD = "content_sha256";
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
  /** Canonical form for {@link #contentSha256}: sorted keys, compact. */
  private static final ObjectMapper CANONICAL = ExportJson.MAPPER.copy()
      .disable(SerializationFeature.INDENT_OUTPUT)
      .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

  /**
   * The sidecar of a compact adapter exported against the base with {@code baseSha256}, tied to
   * the adapter file whose bytes hash to {@code adapterFileSha256}.
   */
  public static AdapterSidecar of(Adapter compact, String baseId, String baseSha256, String adapterFileSha256) {
    return of(compact, baseId, baseSha256, AdapterDtype.FP32, adapterFileSha256);
  }

  /** As {@link #of(Adapter, String, String, String)}, for a file whose factors are stored as {@code dtype}. */
  public static AdapterSidecar of(Adapter compact, String baseId, String baseSha256, AdapterDtype dtype,
      String adapterFileSha256) {
    TaskHead h = compact.head();
    AdapterSidecar s = new AdapterSidecar(compact.name(), baseId, baseSha256,
        h.isClassifier() ? CLASSIFIER : EMBEDDINGS, h.pooling().id(), h.labels(), compact.ranks(),
        compact.parameterCount(), compact.provenance().method(), compact.provenance().tool(), dtype.id(),
        adapterFileSha256, null);
    return s.withContentSha256(contentHash(ExportJson.MAPPER.valueToTree(s)));
  }

  private AdapterSidecar withContentSha256(String sha) {
    return new AdapterSidecar(name, baseId, baseOnnxSha256, head, pooling, labels, ranks, parameters, method, tool,
        adapterDtype, adapterSha256, sha);
  }

  public boolean isClassifier() {
    return CLASSIFIER.equals(head);
  }

  public TaskHead.Pooling poolingMode() {
    return TaskHead.Pooling.parse(pooling);
  }

  public void write(Path file) {
    ExportJson.write(file, this);
  }

  /**
   * Reads and checks a sidecar: every field the runtime relies on is present and well-formed, and
   * its content hash matches. Each problem is one {@link Lora4jException} naming the file and field.
   */
  public static AdapterSidecar read(Path file) {
    JsonNode tree;
    try {
      tree = ExportJson.MAPPER.readTree(InputFiles.readAll(file, InputFiles.JSON_LIMIT, "adapter sidecar"));
    } catch (IOException e) {
      throw new Lora4jException(file + ": not a valid adapter sidecar (" + e.getMessage() + ")", e);
    }
    if (tree == null || !tree.isObject()) {
      throw new Lora4jException(file + ": not an adapter sidecar (expected a JSON object, found "
          + (tree == null || tree.isMissingNode() ? "nothing" : tree.getNodeType().toString().toLowerCase(java.util.Locale.ROOT)) + ")");
    }
    ObjectNode o = (ObjectNode) tree;
    for (String field : List.of("name", "base_id", "base_onnx_sha256", "head", "pooling", "labels", "ranks",
        "adapter_sha256", CONTENT_FIELD)) {
      JsonNode v = o.get(field);
      if (v == null || v.isNull()) {
        throw new Lora4jException(file + ": field '" + field + "' is missing" + hint(field));
      }
    }
    AdapterSidecar s;
    try {
      s = ExportJson.MAPPER.treeToValue(o, AdapterSidecar.class);
    } catch (JsonMappingException e) {
      String field = e.getPath().isEmpty() ? "?" : e.getPath().get(0).getFieldName();
      throw new Lora4jException(file + ": field '" + field + "' has the wrong type (" + e.getOriginalMessage() + ")", e);
    } catch (IOException e) {
      throw new Lora4jException(file + ": not a valid adapter sidecar (" + e.getMessage() + ")", e);
    }
    s.requireWellFormed(file);
    String content = contentHash(o);
    if (!content.equals(s.contentSha256())) {
      throw new Lora4jException(file + ": field 'content_sha256' does not match the sidecar's content: the file was "
          + "edited after export (labels, pooling, ranks or base model changed?); export the adapter again");
    }
    return s;
  }

  private static String hint(String field) {
    return switch (field) {
      case "base_onnx_sha256" -> " (the base model this adapter was exported for cannot be checked)";
      case "adapter_sha256", CONTENT_FIELD -> " (written by lora4j export since the adapter/sidecar tie; export the "
          + "adapter again)";
      default -> "";
    };
  }

  private void requireWellFormed(Path file) {
    if (name.isBlank()) {
      throw new Lora4jException(file + ": field 'name' is empty");
    }
    if (!SHA256.matcher(baseOnnxSha256).matches()) {
      throw new Lora4jException(file + ": field 'base_onnx_sha256' is not a SHA-256 (64 lower-case hex digits)");
    }
    if (!SHA256.matcher(adapterSha256).matches()) {
      throw new Lora4jException(file + ": field 'adapter_sha256' is not a SHA-256 (64 lower-case hex digits)");
    }
    if (!CLASSIFIER.equals(head) && !EMBEDDINGS.equals(head)) {
      throw new Lora4jException(file + ": field 'head' must be '" + CLASSIFIER + "' or '" + EMBEDDINGS + "', not '"
          + head + "'");
    }
    try {
      poolingMode();
    } catch (IllegalArgumentException e) {
      throw new Lora4jException(file + ": field 'pooling': " + e.getMessage());
    }
    if (labels.stream().anyMatch(l -> l == null || l.isEmpty())) {
      throw new Lora4jException(file + ": field 'labels' holds an empty label");
    }
    if (new HashSet<>(labels).size() != labels.size()) {
      throw new Lora4jException(file + ": field 'labels' names a label twice: " + labels);
    }
    if (isClassifier() && labels.size() < 2) {
      throw new Lora4jException(file + ": field 'labels' must name at least two labels for a classifier, found "
          + labels);
    }
    if (!isClassifier() && !labels.isEmpty()) {
      throw new Lora4jException(file + ": field 'labels' must be empty for an embeddings head, found " + labels);
    }
    AdapterDtype.ofRecorded(adapterDtype, file + ": field 'adapter_dtype'");
    for (Map.Entry<String, Integer> e : ranks.entrySet()) {
      if (e.getValue() == null || e.getValue() < 1) {
        throw new Lora4jException(file + ": field 'ranks' gives module " + e.getKey() + " rank " + e.getValue()
            + " (must be at least 1)");
      }
    }
  }

  /**
   * Refuses an adapter file whose bytes are not the ones this sidecar was written for.
   *
   * @param sidecarFile names the sidecar in the message
   * @param have the SHA-256 of the adapter file's bytes
   */
  public void requireTiedTo(Path sidecarFile, Path adapterFile, String have) {
    if (!have.equals(adapterSha256)) {
      throw new Lora4jException(adapterFile + ": its SHA-256 " + have.substring(0, 12) + "… differs from the "
          + "'adapter_sha256' its sidecar " + sidecarFile.getFileName() + " records (" + adapterSha256.substring(0, 12)
          + "…): the adapter file or its sidecar was changed or swapped after export; export the adapter again");
    }
  }

  /**
   * SHA-256 of the canonical JSON of every field but {@value #CONTENT_FIELD}. Package-private for the
   * hostile-input corpus, which re-hashes damaged sidecars so that the damage reaches the checks behind.
   */
  static String contentHash(JsonNode tree) {
    ObjectNode copy = ((ObjectNode) tree).deepCopy();
    copy.remove(CONTENT_FIELD);
    try {
      Object plain = CANONICAL.treeToValue(copy, Object.class); // maps, so ORDER_MAP_ENTRIES_BY_KEYS applies
      return AtomicFiles.sha256(CANONICAL.writeValueAsString(plain).getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new IllegalStateException("a JSON tree always serialises", e);
    }
  }
}
