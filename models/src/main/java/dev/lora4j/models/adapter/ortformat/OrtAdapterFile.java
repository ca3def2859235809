package dev.lora4j.models.adapter.ortformat;

import com.google.flatbuffers.FlatBufferBuilder;
import com.google.flatbuffers.Table;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.io.InputFiles;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads and writes ONNX Runtime's {@code .onnx_adapter} files, which
 * {@code OrtLoraAdapter.create(path)} loads.
 *
 * <p>The format is FlatBuffers with this schema ({@code onnxruntime/lora/adapter_format/adapter_schema.fbs}):
 *
 * <pre>
 * table Parameter { name:string; dims:[int64]; data_type:TensorDataType (int32); raw_data:[uint8] (force_align: 8); }
 * table Adapter   { format_version:int; adapter_version:int; model_version:int; parameters:[Parameter]; }
 * root_type Adapter; file_identifier "TORT";
 * </pre>
 *
 * ONNX Runtime accepts only {@code format_version == 1}. The schema is four fields per table, so the
 * few builder calls and the two table readers that {@code flatc} would generate are written here by
 * hand (no flatc at build time). Field slots follow declaration order: vtable offset {@code 4 + 2·i}.
 *
 * <p>{@code raw_data} must start on an 8-byte boundary: ONNX Runtime wraps the bytes in place as the
 * tensor (memory-mapped when loaded from a path), so misaligned floats would be read unaligned.
 */
public final class OrtAdapterFile {
  public static final String FILE_IDENTIFIER = "TORT";
  public static final int FORMAT_VERSION = 1;
  public static final String EXTENSION = ".onnx_adapter";

  private OrtAdapterFile() {}

  public static void write(Path file, OrtAdapter adapter) {
    AtomicFiles.write(file, toBytes(adapter));
  }

  public static byte[] toBytes(OrtAdapter adapter) {
    long data = adapter.dataBytes();
    int estimate = (int) Math.min(Integer.MAX_VALUE - 8, data + 256L + 128L * adapter.parameters().size());
    FlatBufferBuilder b = new FlatBufferBuilder(estimate);
    int[] params = new int[adapter.parameters().size()];
    for (int i = 0; i < params.length; i++) {
      OrtAdapterParameter p = adapter.parameters().get(i);
      int name = b.createString(p.name());
      long[] dims = p.dims();
      b.startVector(8, dims.length, 8);
      for (int k = dims.length - 1; k >= 0; k--) {
        b.addLong(dims[k]);
      }
      int dimsVec = b.endVector();
      byte[] raw = p.rawData();
      b.createUnintializedVector(1, raw.length, 8).put(raw);
      int rawVec = b.endVector();
      b.startTable(4);
      b.addOffset(0, name, 0);
      b.addOffset(1, dimsVec, 0);
      b.addInt(2, p.dataType(), 0);
      b.addOffset(3, rawVec, 0);
      params[i] = b.endTable();
    }
    int paramsVec = b.createVectorOfTables(params);
    b.startTable(4);
    b.addInt(0, FORMAT_VERSION, 0);
    b.addInt(1, adapter.adapterVersion(), 0);
    b.addInt(2, adapter.modelVersion(), 0);
    b.addOffset(3, paramsVec, 0);
    int root = b.endTable();
    b.finish(root, FILE_IDENTIFIER);
    return b.sizedByteArray();
  }

  public static OrtAdapter read(Path file) {
    return fromBytes(InputFiles.readAll(file, InputFiles.ARRAY_LIMIT, "ONNX Runtime adapter file"), file.toString());
  }

