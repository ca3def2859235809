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
        assertEquals(layers, count(fused, "MultiHeadAttention"), e.getKey());
        assertEquals(2L * layers, count(fused, "SkipLayerNormalization"), e.getKey());
        assertEquals(count(plain, "Softmax") - layers, count(fused, "Softmax"), e.getKey() + ": attention Softmax left");
        assertEquals(count(plain, "LayerNormalization") - 2L * layers, count(fused, "LayerNormalization"), e.getKey());
        OrtLoraAdapter adapter = e.getKey().equals("multi") ? oa : null;
        assertSameOutputs(plain, fused, adapter, e.getKey());
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
    assertSameOutputs(plain, fused, null, "layer 0 unfused");
  }

  private static void assertSameOutputs(OnnxModel plain, OnnxModel fused, OrtLoraAdapter adapter, String what)
      throws Exception {
    Map<String, Object> want;
    Map<String, Object> got;
    try (Ort p = new Ort(plain); Ort f = new Ort(fused)) {
      want = p.run(SENTENCES, Map.of(), adapter);
      got = f.run(SENTENCES, Map.of(), adapter);
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

  private static long count(OnnxModel m, String op) {
    return m.nodes().stream().filter(n -> n.getOpType().equals(op)).count();
  }
}
