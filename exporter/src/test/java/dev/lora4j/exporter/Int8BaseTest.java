package dev.lora4j.exporter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtLoraAdapter;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.ortformat.MultiAdapterParameters;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.base.ModuleKind;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.proto.Onnx.NodeProto;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto;
import dev.lora4j.models.onnx.proto.Onnx.TypeProto;
import dev.lora4j.models.onnx.proto.Onnx.ValueInfoProto;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.export.ExportManifest;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The int8-base graphs ({@link Int8BaseWriter}) on the tiny BERT: ONNX Runtime's output of every
 * quantized MatMul against a plain-Java model of the integer maths, the float32 adapter branches
 * left exactly as they were, which nodes are (not) quantized and which share one int8 node.
 */
class Int8BaseTest {
  static final EncoderDescription BASE = GraphParityTest.BASE;
  static final List<long[]> SENTENCES = GraphParityTest.SENTENCES;

  @Test
  void int8MatMulsMatchAJavaModelOfTheIntegerMaths() throws Exception {
    OnnxModel q = Int8BaseWriter.quantize(BASE.model(), BASE);
    for (LinearModule m : BASE.modules()) {
      expose(q, read(q, m));
      expose(q, m.output());
    }
    Map<String, Object> out;
    try (Ort ort = new Ort(q)) {
      out = ort.run(SENTENCES);
    }
    double worstQuantError = 0;
    for (LinearModule m : BASE.modules()) {
      float[][] x = rows(out.get(read(q, m)));
      float[][] y = rows(out.get(m.output())); // x·W + b: the bias is folded into the int8 node
      Matrix w = BASE.model().floatInitializer(m.weightInitializer()).asMatrix(); // W^T [in, out]
      float[] b = BASE.model().floatInitializer(m.biasInitializer()).data();
      Reference ref = new Reference(x, w);
      for (int t = 0; t < x.length; t++) {
        for (int j = 0; j < w.cols(); j++) {
          double want = ref.y(t, j) + b[j];
          // Same integers on both sides, so what may differ is float32 rounding of scale·acc + b
          // (relative 1e-6, taken 10x) and, where x/scale lands within rounding of .5, one
          // activation rounded to the neighbouring step: one step times the largest |W| of the column.
          double tol = 1e-5 * (Math.abs(want) + Math.abs(b[j])) + ref.xScale * ref.wAbsMax[j] * 1.01;
          assertEquals(want, y[t][j], tol, m.name() + " row " + t + " column " + j);
          double exact = b[j];
          for (int i = 0; i < w.rows(); i++) {
            exact += (double) x[t][i] * w.get(i, j);
          }
          worstQuantError = Math.max(worstQuantError, Math.abs(exact - y[t][j]) / (ref.xScale * ref.wAbsMax[j]));
        }
      }
    }
    // the graph must really be int8: float32 maths would miss the reference by far more than the tolerance
    assertTrue(worstQuantError > 1.5, "float32-exact MatMuls? worst error " + worstQuantError + " steps");
  }

  /**
   * Padded positions enter the first layer as zeros, so they cannot widen its activation range
   * (DynamicQuantizeLinear's range is the tensor's min and max, always widened to hold 0): real
   * positions pass unchanged, padded ones are exactly 0, and a sentence's first int8 product is the
   * same alone and padded beside a one-token sentence. Without the mask the first two checks fail;
   * on the tiny model the padded embeddings happen to stay inside the real ones' range, so the third
   * guards the mask's shape (a mask over the wrong axis zeroes real values), not the range itself.
   */
  @Test
  void paddingDoesNotChangeTheFirstLayersInt8Products() throws Exception {
    OnnxModel q = Int8BaseWriter.quantize(BASE.model(), BASE);
    LinearModule q0 = BASE.requireModule(ModuleKind.QUERY.moduleName(0));
    String x = read(q, q0);
    assertFalse(x.equals(q0.input()), "the int8 node reads the embeddings as they are");
    expose(q, x);
    expose(q, q0.input());
    expose(q, q0.output());
    long[] shortest = SENTENCES.get(2);
    Map<String, Object> alone;
    Map<String, Object> padded;
    try (Ort ort = new Ort(q)) {
      alone = ort.run(List.of(shortest));
      padded = ort.run(List.of(shortest, SENTENCES.get(1))); // padded from 5 to 9 positions
    }
    float[][][] in = (float[][][]) padded.get(x);
    float[][][] embeddings = (float[][][]) padded.get(q0.input());
    for (int t = 0; t < in[0].length; t++) {
      if (t < shortest.length) {
        assertArrayEquals(embeddings[0][t], in[0][t], 0f, "a real position passes unchanged");
      } else {
        assertArrayEquals(new float[in[0][t].length], in[0][t], 0f, "padded position " + t);
      }
    }
    // beside a longer sentence the batch range is the longer one's too: compare with a batch whose
    // other row is one real token (the short sentence's own first) and padding
    Map<String, Object> selfPadded;
    try (Ort ort = new Ort(q)) {
      selfPadded = ort.run(List.of(shortest, java.util.Arrays.copyOf(shortest, 1)));
    }
    float[][][] a = (float[][][]) alone.get(q0.output());
    float[][][] b = (float[][][]) selfPadded.get(q0.output());
    for (int t = 0; t < shortest.length; t++) {
      assertArrayEquals(a[0][t], b[0][t], 1e-6f, "position " + t + " of the short sentence");
    }
  }

