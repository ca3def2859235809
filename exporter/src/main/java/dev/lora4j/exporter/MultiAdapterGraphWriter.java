package dev.lora4j.exporter;

import static dev.lora4j.models.adapter.AdapterTensorNames.HEAD_BIAS;
import static dev.lora4j.models.adapter.AdapterTensorNames.HEAD_CLS_POOLING;
import static dev.lora4j.models.adapter.AdapterTensorNames.HEAD_WEIGHT;
import static dev.lora4j.models.adapter.AdapterTensorNames.LABELS_DIM;

import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.onnx.OnnxModel;
import java.util.List;

/**
 * The multi-adapter base graph: one graph for every adapter of the base model, the adapter chosen
 * per run by feeding its tensors (ONNX Runtime: {@code RunOptions.addActiveLoraAdapter}).
 *
 * <p>Each module given ({@link BranchModules}: by default those the exported adapters change, or
 * every adaptable module) gets a branch whose factors are graph inputs
 * {@code <module>.lora_A [in, r.<module>]} and {@code <module>.lora_B [r.<module>, out]}, each rank
 * its own symbolic dimension because pruning leaves different ranks per module. The set is the
 * union over adapters, so the graph serves each of them and any later adapter on those modules; an
 * adapter that leaves a module alone simply does not feed it (rank-0 default, branch adds zero).
 *
 * <p>The head is inputs too: {@code head.weight [hidden, labels]}, {@code head.bias [labels]}
 * (symbolic {@code labels}, so adapters may have different label sets) and
 * {@code head.cls_pooling [1]} int64 (0 mean, 1 CLS). Outputs: {@code last_hidden_state},
 * {@code sentence_embedding} (pooled per the flag, normalised), {@code logits} and
 * {@code probabilities}. Fed nothing, the graph is the plain base model with mean-pooled
 * embeddings and {@code [batch, 0]} logits.
 */
final class MultiAdapterGraphWriter {
  private MultiAdapterGraphWriter() {}

  public static OnnxModel write(EncoderDescription base) {
    return write(base, base.modules());
  }

  /** The graph with branches on {@code modules} only (the base model's, in its order). */
  static OnnxModel write(EncoderDescription base, List<LinearModule> modules) {
    OnnxModel model = base.model().copy();
    for (LinearModule m : modules) {
      String r = AdapterTensorNames.rankDim(m.name());
      OverridableInputs.addFloat(model, AdapterTensorNames.loraA(m.name()),
          new Object[] {(long) m.inFeatures(), r}, new long[] {m.inFeatures(), 0});
      OverridableInputs.addFloat(model, AdapterTensorNames.loraB(m.name()),
          new Object[] {r, (long) m.outFeatures()}, new long[] {0, m.outFeatures()});
    }
    LowRankBranches.addAll(model, modules, (ops, m) ->
        new LowRankBranches.Factors(AdapterTensorNames.loraA(m.name()), AdapterTensorNames.loraB(m.name())));

    long hidden = base.spec().hidden();
    OverridableInputs.addFloat(model, HEAD_WEIGHT, new Object[] {hidden, LABELS_DIM}, new long[] {hidden, 0});
    OverridableInputs.addFloat(model, HEAD_BIAS, new Object[] {LABELS_DIM}, new long[] {0});
    OverridableInputs.addInt64(model, HEAD_CLS_POOLING, new Object[] {1L}, new long[] {1}, 0);
    HeadNodes head = new HeadNodes(model);
    String pooled = head.pool(HEAD_CLS_POOLING);
    head.embedding(pooled);
    head.classifier(pooled, HEAD_WEIGHT, HEAD_BIAS, LABELS_DIM);
    head.finish();
    return model;
  }
}
