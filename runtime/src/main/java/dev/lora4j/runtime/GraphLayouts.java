package dev.lora4j.runtime;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.MixedBatchStacks;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.proto.Onnx.TensorShapeProto;
import dev.lora4j.models.onnx.proto.Onnx.ValueInfoProto;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads which modules a multi-adapter base graph can adapt, and their shapes, from the graph's
 * declared inputs: the graph is the authority on what an adapter may feed. (ONNX Runtime's session
 * does not list inputs that have a default initializer, so this reads the ONNX file itself.)
 */
final class GraphLayouts {
  private static final String A_SUFFIX = AdapterTensorNames.loraA("");

  private GraphLayouts() {}

  static MixedBatchStacks.Layout of(OnnxModel multi) {
    String what = multi.source();
    Map<String, ValueInfoProto> inputs = new HashMap<>();
    multi.inputs().forEach(v -> inputs.put(v.getName(), v));
    List<MixedBatchStacks.ModuleShape> modules = new ArrayList<>();
    for (ValueInfoProto a : multi.inputs()) {
      String name = a.getName();
      if (!name.endsWith(A_SUFFIX)) {
        continue;
      }
      String module = name.substring(0, name.length() - A_SUFFIX.length());
      ValueInfoProto b = inputs.get(AdapterTensorNames.loraB(module));
      if (b == null) {
        throw new Lora4jException(what + ": input " + name + " has no " + AdapterTensorNames.loraB(module));
      }
      modules.add(new MixedBatchStacks.ModuleShape(module, fixedDim(a, 0, what), fixedDim(b, 1, what)));
    }
    ValueInfoProto head = inputs.get(AdapterTensorNames.HEAD_WEIGHT);
    if (head == null || modules.isEmpty()) {
      throw new Lora4jException(what + ": not a multi-adapter base graph (no adapter inputs); export it with "
          + "--format multi");
    }
    return new MixedBatchStacks.Layout(fixedDim(head, 0, what), modules);
  }

  private static int fixedDim(ValueInfoProto v, int axis, String what) {
    TensorShapeProto shape = v.getType().getTensorType().getShape();
    if (shape.getDimCount() <= axis || !shape.getDim(axis).hasDimValue()) {
      throw new Lora4jException(what + ": input " + v.getName() + " has no fixed dimension " + axis);
    }
    return (int) shape.getDim(axis).getDimValue();
  }
}