  /** The value {@code m}'s int8 node reads: its input, or for the first layer the masked one. */
  private static String read(OnnxModel q, LinearModule m) {
    return Packed.of(q, m).node().getInput(0);
  }

  @Test
  void matMulsReadingOneActivationShareOneInt8Node() {
    OnnxModel q = Int8BaseWriter.quantize(MultiAdapterGraphWriter.write(BASE), BASE);
    for (int layer = 0; layer < BASE.spec().layers(); layer++) {
      Packed query = Packed.of(q, BASE.requireModule(ModuleKind.QUERY.moduleName(layer)));
      Packed key = Packed.of(q, BASE.requireModule(ModuleKind.KEY.moduleName(layer)));
      Packed value = Packed.of(q, BASE.requireModule(ModuleKind.VALUE.moduleName(layer)));
      assertEquals(query.node(), key.node(), "layer " + layer);
      assertEquals(query.node(), value.node(), "layer " + layer);
      assertEquals(List.of(0, 1, 2), List.of(query.column() / BASE.spec().hidden(), key.column() / BASE.spec().hidden(),
          value.column() / BASE.spec().hidden()), "layer " + layer);
      // the other three read activations of their own: one node each, writing the module output itself
      for (ModuleKind alone : List.of(ModuleKind.ATTENTION_OUTPUT, ModuleKind.INTERMEDIATE, ModuleKind.OUTPUT)) {
        LinearModule m = BASE.requireModule(alone.moduleName(layer));
        Packed p = Packed.of(q, m);
        assertEquals(List.of(m.output()), p.node().getOutputList(), alone + " layer " + layer);
      }
    }
  }

  @Test
  void int8MultiGraphKeepsTheAdapterBranchFloat32AndSwappable() throws Exception {
    OnnxModel q = Int8BaseWriter.quantize(MultiAdapterGraphWriter.write(BASE), BASE);
    Map<String, String> branchOf = new LinkedHashMap<>();
    for (LinearModule m : BASE.modules()) {
      NodeProto join = q.consumers(m.output()).stream()
          .filter(n -> n.getOpType().equals("Add") && n.getName().startsWith("/lora4j/")).findFirst().orElseThrow();
      String branch = join.getInput(1); // (x A'^T) B'^T
      branchOf.put(m.name(), branch);
      expose(q, read(q, m));
      expose(q, branch);
    }
    Adapter a = GraphParityTest.sora();
    Adapter b = GraphParityTest.lora();
    try (Ort ort = new Ort(q);
        OrtLoraAdapter oa = OrtLoraAdapter.create(OrtAdapterFile.toBytes(MultiAdapterParameters.of(a)));
        OrtLoraAdapter ob = OrtLoraAdapter.create(OrtAdapterFile.toBytes(MultiAdapterParameters.of(b)))) {
      for (Adapter adapter : java.util.Arrays.asList(a, b, null, a)) {
        Map<String, Object> out = ort.run(SENTENCES, Map.of(), adapter == null ? null : adapter == a ? oa : ob);
        for (LinearModule m : BASE.modules()) {
          float[][] x = rows(out.get(read(q, m))); // the branch reads what the int8 node reads
          float[][] branch = rows(out.get(branchOf.get(m.name())));
          var lr = adapter == null ? null : adapter.modules().get(m.name());
          Matrix delta = lr == null ? null : Expected.delta(lr); // [out, in], from the formula
          for (int t = 0; t < x.length; t++) {
            for (int j = 0; j < m.outFeatures(); j++) {
              double want = 0;
              double mag = 0;
              for (int i = 0; delta != null && i < m.inFeatures(); i++) {
                want += (double) x[t][i] * delta.get(j, i);
                mag += Math.abs((double) x[t][i] * delta.get(j, i));
              }
              // float32 branch maths on the same x: float32 rounding over two short sums only
              assertEquals(want, branch[t][j], 1e-5 * mag + 1e-7,
                  (adapter == null ? "no adapter" : adapter.name()) + " " + m.name() + " row " + t);
            }
          }
        }
      }
    }
  }

