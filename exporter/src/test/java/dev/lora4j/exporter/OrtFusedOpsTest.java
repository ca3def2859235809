package dev.lora4j.exporter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtLoraAdapter;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.ortformat.MultiAdapterParameters;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.TensorProtos;
import dev.lora4j.models.onnx.proto.Onnx.NodeProto;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link OrtFusedOps} on float32 graphs of the tiny BERT, where nothing but the fusion differs: ONNX
 * Runtime's output of the fused graph against the same graph unfused, on a padded batch (so the
 * key-padding mask matters), and a layer off the pattern left as it was.
 */
class OrtFusedOpsTest {
  static final EncoderDescription BASE = GraphParityTest.BASE;
  static final List<long[]> SENTENCES = GraphParityTest.SENTENCES;

  @Test
  void fusedGraphsComputeWhatTheUnfusedOnesDo() throws Exception {
    Adapter a = GraphParityTest.sora();
    int layers = BASE.spec().layers();
    try (OrtLoraAdapter oa = OrtLoraAdapter.create(OrtAdapterFile.toBytes(MultiAdapterParameters.of(a)))) {
      for (Map.Entry<String, OnnxModel> e : Map.of(
          "base", BASE.model(),
          "multi", MultiAdapterGraphWriter.write(BASE),
          "factored", FactoredGraphWriter.write(BASE, a, false)).entrySet()) {
        OnnxModel plain = e.getValue();
        OnnxModel fused = plain.copy();
        assertEquals(layers, OrtFusedOps.apply(fused, BASE), e.getKey());
        assertEquals(layers, fusedAttention(fused), e.getKey());
        assertEquals(2L * layers, count(fused, "SkipLayerNormalization"), e.getKey());
        assertEquals(count(plain, "Softmax") - layers, count(fused, "Softmax"), e.getKey() + ": attention Softmax left");
        assertEquals(count(plain, "LayerNormalization") - 2L * layers - 1, count(fused, "LayerNormalization"), e.getKey());
        assertEquals(List.of("EmbedLayerNormalization"), fused.consumers("embeddings.word_embeddings.weight").stream()
            .map(NodeProto::getOpType).toList(), e.getKey() + ": the word lookup is left");
        assertEquals(0, fused.consumers("embeddings.position_ids").size(), e.getKey() + ": the position Slice is left");
        OrtLoraAdapter adapter = e.getKey().equals("multi") ? oa : null;
        assertSameOutputs(plain, fused, adapter, SENTENCES, e.getKey()); // padded: the masked branch
        for (long[] one : SENTENCES) { // one sentence, no padding: the unmasked branch
          assertSameOutputs(plain, fused, adapter, List.of(one), e.getKey() + ", " + one.length + " tokens alone");
        }
      }
    }
  }

  @Test
  void aLayerOffThePatternIsLeftUnfused() throws Exception {
    // layer 0 scales by Mul(1/sqrt(d)) instead of Div(sqrt(d)): same maths, not the pattern
    OnnxModel plain = BASE.model().copy();
    String inv = "/test/inv_sqrt_head_dim";
    plain.putInitializer(TensorProtos.floats(inv, new long[0], (float) (1 / Math.sqrt(BASE.spec().headDim()))));
    List<NodeProto> nodes = new java.util.ArrayList<>(plain.nodes());
    int div = plain.indexOfNode("/encoder/layer.0/attention/self/Div");
    assertTrue(div >= 0, "tiny BERT changed: no layer-0 scale Div");
    nodes.set(div, nodes.get(div).toBuilder().setOpType("Mul").setInput(1, inv).build());
    plain.graph().clearNode().addAllNode(nodes);

    OnnxModel fused = plain.copy();
    assertEquals(BASE.spec().layers() - 1, OrtFusedOps.apply(fused, BASE));
    assertEquals(1, count(fused, "Softmax"), "layer 0 keeps its own attention");
    assertSameOutputs(plain, fused, null, SENTENCES, "layer 0 unfused");
  }