  /** Parses an adapter; {@code source} names it in messages. */
  public static OrtAdapter fromBytes(byte[] bytes, String source) {
    ByteBuffer bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    if (bytes.length <= 8 || !FILE_IDENTIFIER.equals(new String(bytes, 4, 4, java.nio.charset.StandardCharsets.US_ASCII))) {
      throw new Lora4jException(source + ": not an ONNX Runtime adapter file (no '" + FILE_IDENTIFIER + "' identifier)");
    }
    try {
      AdapterTable a = new AdapterTable(bb);
      if (a.formatVersion() != FORMAT_VERSION) {
        throw new Lora4jException(source + ": adapter format version " + a.formatVersion()
            + " is not supported (ONNX Runtime reads version " + FORMAT_VERSION + ")");
      }
      List<OrtAdapterParameter> params = new ArrayList<>();
      for (int i = 0; i < a.parameterCount(); i++) {
        ParameterTable p = a.parameter(i);
        params.add(new OrtAdapterParameter(p.name(), p.dims(), p.dataType(), p.rawData()));
      }
      return new OrtAdapter(a.adapterVersion(), a.modelVersion(), params);
    } catch (IndexOutOfBoundsException e) {
      // FlatBuffers follows offsets without checking them; ByteBuffer's own message may be null.
      throw new Lora4jException(source + ": corrupt ONNX Runtime adapter file (an offset or length points past"
          + " the end of the " + bytes.length + "-byte file)");
    } catch (IllegalArgumentException | ArithmeticException e) {
      throw new Lora4jException(source + ": corrupt ONNX Runtime adapter file (" + InputFiles.describe(e) + ")");
    }
  }

  /** What flatc would generate for {@code table Adapter}. */
  private static final class AdapterTable extends Table {
    AdapterTable(ByteBuffer bb) {
      __reset(bb.getInt(0), bb);
    }

    int formatVersion() {
      return intField(4);
    }

    int adapterVersion() {
      return intField(6);
    }

    int modelVersion() {
      return intField(8);
    }

    int parameterCount() {
      int o = __offset(10);
      if (o == 0) {
        return 0;
      }
      int n = __vector_len(o);
      // Each entry is a 4-byte offset, so a count the file cannot hold is corrupt, not a reason to loop.
      if (n < 0 || (long) n * 4 > bb.capacity() - __vector(o)) {
        throw new IllegalArgumentException("parameter list of " + n + " entries runs past the end of the file");
      }
      return n;
    }

    ParameterTable parameter(int j) {
      int o = __offset(10);
      return new ParameterTable(__indirect(__vector(o) + j * 4), bb);
    }

    private int intField(int slot) {
      int o = __offset(slot);
      return o == 0 ? 0 : bb.getInt(o + bb_pos);
    }
  }

  /** What flatc would generate for {@code table Parameter}. */
  private static final class ParameterTable extends Table {
    ParameterTable(int pos, ByteBuffer bb) {
      __reset(pos, bb);
    }

    String name() {
      int o = __offset(4);
      if (o == 0) {
        throw new IllegalArgumentException("a parameter has no name");
      }
      return __string(o + bb_pos);
    }

    long[] dims() {
      int o = __offset(6);
      int n = o == 0 ? 0 : checkedLength(o, 8);
      long[] d = new long[n];
      for (int i = 0; i < n; i++) {
        d[i] = bb.getLong(__vector(o) + i * 8);
      }
      return d;
    }

    int dataType() {
      int o = __offset(8);
      return o == 0 ? 0 : bb.getInt(o + bb_pos);
    }

    byte[] rawData() {
      int o = __offset(10);
      int n = o == 0 ? 0 : checkedLength(o, 1);
      byte[] out = new byte[n];
      if (n > 0) {
        bb.get(__vector(o), out);
      }
      return out;
    }

    /** A vector length that fits in the buffer, so corrupt lengths cannot make us allocate gigabytes. */
    private int checkedLength(int o, int elemSize) {
      int n = __vector_len(o);
      if (n < 0 || (long) n * elemSize > bb.capacity() - __vector(o)) {
        throw new IllegalArgumentException("vector of " + n + " elements runs past the end of the file");
      }
      return n;
    }
  }
}
