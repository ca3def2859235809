package dev.lora4j.exporter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.base.ModuleKind;
import dev.lora4j.models.onnx.OnnxModel;
import dev.lora4j.models.onnx.TensorProtos;
import dev.lora4j.models.onnx.proto.Onnx.NodeProto;
import dev.lora4j.models.tensor.FloatTensor;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.models.text.Encoding;
import dev.lora4j.models.text.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The int8 base calibrated on texts ({@link ActivationRanges}, SmoothQuant in {@link Int8BaseWriter}):
 * the measured ranges against a plain maximum over the same runs, the rewritten products against the
 * integer maths of rescaled inputs and weights (scales computed here from the formula), and the point
 * of it all: where one channel dominates an activation, the int8 error shrinks.
 */
class Int8SmoothingTest {
  static final EncoderDescription BASE = Int8BaseTest.BASE;
  static final List<String> TEXTS = List.of("the film was really great .", "a boring , tedious mess",
      "i loved the acting but not the plot", "this movie is the worst !", "we love it", "one charming story",
      "the characters were dull and the end was awful", "brilliant , moving and very fun");

  @TempDir Path dir;

  @Test
  void measuredRangesAreEachChannelsLargestMagnitudeOverTheTexts() throws Exception {
    Path tokenizer = tokenizer();
    ActivationRanges ranges = ActivationRanges.measure(BASE.model(), tokenizer, TEXTS);
    assertEquals(TEXTS.size(), ranges.texts());
    // q, k and v read one activation: four per layer (their input, attention output's, the two feed-forwards')
    assertEquals(4 * BASE.spec().layers(), ranges.activations());
    LinearModule q0 = BASE.requireModule(ModuleKind.QUERY.moduleName(0));
    LinearModule out1 = BASE.requireModule(ModuleKind.OUTPUT.moduleName(1));
    OnnxModel probe = BASE.model().copy();
    Int8BaseTest.expose(probe, q0.input());
    Int8BaseTest.expose(probe, out1.input());
    Map<String, float[]> max = new HashMap<>();
    try (Ort ort = new Ort(probe); Tokenizer tok = Tokenizer.open(tokenizer)) {
      for (String text : TEXTS) {
        Encoding e = tok.encode(List.of(text));
        Map<String, Object> out = ort.run(List.of(e.inputIds()));
        for (String name : List.of(q0.input(), out1.input())) {
          for (float[] row : ((float[][][]) out.get(name))[0]) {
            float[] m = max.computeIfAbsent(name, k -> new float[row.length]);
            for (int c = 0; c < row.length; c++) {
              m[c] = Math.max(m[c], Math.abs(row[c]));
            }
          }
        }
      }
    }
    assertArrayEquals(max.get(q0.input()), ranges.maxAbs(q0.input()).orElseThrow(), 1e-6f);
    assertArrayEquals(max.get(out1.input()), ranges.maxAbs(out1.input()).orElseThrow(), 1e-6f);
  }