  @Test
  void everyConstantWeightBaseMatMulIsQuantizedAndNoAdapterOrHeadMatMul() {
    Set<String> baseLinear = BASE.modules().stream().map(LinearModule::matMulNode).collect(Collectors.toSet());
    assertEquals(baseLinear, Int8BaseWriter.constantWeightMatMuls(BASE.model()));
    Adapter a = GraphParityTest.sora();
    Map<String, OnnxModel> graphs = new LinkedHashMap<>();
    graphs.put("merged", MergedGraphWriter.write(BASE, a, false));
    graphs.put("factored", FactoredGraphWriter.write(BASE, a, false));
    graphs.put("multi", MultiAdapterGraphWriter.write(BASE));
    graphs.put("mixed", MixedBatchGraphWriter.write(BASE));
    for (Map.Entry<String, OnnxModel> e : graphs.entrySet()) {
      OnnxModel f = e.getValue();
      OnnxModel q = Int8BaseWriter.quantize(f, BASE);
      int layers = BASE.spec().layers();
      // six modules a layer, query / key / value in one node: four int8 nodes a layer
      assertEquals(4L * layers, count(q, "DynamicQuantizeMatMul"), e.getKey());
      for (LinearModule m : BASE.modules()) {
        Packed.of(q, m); // every module's output comes from an int8 node (or its Split)
      }
      // and attention's two activation products went into MultiHeadAttention, one a layer
      assertEquals(count(f, "MatMul") - baseLinear.size() - 2L * layers, count(q, "MatMul"), e.getKey());
      assertEquals(layers, OrtFusedOpsTest.fusedAttention(q), e.getKey());
      assertEquals(2L * layers, count(q, "SkipLayerNormalization"), e.getKey());
      for (NodeProto n : q.nodes()) {
        if (n.getOpType().equals("MatMul")) {
          assertFalse(baseLinear.contains(n.getName()), e.getKey() + ": float MatMul left at " + n.getName());
        }
      }
      // every MatMul the writers added (branches, head) is still there, float32
      for (NodeProto n : f.nodes()) {
        if (n.getOpType().equals("MatMul") && n.getName().startsWith("/lora4j/")) {
          assertEquals(1, q.nodes().stream().filter(x -> x.getName().equals(n.getName())
              && x.getOpType().equals("MatMul")).count(), e.getKey() + ": " + n.getName());
        }
      }
      // and the float weights are gone, or the int8 file would be larger than the float one
      for (LinearModule m : BASE.modules()) {
        assertTrue(q.initializer(m.weightInitializer()).isEmpty(), e.getKey() + " keeps " + m.weightInitializer());
      }
      // nor does a folded bias stay behind: ONNX Runtime warns once per unread initializer on every load
      Set<String> read = q.nodes().stream().flatMap(n -> n.getInputList().stream()).collect(Collectors.toSet());
      q.inputs().forEach(i -> read.add(i.getName()));
      List<String> unread = q.initializers().stream().map(TensorProto::getName).filter(n -> !read.contains(n)).toList();
      assertEquals(List.of(), unread, e.getKey() + ": initializers no node reads");
      assertTrue(q.toBytes().length < f.toBytes().length, e.getKey());
    }
  }

