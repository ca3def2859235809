package dev.lora4j.exporter;

import static dev.lora4j.models.adapter.AdapterTensorNames.ADAPTER_INDEX;
import static dev.lora4j.models.adapter.AdapterTensorNames.HEAD_BIAS_STACKED;
import static dev.lora4j.models.adapter.AdapterTensorNames.HEAD_CLS_POOLING_STACKED;
import static dev.lora4j.models.adapter.AdapterTensorNames.HEAD_WEIGHT_STACKED;
import static dev.lora4j.models.adapter.AdapterTensorNames.LABELS_DIM;
import static dev.lora4j.models.adapter.AdapterTensorNames.SLOTS_DIM;
import static dev.lora4j.models.onnx.OnnxBuilders.attr;
import static dev.lora4j.models.onnx.OnnxBuilders.floatValue;
import static dev.lora4j.models.onnx.OnnxBuilders.int64Value;

import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.MixedBatchStacks;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
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
 * <p>Every input is required, unlike the multi-adapter graph's defaults: ONNX Runtime's Java API
 * counts only inputs without an initializer and refuses runs that feed more, so stacks backed by
 * defaults could not be fed from Java at all. A row without adapter is a {@code null} slot in
 * {@link MixedBatchStacks#pack} (zeros, mean pooling). Outputs as the multi-adapter graph;
 * {@code logits} are as wide as the widest slot's label set, padded columns hold
 * {@link AdapterTensorNames#PADDED_LABEL_LOGIT}.
 */
final class MixedBatchGraphWriter {
  private MixedBatchGraphWriter() {}

  public static OnnxModel write(EncoderDescription base) {
    return write(base, base.modules());
  }

  /** The graph with branches on {@code modules} only (see {@link BranchModules}). */
  static OnnxModel write(EncoderDescription base, List<LinearModule> modules) {
    OnnxModel model = base.model().copy();
    model.addInput(int64Value(ADAPTER_INDEX, HeadNodes.batchDim(model)));
    for (LinearModule m : modules) {
      String r = AdapterTensorNames.rankDim(m.name());
      model.addInput(floatValue(AdapterTensorNames.stackedA(m.name()), SLOTS_DIM, (long) m.inFeatures(), r));
      model.addInput(floatValue(AdapterTensorNames.stackedB(m.name()), SLOTS_DIM, r, (long) m.outFeatures()));
    }
    LowRankBranches.addAll(model, modules, (ops, m) -> new LowRankBranches.Factors(
        ops.op("Gather", List.of(AdapterTensorNames.stackedA(m.name()), ADAPTER_INDEX), attr("axis", 0L)),
        ops.op("Gather", List.of(AdapterTensorNames.stackedB(m.name()), ADAPTER_INDEX), attr("axis", 0L))));

    long hidden = base.spec().hidden();
    model.addInput(floatValue(HEAD_WEIGHT_STACKED, SLOTS_DIM, hidden, LABELS_DIM));
    model.addInput(floatValue(HEAD_BIAS_STACKED, SLOTS_DIM, LABELS_DIM));
    model.addInput(int64Value(HEAD_CLS_POOLING_STACKED, SLOTS_DIM));
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

  /**
   * What {@link MixedBatchStacks#pack} needs to shape stacks for this base model, and the modules the
   * multi-adapter graph takes factors for (the same: both graphs get branches on the same modules);
   * export.json records it as {@code adapter_layout}.
   */
  public static MixedBatchStacks.Layout layout(EncoderDescription base) {
    return layout(base, base.modules());
  }

  /** The layout of graphs with branches on {@code modules} only. */
  static MixedBatchStacks.Layout layout(EncoderDescription base, List<LinearModule> modules) {
    return new MixedBatchStacks.Layout(base.spec().hidden(), modules.stream()
        .map(m -> new MixedBatchStacks.ModuleShape(m.name(), m.inFeatures(), m.outFeatures())).toList());
  }
}