  @Test
  void smoothedProductsAreTheIntegerMathsOfRescaledInputsAndWeights() throws Exception {
    // made-up ranges with an outlier every seventh channel, so the scales differ a lot between channels
    Map<String, float[]> made = new HashMap<>();
    for (LinearModule m : BASE.modules()) {
      float[] r = new float[m.inFeatures()];
      for (int c = 0; c < r.length; c++) {
        r[c] = c % 7 == 0 ? 30f : 1 + c % 3;
      }
      made.put(m.input(), r);
    }
    OnnxModel q = Int8BaseWriter.quantize(BASE.model(), BASE, ActivationRanges.of(made, 1));
    List<LinearModule> smoothed = new ArrayList<>();
    for (LinearModule m : BASE.modules()) {
      NodeProto node = Int8BaseTest.Packed.of(q, m).node();
      NodeProto before = q.producer(node.getInput(0)).orElseThrow();
      if (m.kind() == ModuleKind.ATTENTION_OUTPUT) {
        assertNotEquals("Mul", before.getOpType(), m.name() + ": attention's output is not smoothed");
        continue;
      }
      assertEquals("Mul", before.getOpType(), m.name());
      float[] inverse = q.floatInitializer(before.getInput(1)).data();
      float[] s = scales(made.get(m.input()), m);
      for (int i = 0; i < s.length; i++) {
        assertEquals(1 / s[i], inverse[i], 1e-6 / s[i], m.name() + " channel " + i);
      }
      Int8BaseTest.expose(q, before.getInput(0));
      Int8BaseTest.expose(q, m.output());
      smoothed.add(m);
    }
    assertEquals(5 * BASE.spec().layers(), smoothed.size(), "q, k, v and both feed-forward modules per layer");
    Map<String, Object> out;
    try (Ort ort = new Ort(q)) {
      out = ort.run(GraphParityTest.SENTENCES);
    }
    for (LinearModule m : smoothed) {
      NodeProto mul = q.producer(Int8BaseTest.Packed.of(q, m).node().getInput(0)).orElseThrow();
      float[][] x = Int8BaseTest.rows(out.get(mul.getInput(0)));
      float[][] y = Int8BaseTest.rows(out.get(m.output()));
      float[] s = scales(made.get(m.input()), m);
      Matrix w = BASE.model().floatInitializer(m.weightInitializer()).asMatrix(); // [in, out]
      float[] b = BASE.model().floatInitializer(m.biasInitializer()).data();
      float[][] xs = new float[x.length][];
      for (int t = 0; t < x.length; t++) {
        xs[t] = new float[x[t].length];
        for (int i = 0; i < x[t].length; i++) {
          xs[t][i] = x[t][i] * (1 / s[i]);
        }
      }
      float[] scaled = new float[w.rows() * w.cols()];
      for (int i = 0; i < w.rows(); i++) {
        for (int j = 0; j < w.cols(); j++) {
          scaled[i * w.cols() + j] = w.get(i, j) * s[i];
        }
      }
      Matrix ws = new Matrix(w.rows(), w.cols(), scaled);
      Int8BaseTest.Reference ref = new Int8BaseTest.Reference(xs, ws);
      for (int t = 0; t < x.length; t++) {
        for (int j = 0; j < w.cols(); j++) {
          double want = ref.y(t, j) + b[j];
          // as in Int8BaseTest: float rounding of scale·acc + b, or one activation a step apart at a .5 tie
          double tol = 1e-5 * (Math.abs(want) + Math.abs(b[j])) + ref.xScale * ref.wAbsMax[j] * 1.01;
          assertEquals(want, y[t][j], tol, m.name() + " row " + t + " column " + j);
        }
      }
    }
  }

  /**
   * One channel of the embeddings 40x larger and the first layer's q, k and v weight rows for it 40x
   * smaller: the same first-layer products in float32 (as in MiniLM, where the attention-output
   * LayerNorm has one channel at 28 against a median of 2, and its weights are small), but
   * unsmoothed, that channel sets the int8 step for every channel. Calibrated, the first layer's
   * query is as close to float32 as on the model without the outlier. The reference is ONNX
   * Runtime's float32 run of each graph.
   */
  @Test
  void calibrationUndoesWhatAnOutlierChannelCostsInt8() throws Exception {
    OnnxModel model = BASE.model().copy();
    for (String p : List.of("embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias")) {
      float[] v = model.floatInitializer(p).data().clone();
      v[0] *= 40;
      model.putInitializer(TensorProtos.floats(p, new long[] {v.length}, v));
    }
    for (ModuleKind k : List.of(ModuleKind.QUERY, ModuleKind.KEY, ModuleKind.VALUE)) {
      LinearModule m = BASE.requireModule(k.moduleName(0));
      FloatTensor w = model.floatInitializer(m.weightInitializer()); // [in, out]: row 0 reads channel 0
      float[] d = w.data().clone();
      for (int j = 0; j < m.outFeatures(); j++) {
        d[j] /= 40;
      }
      model.putInitializer(TensorProtos.floats(m.weightInitializer(), new FloatTensor(w.shape(), d)));
    }
    EncoderDescription outlier = EncoderDescription.of(model);
    LinearModule q0 = outlier.requireModule(ModuleKind.QUERY.moduleName(0));
    ActivationRanges ranges = ActivationRanges.measure(model, tokenizer(), TEXTS);
    float[] embeddings = ranges.maxAbs(q0.input()).orElseThrow();
    float rest = 0;
    for (int c = 1; c < embeddings.length; c++) {
      rest = Math.max(rest, embeddings[c]);
    }
    assertTrue(embeddings[0] > 8 * rest, "the outlier channel: " + embeddings[0] + " against " + rest);
    double without = error(BASE.model(), Int8BaseWriter.quantize(BASE.model(), BASE), q0);
    double plain = error(model, Int8BaseWriter.quantize(model, outlier), q0);
    double calibrated = error(model, Int8BaseWriter.quantize(model, outlier, ranges), q0);
    String errors = "mean |int8 - float32|: " + without + " without the outlier, " + plain + " with it, "
        + calibrated + " with it calibrated";
    assertTrue(plain > 1.2 * without, "the premise: the outlier costs int8 accuracy; " + errors);
    assertTrue(calibrated < 1.05 * without, errors);
  }

