package dev.lora4j.exporter.graph;

import static dev.lora4j.models.adapter.AdapterTensorNames.ADAPTER_INDEX;
import static dev.lora4j.models.adapter.AdapterTensorNames.HEAD_BIAS_STACKED;
import static dev.lora4j.models.adapter.AdapterTensorNames.HEAD_CLS_POOLING_STACKED;
import static dev.lora4j.models.adapter.AdapterTensorNames.HEAD_WEIGHT_STACKED;
import static dev.lora4j.models.adapter.AdapterTensorNames.LABELS_DIM;
import static dev.lora4j.models.adapter.AdapterTensorNames.SLOTS_DIM;
import static dev.lora4j.models.onnx.OnnxBuilders.attr;

import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.MixedBatchStacks;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.onnx.OnnxBuilders;
import dev.lora4j.models.onnx.OnnxModel;
import java.util.List;

/**
 * The mixed-batch base graph: every row of a batch may use a different adapter. Adapters come as
 * stacks (one slot each, packed by {@link MixedBatchStacks#pack}): per module
 * {@code <module>.lora_A.stacked [slots, in, r.<module>]} and {@code <module>.lora_B.stacked
 * [slots, r.<module>, out]}, ranks zero-padded to the widest slot, plus per-slot head stacks.
 * The int64 input {@code adapter_index [batch]} names each row's slot; the graph gathers each row's
 * factors and runs the branch as a batched MatMul — plain ONNX ops, no custom kernel.
 *
 * <p>Stacks default to one empty slot, so with {@code adapter_index} all zero and nothing else fed
 * the graph is the plain base model. Outputs as the multi-adapter graph; {@code logits} are as wide
 * as the widest slot's label set, padded columns hold
 * {@link AdapterTensorNames#PADDED_LABEL_LOGIT}.
 */
public final class MixedBatchGraphWriter {
  private MixedBatchGraphWriter() {}

  public static OnnxModel write(EncoderDescription base) {
    OnnxModel model = base.model().copy();
    model.addInput(OnnxBuilders.int64Value(ADAPTER_INDEX, HeadNodes.batchDim(model)));
    for (LinearModule m : base.modules()) {
      String r = AdapterTensorNames.rankDim(m.name());
      OverridableInputs.addFloat(model, AdapterTensorNames.stackedA(m.name()),
          new Object[] {SLOTS_DIM, (long) m.inFeatures(), r}, new long[] {1, m.inFeatures(), 0});
      OverridableInputs.addFloat(model, AdapterTensorNames.stackedB(m.name()),
          new Object[] {SLOTS_DIM, r, (long) m.outFeatures()}, new long[] {1, 0, m.outFeatures()});
    }
    LowRankBranches.addAll(model, base.modules(), (ops, m) -> new LowRankBranches.Factors(
        ops.op("Gather", List.of(AdapterTensorNames.stackedA(m.name()), ADAPTER_INDEX), attr("axis", 0L)),
        ops.op("Gather", List.of(AdapterTensorNames.stackedB(m.name()), ADAPTER_INDEX), attr("axis", 0L))));

    long hidden = base.spec().hidden();
    OverridableInputs.addFloat(model, HEAD_WEIGHT_STACKED, new Object[] {SLOTS_DIM, hidden, LABELS_DIM},
        new long[] {1, hidden, 0});
    OverridableInputs.addFloat(model, HEAD_BIAS_STACKED, new Object[] {SLOTS_DIM, LABELS_DIM}, new long[] {1, 0});
    OverridableInputs.addInt64(model, HEAD_CLS_POOLING_STACKED, new Object[] {SLOTS_DIM}, new long[] {1}, 0);
    HeadNodes head = new HeadNodes(model);
    GraphOps ops = head.ops();
    String flag = ops.op("Gather", List.of(HEAD_CLS_POOLING_STACKED, ADAPTER_INDEX), attr("axis", 0L));
    String pooled = head.pool(flag);
    head.embedding(pooled);
    head.classifierPerRow(pooled,
        ops.op("Gather", List.of(HEAD_WEIGHT_STACKED, ADAPTER_INDEX), attr("axis", 0L)),
        ops.op("Gather", List.of(HEAD_BIAS_STACKED, ADAPTER_INDEX), attr("axis", 0L)),
        LABELS_DIM);
    head.finish();
    return model;
  }

  /** What {@link MixedBatchStacks#pack} needs to shape stacks for this base model. */
  public static MixedBatchStacks.Layout layout(EncoderDescription base) {
    return new MixedBatchStacks.Layout(base.spec().hidden(), base.modules().stream()
        .map(m -> new MixedBatchStacks.ModuleShape(m.name(), m.inFeatures(), m.outFeatures())).toList());
  }
}
