package dev.lora4j.models.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterDtype;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.testing.SyntheticAdapters;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.adapter.ortformat.MultiAdapterParameters;
import dev.lora4j.models.adapter.ortformat.OrtAdapter;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.adapter.ortformat.OrtAdapterParameter;
import dev.lora4j.models.adapter.safetensors.DType;
import dev.lora4j.models.adapter.safetensors.SafeTensor;
import dev.lora4j.models.adapter.safetensors.Safetensors;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto.DataType;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.models.testing.HalfReference;
import dev.lora4j.models.testing.TinyBert;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The .onnx_adapter and PEFT files of {@code --adapter-dtype fp16 / int8}, checked against plain-Java references. */
class AdapterDtypeFilesTest {
  private static final String SHA = "ab".repeat(32);
  private static final String Q0 = "encoder.layer.0.attention.self.query";
  private static final String V1 = "encoder.layer.1.attention.self.value";
  private static final String I0 = "encoder.layer.0.intermediate.dense";

  @TempDir Path tmp;

  /** TinyBert-shaped, compact, with subnormal-half and below-half values in every factor. */
  static Adapter adapter() {
    EncoderDescription d = EncoderDescription.of(TinyBert.model(3));
    Map<String, Integer> ranks = new LinkedHashMap<>();
    ranks.put(Q0, 4);
    ranks.put(V1, 2);
    ranks.put(I0, 3);
    Adapter a = SyntheticAdapters.classifier(d, new BaseModelRef("tiny", SHA), "x", ranks, 2, TaskHead.Pooling.MEAN, 9);
    return HalfReference.withTinyValues(a, 4);
  }

  private Path write(Adapter a, AdapterDtype dtype, String name) {
    Path file = tmp.resolve(name + OrtAdapterFile.EXTENSION);
    AdapterFiles.writeOnnxAdapter(file, a, "tiny", SHA, dtype);
    return file;
  }

  @Test
  void fp16OnnxAdapterStoresEveryFactorAsTheNearestHalf() {
    Adapter a = adapter();
    OrtAdapter file = OrtAdapterFile.read(write(a, AdapterDtype.FP16, "half"));
    int changed = 0;
    for (LowRankModule m : a.modules().values()) {
      changed += assertHalves(file.byName().get(AdapterTensorNames.loraA(m.module())), m.a().transpose());
      changed += assertHalves(file.byName().get(AdapterTensorNames.loraB(m.module())), m.b().transpose());
    }
    assertTrue(changed > 100, "only " + changed + " values changed by rounding: the check would not see a float32 file");
    OrtAdapterParameter head = file.byName().get(AdapterTensorNames.HEAD_WEIGHT);
    assertEquals(DataType.FLOAT_VALUE, head.dataType(), "the head stays float32");
    assertEquals(a.head().weight().transpose(), head.asFloats().asMatrix());
  }

  /** Asserts the tensor's raw halves are the reference's bits of {@code expected}; returns how many values rounding moved. */
  private static int assertHalves(OrtAdapterParameter p, Matrix expected) {
    assertEquals(DataType.FLOAT16_VALUE, p.dataType(), p.name());
    assertArrayEquals(new long[] {expected.rows(), expected.cols()}, p.dims(), p.name());
    ByteBuffer raw = ByteBuffer.wrap(p.rawData()).order(ByteOrder.LITTLE_ENDIAN);
    int changed = 0;
    for (int i = 0; i < expected.data().length; i++) {
      float f = expected.data()[i];
      assertEquals(HalfReference.bits(f), raw.getShort(i * 2) & 0xffff, p.name() + "[" + i + "] = " + f);
      changed += HalfReference.round(f) != f ? 1 : 0;
    }
    return changed;
  }

