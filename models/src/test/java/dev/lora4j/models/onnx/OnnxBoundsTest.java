package dev.lora4j.models.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.onnx.proto.Onnx.ModelProto;
import dev.lora4j.models.onnx.proto.Onnx.StringStringEntryProto;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sizes an ONNX file states are checked against what it holds before anything is allocated. */
class OnnxBoundsTest {
  @TempDir Path dir;

  @Test
  void dimsPromisingMoreThanTheDataAreRefusedBeforeAllocating() {
    // Integer.MAX_VALUE floats would be an 8 GiB array; the 8 bytes present decide first.
    TensorProto t = TensorProto.newBuilder().setName("w").addDims(Integer.MAX_VALUE)
        .setDataType(TensorProto.DataType.FLOAT_VALUE).setRawData(ByteString.copyFrom(new byte[8])).build();
    Lora4jException e = assertThrows(Lora4jException.class, () -> TensorProtos.toFloat(t, "m.onnx"));
    assertEquals("m.onnx: tensor w of shape [2147483647] holds 8 bytes of data, expected 8589934588"
        + " (file truncated or corrupt?)", e.getMessage());
  }

  @Test
  void negativeDimsAreRefusedNotANegativeArraySize() {
    TensorProto t = TensorProto.newBuilder().setName("w").addDims(-2).setDataType(TensorProto.DataType.INT64_VALUE)
        .build();
    Lora4jException e = assertThrows(Lora4jException.class, () -> TensorProtos.toLongs(t, "m.onnx"));
    assertEquals("m.onnx: tensor w has a negative dimension in shape [-2]", e.getMessage());
  }

  private Path withExternal(UnaryOperator<TensorProto> change) throws Exception {
    Path model = dir.resolve("model.onnx");
    TinyBert.model(3).save(model, true);
    ModelProto.Builder b = ModelProto.parseFrom(Files.readAllBytes(model)).toBuilder();
    for (int i = 0; i < b.getGraph().getInitializerCount(); i++) {
      if (b.getGraph().getInitializer(i).getExternalDataCount() > 0) {
        b.getGraphBuilder().setInitializer(i, change.apply(b.getGraph().getInitializer(i)));
        break;
      }
    }
    Files.write(model, b.build().toByteArray());
    return model;
  }

  private static UnaryOperator<TensorProto> entry(String key, String value) {
    return t -> {
      TensorProto.Builder b = t.toBuilder().clearExternalData();
      t.getExternalDataList().forEach(e -> b.addExternalData(e.getKey().equals(key)
          ? StringStringEntryProto.newBuilder().setKey(key).setValue(value).build() : e));
      return b.build();
    };
  }

  @Test
  void anExternalOffsetThatWouldOverflowIsRefused() throws Exception {
    Path model = withExternal(entry("offset", Long.toString(Long.MAX_VALUE - 8)));
    Lora4jException e = assertThrows(Lora4jException.class, () -> OnnxModel.read(model));
    assertTrue(e.getMessage().startsWith(model + ": external data file ") && e.getMessage().contains("is too short"),
        e.getMessage());
  }

  @Test
  void anExternalLengthOtherThanTheShapesIsRefused() throws Exception {
    Path model = withExternal(entry("length", "2147483647"));
    Lora4jException e = assertThrows(Lora4jException.class, () -> OnnxModel.read(model));
    assertTrue(e.getMessage().contains("its length says 2147483647"), e.getMessage());
  }

  @Test
  void externalDataOnADeviceOrOutsideTheDirectoryIsRefused() throws Exception {
    Path model = withExternal(entry("location", "/dev/zero"));
    assertTrue(assertThrows(Lora4jException.class, () -> OnnxModel.read(model)).getMessage()
        .endsWith("names external data '/dev/zero', which is not a path relative to the model"));
    Path linked = withExternal(entry("location", "link.data"));
    Files.createSymbolicLink(dir.resolve("link.data"), Path.of("/dev/zero"));
    assertTrue(assertThrows(Lora4jException.class, () -> OnnxModel.read(linked)).getMessage()
        .endsWith("names external data 'link.data', which links outside the model directory"));
  }
}
