package dev.lora4j.trainer.encoder;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.proto.Onnx.NodeProto;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * The value BERT adds to attention scores of padding tokens, read from the graph: exports compute
 * {@code (1 - mask) * c} with {@code c = -10000} (old transformers) or the float minimum
 * ({@code -3.4e38}, all-MiniLM-L6-v2). Parity with ONNX Runtime on padded batches needs the same
 * {@code c}: with -10000 a padding token keeps a tiny, non-zero weight.
 */
final class MaskConstant {
  private MaskConstant() {}

  /** Follows {@code attention_mask} through Unsqueeze / Cast / Sub to the Mul by a constant. */
  public static float read(OnnxModel model) {
    Deque<String> values = new ArrayDeque<>();
    Set<String> seen = new HashSet<>();
    values.add("attention_mask");
    while (!values.isEmpty()) {
      String v = values.poll();
      for (NodeProto n : model.consumers(v)) {
        switch (n.getOpType()) {
          case "Unsqueeze", "Cast", "Sub", "Reshape", "Expand" -> {
            if (seen.add(n.getOutput(0))) {
              values.add(n.getOutput(0));
            }
          }
          case "Mul" -> {
            String other = n.getInput(0).equals(v) ? n.getInput(1) : n.getInput(0);
            Optional<float[]> c = model.constantFloats(other);
            if (c.isPresent() && c.get().length == 1) {
              return c.get()[0];
            }
          }
          default -> {
            // a consumer that does not lead to the additive mask (e.g. a sequence-length Shape)
          }
        }
      }
    }
    throw new Lora4jException(model.source() + ": cannot find the additive attention mask "
        + "((1 - attention_mask) * constant) in the graph");
  }
}
