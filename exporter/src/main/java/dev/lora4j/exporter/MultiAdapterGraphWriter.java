package dev.lora4j.exporter;

import static dev.lora4j.models.adapter.AdapterTensorNames.HEAD_BIAS;
import static dev.lora4j.models.adapter.AdapterTensorNames.HEAD_CLS_POOLING;
import static dev.lora4j.models.adapter.AdapterTensorNames.HEAD_WEIGHT;
import static dev.lora4j.models.adapter.AdapterTensorNames.LABELS_DIM;

import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.onnx.OnnxModel;

/**
 * The multi-adapter base graph: one graph for every adapter of the base model, the adapter chosen
 * per run by feeding its tensors (ONNX Runtime: {@code RunOptions.addActiveLoraAdapter}).
 *
 * <p>Every adaptable module gets a branch whose factors are graph inputs
 * {@code <module>.lora_A [in, r.<module>]} and {@code <module>.lora_B [r.<module>, out]}, each rank
 * its own symbolic dimension because pruning leaves different ranks per module. All modules, not
 * just one adapter's, so the graph is independent of the adapters: one file per base model, and an
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
    OnnxModel model = base.model().copy();
    for (LinearModule m : base.modules()) {
      String r = AdapterTensorNames.rankDim(m.name());
      OverridableInputs.addFloat(model, AdapterTensorNames.loraA(m.name()),
          new Object[] {(long) m.inFeatures(), r}, new long[] {m.inFeatures(), 0});
      OverridableInputs.addFloat(model, AdapterTensorNames.loraB(m.name()),
          new Object[] {r, (long) m.outFeatures()}, new long[] {0, m.outFeatures()});
    }
    LowRankBranches.addAll(model, base.modules(), (ops, m) ->
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
