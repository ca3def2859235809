package dev.lora4j.trainer.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Differentiable casts between float32 and bfloat16 on DJL's PyTorch engine.
 *
 * <p>Why not {@code NDArray.toType}: DJL 0.35.1's native layer maps only float32, float64, float16,
 * the integer types and bool to PyTorch types (a bfloat16 cast aborts the JVM), and its {@code to}
 * runs under a no-grad guard, so even a supported cast cuts autograd. A TorchScript method run in
 * training mode has neither limit: these casts are two one-line TorchScript modules, written here as
 * the zip archive {@code torch.jit.save} produces (source text plus a pickled module object; no
 * weights) and loaded from memory.
 */
final class DtypeCast implements AutoCloseable {
  /** PyTorch's ScalarType codes, as TorchScript source spells dtypes. */
  private static final int FLOAT32 = 6;
  private static final int BFLOAT16 = 15;

  private final PtSymbolBlock toBf16;
  private final PtSymbolBlock toFp32;

  DtypeCast(NDManager manager) {
    toBf16 = load(manager, "ToBfloat16", BFLOAT16);
    toFp32 = load(manager, "ToFloat32", FLOAT32);
  }

  /** {@code x} as bfloat16; gradients flow back as float32 when {@code x} requires them. */
  NDArray toBf16(NDArray x) {
    return run(toBf16, x);
  }

  /** {@code x} as float32; gradients flow back in {@code x}'s type. */
  NDArray toFp32(NDArray x) {
    return run(toFp32, x);
  }

  private static NDArray run(PtSymbolBlock cast, NDArray x) {
    // DJL reads structure from input names ("a.b" becomes a dict entry): pass named arrays as a nameless view
    NDArray in = x.getName() == null || x.getName().isEmpty() ? x : x.reshape(x.getShape());
    // training mode: the native call keeps autograd on (in inference mode it would cut the graph)
    return IValueUtils.forward(cast, new NDList(in), true).singletonOrThrow();
  }

  private static PtSymbolBlock load(NDManager manager, String name, int scalarType) {
    try (ByteArrayInputStream in = new ByteArrayInputStream(archive(name, scalarType))) {
      return JniUtils.loadModule((PtNDManager) manager, in, false, false);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A TorchScript archive of a module whose forward is {@code torch.to(x, scalarType)}. */
  static byte[] archive(String name, int scalarType) {
    String code = "class " + name + "(Module):\n"
        + "  __parameters__ = []\n"
        + "  __buffers__ = []\n"
        + "  training : bool\n"
        + "  def forward(self: __torch__." + name + ",\n"
        + "    x: Tensor) -> Tensor:\n"
        + "    return torch.to(x, " + scalarType + ")\n";
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
      String root = "cast/";
      put(zip, root + "data.pkl", modulePickle(name));
      put(zip, root + "code/__torch__.py", code.getBytes(StandardCharsets.UTF_8));
      put(zip, root + "constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'}); // protocol 2, empty tuple
      put(zip, root + "version", "3\n".getBytes(StandardCharsets.US_ASCII));
      put(zip, root + "byteorder", "little".getBytes(StandardCharsets.US_ASCII));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  /** Pickle (protocol 2) of {@code __torch__.<name>} with state {@code {'training': False}}. */
  private static byte[] modulePickle(String name) {
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    p.write(0x80);
    p.write(2); // PROTO 2
    p.writeBytes(("c__torch__\n" + name + "\n").getBytes(StandardCharsets.US_ASCII)); // GLOBAL
    p.write(')'); // EMPTY_TUPLE
    p.write(0x81); // NEWOBJ
    p.write('}'); // EMPTY_DICT
    p.write('('); // MARK
    byte[] key = "training".getBytes(StandardCharsets.US_ASCII);
    p.write('X'); // BINUNICODE, 4-byte little-endian length
    p.write(key.length);
    p.write(0);
    p.write(0);
    p.write(0);
    p.writeBytes(key);
    p.write(0x89); // NEWFALSE
    p.write('u'); // SETITEMS
    p.write('b'); // BUILD
    p.write('.'); // STOP
    return p.toByteArray();
  }

  /** Stored, not deflated: PyTorch's archive reader expects uncompressed records. */
  private static void put(ZipOutputStream zip, String name, byte[] data) throws IOException {
    ZipEntry e = new ZipEntry(name);
    e.setMethod(ZipEntry.STORED);
    e.setSize(data.length);
    CRC32 crc = new CRC32();
    crc.update(data);
    e.setCrc(crc.getValue());
    zip.putNextEntry(e);
    zip.write(data);
    zip.closeEntry();
  }

  @Override
  public void close() {
    toBf16.close();
    toFp32.close();
  }
}