  @Test
  void mergedInt8QuantizesTheMergedWeights() {
    Adapter a = GraphParityTest.lora();
    OnnxModel q = Int8BaseWriter.quantize(MergedGraphWriter.write(BASE, a, false), BASE);
    for (var e : a.modules().entrySet()) {
      LinearModule m = BASE.requireModule(e.getKey());
      Matrix w = BASE.model().floatInitializer(m.weightInitializer()).asMatrix(); // W^T [in, out]
      Matrix delta = Expected.delta(e.getValue()); // [out, in]
      Packed p = Packed.of(q, m);
      byte[] wq = p.weights(q);
      float[] scale = java.util.Arrays.copyOfRange(p.scales(q), p.column(), p.column() + w.cols());
      int stride = p.columns(q);
      double moved = 0;
      for (int i = 0; i < w.rows(); i++) {
        for (int j = 0; j < w.cols(); j++) {
          double dequantized = wq[i * stride + p.column() + j] * (double) scale[j];
          double merged = w.get(i, j) + delta.get(j, i);
          // round to nearest: within half a step of the merged weight (float32 slack of 0.1 %)
          assertEquals(merged, dequantized, scale[j] * 0.501, m.name() + " [" + i + ", " + j + "]");
          moved = Math.max(moved, Math.abs(dequantized - w.get(i, j)) / scale[j]);
        }
      }
      // the update is large enough to move weights by steps: quantizing the base alone would fail above
      assertTrue(moved > 2, m.name() + ": update moved weights by at most " + moved + " steps");
    }
  }

  @Test
  void exportJsonListsTheInt8GraphsAndTheirHashes(@TempDir Path tmp) throws Exception {
    BaseModelFiles files = TinyBert.writeBase(tmp.resolve("base"), 5).files();
    Adapter a = GraphParityTest.lora();
    Adapter bound = new Adapter(a.name(), new BaseModelRef("tiny", files.onnxSha256()), a.modules(), a.head(),
        a.provenance());
    Path out = tmp.resolve("export");
    ExportBundle.export(ExportRequest.of(files, List.of(bound), EnumSet.of(ExportFormat.MERGED, ExportFormat.FACTORED,
        ExportFormat.MULTI, ExportFormat.MIXED, ExportFormat.PEFT), out).withInt8Base(true), line -> { });
    ExportManifest m = ExportManifest.read(out);
    assertEquals(Map.of("base.multi.onnx", "base.multi.int8.onnx", "base.mixed.onnx", "base.mixed.int8.onnx",
        "lora.merged.onnx", "lora.merged.int8.onnx", "lora.factored.onnx", "lora.factored.int8.onnx"), m.int8Graphs());
    for (String q : m.int8Graphs().values()) {
      assertEquals(sha256(out.resolve(q)), m.sha256().get(q), q);
      assertEquals(4L * BASE.spec().layers(), count(OnnxModel.read(out.resolve(q)), "DynamicQuantizeMatMul"), q);
    }
    // without the flag: no int8 files, none listed
    Path plain = tmp.resolve("plain");
    ExportBundle.export(ExportRequest.of(files, List.of(bound), EnumSet.of(ExportFormat.MULTI), plain), line -> { });
    assertTrue(ExportManifest.read(plain).int8Graphs().isEmpty());
    try (var list = Files.list(plain)) {
      assertTrue(list.noneMatch(f -> f.getFileName().toString().contains("int8")));
    }
  }

  @Test
  void quantizeWithoutAGraphFormatIsRefused(@TempDir Path tmp) throws Exception {
    BaseModelFiles files = TinyBert.writeBase(tmp.resolve("base"), 5).files();
    Lora4jException e = assertThrows(Lora4jException.class, () -> ExportBundle.export(ExportRequest.of(files,
        List.of(GraphParityTest.lora()), EnumSet.of(ExportFormat.PEFT), tmp.resolve("out")).withInt8Base(true),
        line -> { }));
    assertTrue(e.getMessage().contains("no graph format"), e.getMessage());
    assertFalse(Files.exists(tmp.resolve("out")));
  }