  @Test
  void fp16OnnxAdapterReadsBackAsTheRoundedFactorsAndTheSameHead() {
    Adapter a = adapter();
    Adapter read = AdapterFiles.read(write(a, AdapterDtype.FP16, "half"));
    Adapter expected = HalfReference.round(a);
    for (LowRankModule m : expected.modules().values()) {
      assertEquals(m.a(), read.modules().get(m.module()).a(), m.module());
      assertEquals(m.b(), read.modules().get(m.module()).b(), m.module());
    }
    assertEquals(a.head().weight(), read.head().weight());
    assertArrayEquals(a.head().bias(), read.head().bias());
    assertEquals(expected.modules(), AdapterDtype.FP16.served(a, "x").modules(), "served() is the same rounding");
  }

  /**
   * Names, shapes, the head and FlatBuffers framing are the same in both files; each factor value
   * takes 2 bytes instead of 4. Every factor's half bytes are a multiple of 8 here (TinyBert's sides
   * are 32 and 64), so the 8-byte alignment of raw data pads both files alike and the difference is
   * exact.
   */
  @Test
  void fp16OnnxAdapterIsSmallerByExactlyTwoBytesPerFactorValue() throws Exception {
    Adapter a = adapter();
    long factors = a.modules().values().stream().mapToLong(m -> m.a().data().length + m.b().data().length).sum();
    long fp32 = Files.size(write(a, AdapterDtype.FP32, "full"));
    long fp16 = Files.size(write(a, AdapterDtype.FP16, "half"));
    System.out.printf("tiny adapter: %d factor values, .onnx_adapter fp32 %d bytes, fp16 %d bytes%n", factors, fp32, fp16);
    assertEquals(2 * factors, fp32 - fp16);
  }

  @Test
  void sidecarAndReaderRecordTheDtype() {
    Adapter a = adapter();
    write(a, AdapterDtype.FP16, "half");
    write(a, AdapterDtype.FP32, "full");
    assertEquals("fp16", AdapterSidecar.read(tmp.resolve("half.adapter.json")).adapterDtype());
    assertEquals("fp32", AdapterSidecar.read(tmp.resolve("full.adapter.json")).adapterDtype());
  }

  @Test
  void aFileWhoseTensorsAreNotTheSidecarsDtypeIsRefused() {
    Adapter a = adapter();
    OrtAdapter half = MultiAdapterParameters.of(a, AdapterDtype.FP16);
    AdapterSidecar saysFp32 = AdapterSidecar.of(a, "tiny", SHA, AdapterDtype.FP32, SHA);
    Lora4jException e = assertThrows(Lora4jException.class, () -> MultiAdapterParameters.toAdapter(half, saysFp32, "f"));
    assertTrue(e.getMessage().contains("is FLOAT16 but its sidecar's adapter_dtype fp32 means FLOAT"), e.getMessage());
  }

  @Test
  void fp16RefusesAFactorBeyondHalfRange() {
    Adapter a = adapter();
    LowRankModule m = a.modules().get(V1);
    float[] b = m.b().data().clone();
    b[3] = 70000f;
    Adapter big = new Adapter("big", a.base(), Adapter.byName(List.of(a.modules().get(Q0),
        LowRankModule.lora(V1, m.a(), new Matrix(m.b().rows(), m.b().cols(), b), 1.0))), a.head(), a.provenance());
    Lora4jException e = assertThrows(Lora4jException.class, () -> AdapterDtype.FP16.served(big, "adapter 'big'"));
    assertEquals("adapter 'big': tensor " + V1 + ".lora_B holds 70000.0, beyond float16's range (±65504); export it "
        + "with --adapter-dtype fp32", e.getMessage());
    assertThrows(Lora4jException.class, () -> write(big, AdapterDtype.FP16, "big"));
    assertThrows(Lora4jException.class, () -> PeftAdapters.write(big, tmp.resolve("big.peft"), false, AdapterDtype.FP16));
    assertTrue(Files.notExists(tmp.resolve("big.peft")));
  }

