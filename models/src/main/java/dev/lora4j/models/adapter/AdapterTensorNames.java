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
  /** Input {@code [1]} int64: 0 for mean pooling, 1 for first-token (CLS) pooling. */
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

  /** Input {@code [slots, hidden, labels]}: every slot's classifier weight, transposed, zero-padded. */
  public static final String HEAD_WEIGHT_STACKED = "head.weight.stacked";
  /** Input {@code [slots, labels]}: every slot's bias; padded labels hold {@link #PADDED_LABEL_LOGIT}. */
  public static final String HEAD_BIAS_STACKED = "head.bias.stacked";
  /** Input {@code [slots]} int64: per slot, 0 for mean pooling, 1 for CLS pooling. */
  public static final String HEAD_CLS_POOLING_STACKED = "head.cls_pooling.stacked";
  /** The symbolic number of adapter slots in a mixed batch. */
  public static final String SLOTS_DIM = "slots";

  /**
   * The logit of a label a slot does not have (slots with fewer labels than the widest one): so
   * negative that softmax gives it probability 0, yet finite, so a slot without any label (an
   * embedding adapter) gets uniform probabilities instead of NaN. Read only the first
   * {@code labels(slot)} columns of a row.
   */
  public static final float PADDED_LABEL_LOGIT = -1e9f;

  // ---- outputs shared by every exported graph ----

  public static final String LAST_HIDDEN_STATE = "last_hidden_state";
  /** Pooled sentence vector, L2-normalised. */
  public static final String SENTENCE_EMBEDDING = "sentence_embedding";
  public static final String LOGITS = "logits";
  public static final String PROBABILITIES = "probabilities";
}
