package dev.lora4j.models.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto;
import dev.lora4j.models.tensor.FloatTensor;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxModelTest {
  @TempDir Path dir;

  @Test
  void listsAndReadsWhatTheGraphHolds() {
    OnnxModel m = TinyBert.model(3);
    assertEquals(List.of("input_ids", "attention_mask", "token_type_ids"),
        m.inputs().stream().map(v -> v.getName()).toList());
    assertEquals("last_hidden_state", m.outputs().get(0).getName());
    FloatTensor ln = m.floatInitializer("embeddings.LayerNorm.weight");
    assertArrayEquals(new long[] {32}, ln.shape());
    assertEquals("Add", m.consumers("encoder.layer.0.attention.self.query.bias").get(0).getOpType());
    assertTrue(m.producer("last_hidden_state").isPresent());
    assertArrayEquals(new long[] {0, 0, 4, 8}, m.constantLongs("heads_shape").orElseThrow());
  }

  @Test
  void editsSurviveSaveAndRead() {
    OnnxModel m = TinyBert.model(3);
    float[] ones = new float[32];
    Arrays.fill(ones, 1f);
    m.putInitializer(TensorProtos.floats("embeddings.LayerNorm.weight", new long[] {32}, ones));
    m.putInitializer(TensorProtos.floats("extra", new long[] {2}, 1f, 2f));
    m.addInput(OnnxBuilders.floatValue("extra_in", "n"));
    Path file = dir.resolve("edited.onnx");
    m.save(file);
    OnnxModel back = OnnxModel.read(file);
    assertArrayEquals(ones, back.floatInitializer("embeddings.LayerNorm.weight").data());
    assertArrayEquals(new float[] {1f, 2f}, back.floatInitializer("extra").data());
    assertEquals("extra_in", back.inputs().get(3).getName());
    assertEquals(m.initializers().size(), back.initializers().size());
  }

  @Test
  void externalDataRoundTrips() throws Exception {
    OnnxModel m = TinyBert.model(5);
    Path file = dir.resolve("ext.onnx");
    m.save(file, true);
    assertTrue(Files.exists(dir.resolve("ext.onnx.data")));
    long inline = m.toBytes().length;
    assertTrue(Files.size(file) < inline / 3, "weights moved out: " + Files.size(file) + " of " + inline + " bytes");
    OnnxModel back = OnnxModel.read(file);
    for (TensorProto t : m.initializers()) {
      TensorProto b = back.initializer(t.getName()).orElseThrow();
      assertEquals(t.getRawData(), b.getRawData(), t.getName());
      assertFalse(b.getDataLocation() == TensorProto.DataLocation.EXTERNAL);
    }
  }

  @Test
  void missingExternalDataIsNamed() throws Exception {
    Path file = dir.resolve("ext.onnx");
    TinyBert.model(5).save(file, true);
    Files.delete(dir.resolve("ext.onnx.data"));
    Lora4jException e = assertThrows(Lora4jException.class, () -> OnnxModel.read(file));
    assertTrue(e.getMessage().startsWith(file + ": external data file "), e.getMessage());
    assertTrue(e.getMessage().endsWith("is missing"), e.getMessage());
  }

  @Test
  void shortExternalDataIsNamed() throws Exception {
    Path file = dir.resolve("ext.onnx");
    TinyBert.model(5).save(file, true);
    Path data = dir.resolve("ext.onnx.data");
    byte[] bytes = Files.readAllBytes(data);
    Files.write(data, Arrays.copyOf(bytes, bytes.length / 2));
    Lora4jException e = assertThrows(Lora4jException.class, () -> OnnxModel.read(file));
    assertTrue(e.getMessage().contains("is too short for tensor"), e.getMessage());
  }

  @Test
  void truncatedFileIsNamed() throws Exception {
    Path file = dir.resolve("model.onnx");
    byte[] bytes = TinyBert.model(5).toBytes();
    Files.write(file, Arrays.copyOf(bytes, bytes.length - 100));
    Lora4jException e = assertThrows(Lora4jException.class, () -> OnnxModel.read(file));
    assertTrue(e.getMessage().startsWith(file + ": not a valid ONNX model, the file is truncated or corrupt"),
        e.getMessage());
  }

  @Test
  void garbageIsNotAModel() throws Exception {
    Path file = dir.resolve("notes.onnx");
    Files.writeString(file, "these are not the weights you are looking for");
    Lora4jException e = assertThrows(Lora4jException.class, () -> OnnxModel.read(file));
    assertTrue(e.getMessage().startsWith(file + ": not "), e.getMessage());
  }

  @Test
  void missingFileIsNamed() {
    Path file = dir.resolve("nope.onnx");
    Lora4jException e = assertThrows(Lora4jException.class, () -> OnnxModel.read(file));
    assertEquals(file + ": no such file", e.getMessage());
  }

  @Test
  void unsupportedElementTypeIsNamed() {
    TensorProto t = TensorProto.newBuilder().setName("w").addDims(2).setDataType(TensorProto.DataType.INT8_VALUE)
        .setRawData(ByteString.copyFrom(new byte[] {1, 2})).build();
    Lora4jException e = assertThrows(Lora4jException.class, () -> TensorProtos.toFloat(t, "m.onnx"));
    assertEquals("m.onnx: tensor w has element type INT8; only FLOAT, FLOAT16 and DOUBLE can be read as floats",
        e.getMessage());
  }

  @Test
  void wrongByteCountIsNamed() {
    TensorProto t = TensorProto.newBuilder().setName("w").addDims(3).setDataType(TensorProto.DataType.FLOAT_VALUE)
        .setRawData(ByteString.copyFrom(new byte[8])).build();
    Lora4jException e = assertThrows(Lora4jException.class, () -> TensorProtos.toFloat(t, "m.onnx"));
    assertTrue(e.getMessage().startsWith("m.onnx: tensor w of shape [3] holds 8 bytes of data, expected 12"),
        e.getMessage());
  }

  @Test
  void halfPrecisionConverts() {
    assertEquals(1.0f, TensorProtos.halfToFloat((short) 0x3c00));
    assertEquals(-2.0f, TensorProtos.halfToFloat((short) 0xc000));
    assertEquals(65504f, TensorProtos.halfToFloat((short) 0x7bff));
    assertEquals(0x1p-24f, TensorProtos.halfToFloat((short) 0x0001));
    assertTrue(Float.isInfinite(TensorProtos.halfToFloat((short) 0x7c00)));
  }

  /** Both spellings of a LayerNorm are found by their scale, with where they read and write, shift and epsilon. */
  @Test
  void findsALayerNormInEitherSpelling() {
    dev.lora4j.models.onnx.proto.Onnx.GraphProto.Builder g = dev.lora4j.models.onnx.proto.Onnx.GraphProto.newBuilder()
        .setName("ln");
    g.addInput(OnnxBuilders.floatValue("x", 1, 4)).addOutput(OnnxBuilders.floatValue("y", 1, 4))
        .addOutput(OnnxBuilders.floatValue("z", 1, 4));
    g.addInitializer(TensorProtos.floats("g1", new long[] {4}, 1, 1, 1, 1))
        .addInitializer(TensorProtos.floats("b1", new long[] {4}, 0, 0, 0, 0))
        .addInitializer(TensorProtos.floats("g2", new long[] {4}, 1, 1, 1, 1))
        .addInitializer(TensorProtos.floats("b2", new long[] {4}, 0, 0, 0, 0))
        .addInitializer(TensorProtos.floats("eps", new long[] {}, 1e-12f));
    g.addNode(OnnxBuilders.node("LayerNormalization", "fused", List.of("x", "g1", "b1"), List.of("y"),
        OnnxBuilders.attr("epsilon", 3e-6f)));
    // the decomposed chain as PyTorch's older exporters write it, gamma as Mul's first input
    g.addNode(OnnxBuilders.node("ReduceMean", "mean", List.of("y"), List.of("mu"), OnnxBuilders.attr("axes", new long[] {-1})));
    g.addNode(OnnxBuilders.node("Sub", "sub", List.of("y", "mu"), List.of("d")));
    g.addNode(OnnxBuilders.node("Mul", "sq", List.of("d", "d"), List.of("d2")));
    g.addNode(OnnxBuilders.node("ReduceMean", "var", List.of("d2"), List.of("v"), OnnxBuilders.attr("axes", new long[] {-1})));
    g.addNode(OnnxBuilders.node("Add", "veps", List.of("v", "eps"), List.of("ve")));
    g.addNode(OnnxBuilders.node("Sqrt", "sqrt", List.of("ve"), List.of("sd")));
    g.addNode(OnnxBuilders.node("Div", "div", List.of("d", "sd"), List.of("n")));
    g.addNode(OnnxBuilders.node("Mul", "scale", List.of("g2", "n"), List.of("s")));
    g.addNode(OnnxBuilders.node("Add", "shift", List.of("b2", "s"), List.of("z")));
    OnnxModel m = OnnxModel.of(dev.lora4j.models.onnx.proto.Onnx.ModelProto.newBuilder().setIrVersion(8).setGraph(g)
        .addOpsetImport(dev.lora4j.models.onnx.proto.Onnx.OperatorSetIdProto.newBuilder().setVersion(17)).build(), "ln");
    assertEquals(new OnnxModel.LayerNorm("x", "y", "b1", 3e-6f), m.layerNorm("g1").orElseThrow());
    assertEquals(new OnnxModel.LayerNorm("y", "z", "b2", 1e-12f), m.layerNorm("g2").orElseThrow());
    assertTrue(m.layerNorm("b1").isEmpty(), "a shift is not a scale");
    assertTrue(m.layerNorm("eps").isEmpty());
  }
}