  @Test
  void positionsThatDoNotStartAtZeroAreLeftToTheLookups() throws Exception {
    // RoBERTa-style positions, offset past a padding index: the fused kernel would use 0..S-1
    OnnxModel plain = BASE.model().copy();
    long[] offset = new long[(int) plain.initializer("embeddings.position_ids").orElseThrow().getDims(1)];
    for (int i = 0; i < offset.length; i++) {
      offset[i] = Math.min(i + 2, offset.length - 1);
    }
    plain.putInitializer(TensorProtos.int64s("embeddings.position_ids", new long[] {1, offset.length}, offset));

    OnnxModel fused = plain.copy();
    assertEquals(false, OrtFusedOps.embeddings(fused, BASE));
    assertEquals(BASE.spec().layers(), OrtFusedOps.apply(fused, BASE), "the layers still fuse");
    assertEquals(0, count(fused, "EmbedLayerNormalization"));
    assertSameOutputs(plain, fused, null, SENTENCES, "offset positions");
  }

  private static void assertSameOutputs(OnnxModel plain, OnnxModel fused, OrtLoraAdapter adapter,
      List<long[]> sentences, String what) throws Exception {
    Map<String, Object> want;
    Map<String, Object> got;
    try (Ort p = new Ort(plain); Ort f = new Ort(fused)) {
      want = p.run(sentences, Map.of(), adapter);
      got = f.run(sentences, Map.of(), adapter);
    }
    assertEquals(want.keySet(), got.keySet(), what);
    for (String name : want.keySet()) {
      float[] w = flat(want.get(name));
      float[] g = flat(got.get(name));
      assertEquals(w.length, g.length, what + " " + name);
      for (int i = 0; i < w.length; i++) {
        // float32 kernels that sum in another order (softmax, LayerNorm statistics): a few ulps of
        // values of order one, taken generously; a wrong scale, mask or epsilon moves them by 1e-2 and more
        assertEquals(w[i], g[i], 1e-5 * (1 + Math.abs(w[i])), what + " " + name + " [" + i + "]");
      }
    }
  }

  private static float[] flat(Object value) {
    if (value instanceof float[] f) {
      return f;
    }
    if (value instanceof Object[] rows) {
      List<float[]> parts = new java.util.ArrayList<>();
      int n = 0;
      for (Object r : rows) {
        float[] f = flat(r);
        parts.add(f);
        n += f.length;
      }
      float[] out = new float[n];
      int at = 0;
      for (float[] f : parts) {
        System.arraycopy(f, 0, out, at, f.length);
        at += f.length;
      }
      return out;
    }
    if (value instanceof long[] l) {
      float[] out = new float[l.length];
      for (int i = 0; i < l.length; i++) {
        out[i] = l[i];
      }
      return out;
    }
    throw new IllegalArgumentException("unexpected output type " + value.getClass());
  }

  /**
   * Layers with fused attention: each an {@code If} on the no-padding flag whose then-branch is one
   * MultiHeadAttention without a mask and whose else-branch is one with the int32 key padding mask,
   * both on the same q, k, v. Any other MultiHeadAttention at the top level fails the count.
   */
  static long fusedAttention(OnnxModel m) {
    assertEquals(0, count(m, "MultiHeadAttention"), "MultiHeadAttention outside an If");
    long n = 0;
    for (NodeProto node : m.nodes()) {
      if (!node.getOpType().equals("If")) {
        continue;
      }
      NodeProto then = only(node, "then_branch");
      NodeProto otherwise = only(node, "else_branch");
      assertEquals(List.of("MultiHeadAttention", "MultiHeadAttention"), List.of(then.getOpType(), otherwise.getOpType()));
      assertEquals(3, then.getInputCount(), node.getName() + ": the unmasked branch takes q, k, v only");
      assertEquals(then.getInputList(), otherwise.getInputList().subList(0, 3), node.getName());
      assertEquals(5, otherwise.getInputCount(), node.getName() + ": the masked branch takes the key padding mask");
      assertTrue(otherwise.getInput(4).endsWith("attention_mask_int32"), node.getName());
      assertEquals(then.getAttributeList(), otherwise.getAttributeList(), node.getName() + ": heads and scale differ");
      n++;
    }
    return n;
  }

  private static NodeProto only(NodeProto n, String branch) {
    dev.lora4j.models.onnx.proto.Onnx.GraphProto g = n.getAttributeList().stream()
        .filter(a -> a.getName().equals(branch)).findFirst().orElseThrow().getG();
    assertEquals(1, g.getNodeCount(), n.getName() + " " + branch);
    return g.getNode(0);
  }

  private static long count(OnnxModel m, String op) {
    return m.nodes().stream().filter(n -> n.getOpType().equals(op)).count();
  }
}
