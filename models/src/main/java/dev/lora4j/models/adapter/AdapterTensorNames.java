package dev.lora4j.models.adapter;

/**
 * The names that tie the exporter's adapter-ready graphs, the {@code .onnx_adapter} files and the
 * runtime together. ONNX Runtime binds an adapter's parameters to graph inputs by name, so these are
 * a contract: change them and every exported base graph and adapter file must be rewritten.
 *
 * <p>Layouts follow the graph's MatMul convention ({@code y = x · W^T}), so factors are stored
 * transposed relative to PyTorch: {@code x · A'^T · B'^T}.
 */
public final class AdapterTensorNames {
  private AdapterTensorNames() {}

  // ---- multi-adapter base graph: one adapter per run, fed through OrtLoraAdapter ----

  /** Input {@code [in, r]} holding {@code A'^T} of {@code module}. */
  public static String loraA(String module) {
    return module + ".lora_A";
  }

  /** Input {@code [r, out]} holding {@code B'^T} of {@code module}. */
  public static String loraB(String module) {
    return module + ".lora_B";
  }

  /** The symbolic rank dimension of {@code module}; one per module because pruned ranks differ. */
  public static String rankDim(String module) {
    return "r." + module;
  }

  /** Input {@code [hidden, labels]}: the classifier weight, transposed. */
  public static final String HEAD_WEIGHT = "head.weight";
  /** Input {@code [labels]}: the classifier bias. */
  public static final String HEAD_BIAS = "head.bias";
  /** Input {@code [1]}: 0 for mean pooling, 1 for first-token (CLS) pooling. */
  public static final String HEAD_CLS_POOLING = "head.cls_pooling";
  /** The symbolic number of labels. */
  public static final String LABELS_DIM = "labels";

  // ---- mixed-batch base graph: a different adapter per row ----

  /** Input {@code [batch]} int64: which adapter slot each row uses. */
  public static final String ADAPTER_INDEX = "adapter_index";

  /** Input {@code [slots, in, r_max]}: every slot's {@code A'^T}, zero-padded to r_max. */
  public static String stackedA(String module) {
    return module + ".lora_A.stacked";
  }

  /** Input {@code [slots, r_max, out]}: every slot's {@code B'^T}, zero-padded to r_max. */
  public static String stackedB(String module) {
    return module + ".lora_B.stacked";
  }

  // ---- outputs shared by every exported graph ----

  public static final String LAST_HIDDEN_STATE = "last_hidden_state";
  /** Pooled sentence vector, L2-normalised. */
  public static final String SENTENCE_EMBEDDING = "sentence_embedding";
  public static final String LOGITS = "logits";
  public static final String PROBABILITIES = "probabilities";
}
