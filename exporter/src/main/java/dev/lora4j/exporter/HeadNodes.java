package dev.lora4j.exporter;

import static dev.lora4j.models.onnx.OnnxBuilders.attr;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.onnx.OnnxBuilders;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.TensorProtos;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto;
import dev.lora4j.models.onnx.proto.Onnx.TensorShapeProto;
import dev.lora4j.models.onnx.proto.Onnx.ValueInfoProto;
import java.util.List;

/**
 * The task head as ONNX nodes after the encoder: pool the last hidden state over the attention
 * mask (mean, or the first token), then either L2-normalise ({@code sentence_embedding}) or apply
 * the classifier ({@code logits}) and softmax ({@code probabilities}). Written with ops that exist
 * since opset 11 in both their old and new spellings (see {@link GraphOps}).
 *
 * <p>Mean pooling is sentence-transformers': {@code sum(h·mask) / max(sum(mask), 1e-9)}; the
 * embedding is {@code v / max(||v||, 1e-12)} like {@code torch.nn.functional.normalize}.
 */
final class HeadNodes {
  static final String ATTENTION_MASK = "attention_mask";

  private final GraphOps ops;
  private final OnnxModel model;
  private final String hidden;
  private final Object batchDim;
  private final int hiddenSize;

  HeadNodes(OnnxModel model) {
    this.model = model;
    this.ops = new GraphOps(model, "/lora4j/head");
    ValueInfoProto out = lastHiddenState(model);
    this.hidden = out.getName();
    List<TensorShapeProto.Dimension> dims = out.getType().getTensorType().getShape().getDimList();
    this.batchDim = batchDim(model);
    this.hiddenSize = dims.size() == 3 && dims.get(2).hasDimValue() ? (int) dims.get(2).getDimValue() : -1;
    if (!model.hasInput(ATTENTION_MASK)) {
      throw new Lora4jException(model.source() + ": the base model has no " + ATTENTION_MASK + " input to pool with");
    }
  }

  /** The encoder output every head reads: the graph output named last_hidden_state, else the first. */
  static ValueInfoProto lastHiddenState(OnnxModel model) {
    return model.outputs().stream().filter(o -> o.getName().equals(AdapterTensorNames.LAST_HIDDEN_STATE)).findFirst()
        .orElseGet(() -> model.outputs().get(0));
  }

  GraphOps ops() {
    return ops;
  }

  /** The batch dimension of the encoder output (symbolic name or size), for inputs with one entry per row. */
  static Object batchDim(OnnxModel model) {
    List<TensorShapeProto.Dimension> dims = lastHiddenState(model).getType().getTensorType().getShape().getDimList();
    if (dims.isEmpty()) {
      return "batch_size";
    }
    return dims.get(0).hasDimValue() ? (Object) dims.get(0).getDimValue() : dims.get(0).getDimParam();
  }

  /** Pooling fixed when the graph is written. */
  String pool(TaskHead.Pooling pooling) {
    return pooling == TaskHead.Pooling.CLS ? clsPool() : meanPool();
  }

  /**
   * Pooling chosen at run time by an int64 flag of shape {@code [1]} (one per run) or
   * {@code [batch]} (one per row): 1 picks the first token, anything else the mean. Both poolings
   * are computed (two cheap reductions) and Where picks, which keeps the choice exact.
   */
  String pool(String clsFlag) {
    String cond = ops.op("Equal", List.of(clsFlag, ops.int64Constant(1)));
    String column = ops.unsqueeze(cond, 1);
    return ops.op("Where", List.of(column, clsPool(), meanPool()));
  }

  private String clsPool() {
    return ops.op("Gather", List.of(hidden, ops.int64Constant(0)), attr("axis", 1L));
  }

  private String meanPool() {
    String mask = ops.op("Cast", List.of(ATTENTION_MASK), attr("to", (long) TensorProto.DataType.FLOAT_VALUE));
    String mask3 = ops.unsqueeze(mask, 2);
    String sum = ops.reduceSum(ops.op("Mul", List.of(hidden, mask3)), 1, false);
    String count = ops.op("Max", List.of(ops.reduceSum(mask3, 1, false), ops.floatScalar(1e-9f)));
    return ops.op("Div", List.of(sum, count));
  }

  /** {@code sentence_embedding}: the pooled vector, L2-normalised. */
  void embedding(String pooled) {
    String squares = ops.reduceSum(ops.op("Mul", List.of(pooled, pooled)), 1, true);
    String norm = ops.op("Max", List.of(ops.op("Sqrt", List.of(squares)), ops.floatScalar(1e-12f)));
    ops.opNamed("Div", List.of(pooled, norm), AdapterTensorNames.SENTENCE_EMBEDDING);
    model.addOutput(OnnxBuilders.floatValue(AdapterTensorNames.SENTENCE_EMBEDDING, batchDim, hiddenSizeOrParam()));
  }

  /** {@code logits = pooled · weightT + bias} with {@code weightT [hidden, labels]}, and softmax. */
  void classifier(String pooled, String weightT, String bias, Object labelsDim) {
    String product = ops.op("MatMul", List.of(pooled, weightT));
    probabilities(ops.opNamed("Add", List.of(product, bias), AdapterTensorNames.LOGITS), labelsDim);
  }

  /** Per-row classifiers: {@code weightT [batch, hidden, labels]}, {@code bias [batch, labels]}. */
  void classifierPerRow(String pooled, String weightT, String bias, Object labelsDim) {
    String row = ops.unsqueeze(pooled, 1); // [batch, 1, hidden]
    String product = ops.squeeze(ops.op("MatMul", List.of(row, weightT)), 1);
    probabilities(ops.opNamed("Add", List.of(product, bias), AdapterTensorNames.LOGITS), labelsDim);
  }

  private void probabilities(String logits, Object labelsDim) {
    // axis 1 means the label axis both before opset 13 (coerced 2-D) and after
    ops.opNamed("Softmax", List.of(logits), AdapterTensorNames.PROBABILITIES, attr("axis", 1L));
    model.addOutput(OnnxBuilders.floatValue(AdapterTensorNames.LOGITS, batchDim, labelsDim));
    model.addOutput(OnnxBuilders.floatValue(AdapterTensorNames.PROBABILITIES, batchDim, labelsDim));
  }

  /** Appends the head's nodes at the end of the graph (they read only the encoder output and inputs). */
  void finish() {
    model.addNodes(ops.drain());
  }

  /** A fixed head: pooling per {@code head}; a classifier unless {@code embeddings} or the head has no weights. */
  static void appendFixed(OnnxModel model, TaskHead head, boolean embeddings) {
    HeadNodes h = new HeadNodes(model);
    String pooled = h.pool(head.pooling());
    if (embeddings || !head.isClassifier()) {
      h.embedding(pooled);
    } else {
      model.putInitializer(TensorProtos.floats(AdapterTensorNames.HEAD_WEIGHT, head.weight().transpose()));
      model.putInitializer(TensorProtos.floats(AdapterTensorNames.HEAD_BIAS, new long[] {head.bias().length}, head.bias()));
      h.classifier(pooled, AdapterTensorNames.HEAD_WEIGHT, AdapterTensorNames.HEAD_BIAS, (long) head.labels().size());
    }
    h.finish();
  }

  private Object hiddenSizeOrParam() {
    return hiddenSize > 0 ? (Object) (long) hiddenSize : "hidden";
  }
}
