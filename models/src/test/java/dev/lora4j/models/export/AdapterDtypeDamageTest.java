package dev.lora4j.models.export;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterDtype;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.ortformat.OrtAdapter;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.adapter.ortformat.OrtAdapterParameter;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.tensor.FloatTensor;
import dev.lora4j.models.tensor.Matrix;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the hostile-input corpus found in fp16 / int8 {@code .onnx_adapter} files, each pinned: the
 * file is edited and its sidecar written anew for the edited bytes, so only the edit can be refused.
 */
class AdapterDtypeDamageTest {
  private static final String SHA = "ab".repeat(32);

  @TempDir Path tmp;

  private final Adapter adapter = OrtAdapterCorpusTest.adapter().compact();
  private final String module = adapter.modules().keySet().iterator().next();
  private final String loraA = AdapterTensorNames.loraA(module);
  private final String scale = loraA + ".scale";

  @Test
  void aNegativeInt8ScaleIsRefusedNamingTheScaleTensor() {
    Lora4jException e = assertThrows(Lora4jException.class,
        () -> AdapterFiles.read(damaged(AdapterDtype.INT8, scale, p -> scaleSetTo(p, -0.01f))));
    assertTrue(e.getMessage().contains(scale) && e.getMessage().contains("not negative"), e.getMessage());
  }

  @Test
  void aNaNInt8ScaleIsRefusedNamingTheScaleTensor() {
    Lora4jException e = assertThrows(Lora4jException.class,
        () -> AdapterFiles.read(damaged(AdapterDtype.INT8, scale, p -> scaleSetTo(p, Float.NaN))));
    assertTrue(e.getMessage().contains(scale) && e.getMessage().contains("NaN"), e.getMessage());
  }

  /** The writer stores scales as FLOAT; read as float16 they would be rounded, not the exported values. */
  @Test
  void anInt8ScaleStoredAsFloat16IsRefused() {
    Lora4jException e = assertThrows(Lora4jException.class, () -> AdapterFiles.read(
        damaged(AdapterDtype.INT8, scale, p -> OrtAdapterParameter.halves(p.name(), p.asFloats()))));
    assertTrue(e.getMessage().contains(scale) && e.getMessage().contains("FLOAT16"), e.getMessage());
  }

  /** A zero scale is what the writer gives a rank whose row is all zero: legal, and it zeroes that rank. */
  @Test
  void aZeroInt8ScaleLoadsAsAZeroRank() {
    Adapter loaded = AdapterFiles.read(damaged(AdapterDtype.INT8, scale, p -> scaleSetTo(p, 0f)));
    Matrix a = loaded.modules().get(module).a(); // r x in; rank 0 is row 0
    for (int c = 0; c < a.cols(); c++) {
      assertTrue(a.get(0, c) == 0f, "column " + c + ": " + a.get(0, c)); // q · 0 may be -0.0
    }
    assertTrue(a.get(1, 0) != 0f || a.get(1, 1) != 0f, "other ranks keep their values");
  }

  /** float16 0x7C00 is +Infinity: refused naming the tensor as stored, not only its module. */
  @Test
  void aFloat16InfinityIsRefusedNamingTheTensor() {
    Lora4jException e = assertThrows(Lora4jException.class, () -> AdapterFiles.read(damaged(AdapterDtype.FP16, loraA,
        p -> {
          byte[] raw = p.rawData().clone();
          ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).putShort(0, (short) 0x7C00);
          return new OrtAdapterParameter(p.name(), p.dims(), p.dataType(), raw);
        })));
    assertTrue(e.getMessage().contains(loraA + " (FLOAT16) holds Infinity"), e.getMessage());
  }

  /**
   * A shape [0, 2^31] holds no data, so the size check passes; its 2^31 then wrapped to a negative
   * int and escaped as an IllegalArgumentException (ArithmeticException for int8).
   */
  @Test
  void aDimensionBeyond2Pow31IsRefusedEvenBesideAZero() {
    for (AdapterDtype dtype : new AdapterDtype[] {AdapterDtype.FP16, AdapterDtype.INT8}) {
      long marker = 0x5A17C0DEL;
      Path file = damaged(dtype, loraA, p -> new OrtAdapterParameter(p.name(), new long[] {0, marker}, p.dataType(),
          new byte[0]));
      byte[] bytes = readAll(file);
      ByteBuffer bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i + 8 <= bytes.length; i += 8) {
        if (bb.getLong(i) == marker) {
          bb.putLong(i, 1L << 31);
        }
      }
      retie(file, bytes, dtype);
      Lora4jException e = assertThrows(Lora4jException.class, () -> AdapterFiles.read(file));
      assertTrue(e.getMessage().contains("dimension 2147483648") && e.getMessage().contains(file.toString()),
          e.getMessage());
    }
  }

  private static OrtAdapterParameter scaleSetTo(OrtAdapterParameter p, float v) {
    float[] s = p.asFloats().data().clone();
    s[0] = v;
    return OrtAdapterParameter.floats(p.name(), FloatTensor.vector(s));
  }

  /** The adapter written as {@code dtype} with {@code tensor} changed, and a sidecar written for the changed bytes. */
  private Path damaged(AdapterDtype dtype, String tensor, UnaryOperator<OrtAdapterParameter> change) {
    Path dir = tmp.resolve(dtype.id() + "-" + Integer.toHexString(System.identityHashCode(change)));
    Path file = dir.resolve(ExportLayout.onnxAdapter("tiny"));
    AdapterFiles.writeOnnxAdapter(file, adapter, "tiny-bert", SHA, dtype);
    OrtAdapter valid = OrtAdapterFile.read(file);
    List<OrtAdapterParameter> params = new ArrayList<>();
    for (OrtAdapterParameter p : valid.parameters()) {
      params.add(p.name().equals(tensor) ? change.apply(p) : p);
    }
    retie(file, OrtAdapterFile.toBytes(new OrtAdapter(valid.adapterVersion(), valid.modelVersion(), params)), dtype);
    return file;
  }

  private void retie(Path file, byte[] bytes, AdapterDtype dtype) {
    AtomicFiles.write(file, bytes);
    AdapterSidecar.of(adapter, "tiny-bert", SHA, dtype, AtomicFiles.sha256(bytes)).write(AdapterFiles.sidecarOf(file));
  }

  private static byte[] readAll(Path file) {
    try {
      return Files.readAllBytes(file);
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