  @Test
  void fp16PeftHoldsHalfFactorsAndAFloat32HeadAndReadsBackRounded() {
    Adapter a = adapter();
    Path dir = tmp.resolve("half.peft");
    PeftAdapters.write(a, dir, false, AdapterDtype.FP16);
    Safetensors st = Safetensors.read(dir.resolve(PeftAdapters.WEIGHTS_FILE));
    for (LowRankModule m : a.modules().values()) {
      for (String part : List.of("lora_A", "lora_B")) {
        SafeTensor t = st.tensors().get("base_model.model." + m.module() + "." + part + ".weight");
        assertEquals(DType.F16, t.dtype(), part);
        float[] original = (part.equals("lora_A") ? m.a() : m.b()).data();
        for (int i = 0; i < original.length; i++) {
          assertEquals(HalfReference.bits(original[i]), t.data().getShort(i * 2) & 0xffff, m.module() + "." + part);
        }
      }
    }
    assertEquals(DType.F32, st.tensors().get("base_model.model.classifier.weight").dtype());
    Adapter read = PeftAdapters.read(dir).compact();
    assertEquals(HalfReference.round(a).modules(), read.modules());
    assertEquals(a.head().weight(), read.head().weight());
  }

  /**
   * int8, one scale per rank: per row of A (r x in) and per column of B (out x r). The reference
   * below quantises each rank vector with scale max|vector| / 127; every value read back is
   * q · scale and within half a step of the original. Scales along the other axis (per input
   * feature, per output row) fail both.
   */
  @Test
  void int8OnnxAdapterReadsBackAsPerRowQuantisedValues() {
    Adapter a = adapter();
    Path file = write(a, AdapterDtype.INT8, "int8");
    Adapter read = AdapterFiles.read(file);
    OrtAdapter raw = OrtAdapterFile.read(file);
    for (LowRankModule m : a.modules().values()) {
      LowRankModule r = read.modules().get(m.module());
      assertRows(m.a(), r.a(), m.module() + ".lora_A");
      assertRows(m.b().transpose(), r.b().transpose(), m.module() + ".lora_B (as B^T)");
      OrtAdapterParameter q = raw.byName().get(AdapterTensorNames.loraA(m.module()));
      assertEquals(DataType.INT8_VALUE, q.dataType());
      assertArrayEquals(new long[] {m.rank()}, raw.byName().get(AdapterTensorNames.loraA(m.module()) + ".scale").dims());
      assertArrayEquals(new long[] {m.rank()}, raw.byName().get(AdapterTensorNames.loraB(m.module()) + ".scale").dims());
    }
    assertEquals(a.head().weight(), read.head().weight());
    assertEquals(AdapterDtype.INT8.served(a, "x").modules(), read.modules(), "merged graphs get what the runtime reads");
    assertEquals("int8", AdapterSidecar.read(tmp.resolve("int8.adapter.json")).adapterDtype());
  }

  private static void assertRows(Matrix original, Matrix read, String name) {
    int changed = 0;
    for (int r = 0; r < original.rows(); r++) {
      float max = 0;
      for (int c = 0; c < original.cols(); c++) {
        max = Math.max(max, Math.abs(original.get(r, c)));
      }
      float scale = max / 127;
      for (int c = 0; c < original.cols(); c++) {
        float x = original.get(r, c);
        int q = (int) Math.rint(x / (double) scale); // an integer: a stored 0 has no sign
        float expected = q * scale;
        assertEquals(expected, read.get(r, c), name + "[" + r + "][" + c + "]");
        assertTrue(Math.abs(read.get(r, c) - x) <= scale / 2 * 1.0001, name + " off by more than half a step");
        changed += expected != x ? 1 : 0;
      }
    }
    assertNotEquals(0, changed, name);
  }

  @Test
  void int8PeftIsRefusedWithAReason() {
    Lora4jException e = assertThrows(Lora4jException.class,
        () -> PeftAdapters.write(adapter(), tmp.resolve("x.peft"), false, AdapterDtype.INT8));
    assertTrue(e.getMessage().contains("PEFT loads float LoRA weights only"), e.getMessage());
  }

  @Test
  void unknownDtypeNamesTheFlagAndTheChoices() {
    Lora4jException e = assertThrows(Lora4jException.class, () -> AdapterDtype.parse("bf16", "--adapter-dtype"));
    assertEquals("--adapter-dtype: 'bf16' is not an adapter dtype (expected fp32, fp16, int8)", e.getMessage());
  }
}