  /** Where a module's int8 weights live: its DynamicQuantizeMatMul and its first column there. */
  record Packed(NodeProto node, int column) {
    static Packed of(OnnxModel q, LinearModule m) {
      NodeProto p = q.producer(m.output()).orElseThrow();
      if (p.getOpType().equals("DynamicQuantizeMatMul")) {
        return new Packed(p, 0);
      }
      assertEquals("Split", p.getOpType(), m.name());
      long[] sizes = p.getAttributeList().stream().filter(a -> a.getName().equals("split")).findFirst()
          .map(a -> a.getIntsList().stream().mapToLong(Long::longValue).toArray())
          .orElseGet(() -> q.constantLongs(p.getInput(1)).orElseThrow());
      int column = 0;
      for (int i = 0; !p.getOutput(i).equals(m.output()); i++) {
        column += (int) sizes[i];
      }
      NodeProto d = q.producer(p.getInput(0)).orElseThrow();
      assertEquals("DynamicQuantizeMatMul", d.getOpType(), m.name());
      return new Packed(d, column);
    }

    byte[] weights(OnnxModel q) {
      return q.initializer(node.getInput(1)).orElseThrow().getRawData().toByteArray();
    }

    float[] scales(OnnxModel q) {
      return q.floatInitializer(node.getInput(2)).data();
    }

    int columns(OnnxModel q) {
      return (int) q.initializer(node.getInput(1)).orElseThrow().getDims(1);
    }
  }

  /** SHA-256 by the JDK, not by the code under test. */
  private static String sha256(Path f) throws Exception {
    return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
        .digest(Files.readAllBytes(f)));
  }

  private static long count(OnnxModel m, String op) {
    return m.nodes().stream().filter(n -> n.getOpType().equals(op)).count();
  }

  /** {@code value} as a graph output too, so a run returns it. */
  static void expose(OnnxModel m, String value) {
    if (m.outputs().stream().noneMatch(o -> o.getName().equals(value))) {
      m.addOutput(ValueInfoProto.newBuilder().setName(value).setType(TypeProto.newBuilder()
          .setTensorType(TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE))).build());
    }
  }

  /** A {@code [batch, seq, n]} output as rows of n. */
  static float[][] rows(Object value) {
    float[][][] v = (float[][][]) value;
    float[][] out = new float[v.length * v[0].length][];
    for (int b = 0; b < v.length; b++) {
      for (int t = 0; t < v[b].length; t++) {
        out[b * v[0].length + t] = v[b][t];
      }
    }
    return out;
  }

  /**
   * The dynamic int8 MatMul written out from the ONNX operator definitions, independent of the
   * writer: DynamicQuantizeLinear (uint8, scale over the whole tensor, range widened to hold 0),
   * symmetric per-column int8 weights, exact integer dot products, then both scales.
   */
  static final class Reference {
    final double xScale;
    final double[] wAbsMax;
    private final int[][] xq;
    private final int xZero;
    private final int[][] wq;
    private final double[] wScale;

    Reference(float[][] x, Matrix w) {
      float min = 0;
      float max = 0;
      for (float[] r : x) {
        for (float v : r) {
          min = Math.min(min, v);
          max = Math.max(max, v);
        }
      }
      float scale = (max - min) / 255f;
      xScale = scale;
      xZero = (int) Math.max(0, Math.min(255, Math.rint(-min / scale)));
      xq = new int[x.length][];
      for (int t = 0; t < x.length; t++) {
        xq[t] = new int[x[t].length];
        for (int i = 0; i < x[t].length; i++) {
          xq[t][i] = (int) Math.max(0, Math.min(255, Math.rint(x[t][i] / scale) + xZero));
        }
      }
      wAbsMax = new double[w.cols()];
      wScale = new double[w.cols()];
      wq = new int[w.rows()][w.cols()];
      for (int j = 0; j < w.cols(); j++) {
        for (int i = 0; i < w.rows(); i++) {
          wAbsMax[j] = Math.max(wAbsMax[j], Math.abs(w.get(i, j)));
        }
        wScale[j] = (float) (wAbsMax[j] / 127);
        for (int i = 0; i < w.rows(); i++) {
          wq[i][j] = (int) Math.max(-127, Math.min(127, Math.rint(w.get(i, j) / wScale[j])));
        }
      }
    }

    double y(int t, int j) {
      long acc = 0;
      for (int i = 0; i < xq[t].length; i++) {
        acc += (long) (xq[t][i] - xZero) * wq[i][j];
      }
      return acc * xScale * wScale[j];
    }
  }
}