  /**
   * Calibration may be the first to start ONNX Runtime in a process, whose start-up needs stack in
   * proportion to the command line (issue 12): with a fixed 64 MiB calibration thread, a 300 KB
   * command line crashed the JVM (exit 139, measured 2026-11-30); it must size the thread as the
   * runtime does. Three arguments of 100 KB, as one argument may not exceed 128 KB on Linux.
   */
  @Test
  void calibrationStartsOnnxRuntimeInAProcessWithALongCommandLine() throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), CalibrationMain.class.getName(), tokenizer().toString()));
    for (int i = 0; i < 3; i++) {
      cmd.add("x".repeat(100_000));
    }
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), "the JVM did not finish");
    assertEquals(0, p.exitValue(), "exit " + p.exitValue() + " (134/139: native crash); output:\n" + out);
    assertTrue(out.contains("activations " + 4 * BASE.spec().layers()), out);
  }

  @Test
  void calibrationWithoutTheInt8BaseIsRefused() throws Exception {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ExportRequest.of(
        TinyBert.writeBase(dir.resolve("base"), 5).files(), List.of(GraphParityTest.lora()), EnumSet.of(ExportFormat.MULTI), dir.resolve("out"))
        .withInt8Calibration(TEXTS));
    assertTrue(e.getMessage().contains("int8"), e.getMessage());
  }

  /** Mean |int8 - float32| of {@code m}'s output over the test sentences. */
  private static double error(OnnxModel floats, OnnxModel int8, LinearModule m) throws Exception {
    OnnxModel f = floats.copy();
    Int8BaseTest.expose(f, m.output());
    Int8BaseTest.expose(int8, m.output());
    float[][] a;
    float[][] b;
    try (Ort fo = new Ort(f); Ort qo = new Ort(int8)) {
      a = Int8BaseTest.rows(fo.run(GraphParityTest.SENTENCES).get(m.output()));
      b = Int8BaseTest.rows(qo.run(GraphParityTest.SENTENCES).get(m.output()));
    }
    double sum = 0;
    long n = 0;
    for (int t = 0; t < a.length; t++) {
      for (int j = 0; j < a[t].length; j++) {
        sum += Math.abs(a[t][j] - b[t][j]);
        n++;
      }
    }
    return sum / n;
  }

  /** SmoothQuant's scales written out here from the formula, over the module's weight rows. */
  private static float[] scales(float[] maxAbs, LinearModule m) {
    // q, k and v share one scale per input channel: the largest |W| over all three modules' rows
    List<LinearModule> sharing = BASE.modules().stream().filter(o -> o.input().equals(m.input())).toList();
    float[] s = new float[maxAbs.length];
    for (int i = 0; i < s.length; i++) {
      double w = 0;
      for (LinearModule o : sharing) {
        Matrix wt = BASE.model().floatInitializer(o.weightInitializer()).asMatrix();
        for (int j = 0; j < wt.cols(); j++) {
          w = Math.max(w, Math.abs(wt.get(i, j)));
        }
      }
      s[i] = (float) (Math.pow(maxAbs[i], 0.85) / Math.pow(w, 0.15));
    }
    return s;
  }

  private Path tokenizer() throws Exception {
    return Files.writeString(dir.resolve("tokenizer.json"), TinyBert.tokenizerJson());
  }
}
