package dev.lora4j.models.adapter;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.tensor.Float16;
import dev.lora4j.models.tensor.Matrix;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How an export stores the low-rank factors A' and B' of a compact adapter: float32 (as trained),
 * float16 (half the bytes), or int8 with one float32 scale per row (a quarter). The task head always
 * stays float32: it is a few hundred values and feeds the logits directly.
 *
 * <p>Every reader widens the stored values to float32 exactly ({@link #served}), so the runtime keeps
 * one float32 multi-adapter graph for adapters of any dtype, and merged / factored graphs are built
 * from the same widened values: all formats of one export answer alike.
 */
public enum AdapterDtype {
  FP32("fp32"),
  FP16("fp16"),
  /**
   * Symmetric, one scale per rank and factor: per row of A ({@code r x in}) and per row of
   * {@code B^T} ({@code r x out}), the layout the multi graph takes B in. Scales per row of B
   * ({@code out x r}) would cost one float per r int8 values (half the file at r = 8).
   */
  INT8("int8");

  /** Largest int8 magnitude used: symmetric quantisation leaves -128 out so that q and -q both exist. */
  public static final int INT8_LEVELS = 127;

  private final String id;

  AdapterDtype(String id) {
    this.id = id;
  }

  /** As written on the command line and in {@code export.json} / sidecars. */
  public String id() {
    return id;
  }

  /** Parses {@code fp32}, {@code fp16} or {@code int8}; {@code what} names the flag or field in the message. */
  public static AdapterDtype parse(String s, String what) {
    for (AdapterDtype d : values()) {
      if (d.id.equals(s.trim().toLowerCase(Locale.ROOT))) {
        return d;
      }
    }
    throw new Lora4jException(what + ": '" + s + "' is not an adapter dtype (expected "
        + Arrays.stream(values()).map(AdapterDtype::id).collect(Collectors.joining(", ")) + ")");
  }

  /** A sidecar or manifest field: absent means float32, what every export before the field wrote. */
  public static AdapterDtype ofRecorded(String s, String what) {
    return s == null ? FP32 : parse(s, what);
  }

  /**
   * The compact adapter with A' and B' holding exactly the values this dtype stores and a reader
   * widens back to float32: what the runtime serves from a file of this dtype, so what merged and
   * factored graphs must be built from to answer the same. {@code FP32} returns {@code compact}
   * unchanged. Refuses, naming {@code source} and the tensor, a value float16 cannot hold (beyond
   * ±65504; it would become infinite).
   */
  public Adapter served(Adapter compact, String source) {
    if (this == FP32) {
      return compact;
    }
    List<LowRankModule> modules = new ArrayList<>();
    for (LowRankModule m : compact.modules().values()) {
      if (!m.isCompact()) {
        throw new IllegalArgumentException(m.module() + " is not compact; compact the adapter first");
      }
      modules.add(LowRankModule.lora(m.module(), served(m.a(), source, m.module() + ".lora_A"),
          served(m.b().transpose(), source, m.module() + ".lora_B").transpose(), 1.0));
    }
    return new Adapter(compact.name(), compact.base(), Adapter.byName(modules), compact.head(), compact.provenance());
  }

  /** {@code m} rank-major (A, or B transposed): int8 rows are ranks. */
  private Matrix served(Matrix m, String source, String tensor) {
    float[] d = m.data();
    float[] out = new float[d.length];
    if (this == FP16) {
      for (int i = 0; i < d.length; i++) {
        requireHalfRange(d[i], source, tensor);
        out[i] = Float16.roundToHalf(d[i]);
      }
    } else {
      Int8Rows q = Int8Rows.quantize(m);
      for (int r = 0; r < m.rows(); r++) {
        for (int c = 0; c < m.cols(); c++) {
          out[r * m.cols() + c] = q.value(r, c);
        }
      }
    }
    return new Matrix(m.rows(), m.cols(), out);
  }

  /** Refuses a value that float16 would turn into infinity. */
  public static void requireHalfRange(float v, String source, String tensor) {
    if (!(Math.abs(v) < 65520f)) { // from 65520 on, round-to-nearest gives infinity (NaN too fails here)
      throw new Lora4jException(source + ": tensor " + tensor + " holds " + v + ", beyond float16's range (±"
          + (int) Float16.MAX_VALUE + "); export it with --adapter-dtype fp32");
    }
  }

  /**
   * A matrix quantised per row: {@code value(r, c) = q[r][c] · scale[r]} in float32, with
   * {@code scale[r] = max|row r| / 127} and {@code q} rounded to nearest (ties to even). A row of
   * zeros gets scale 0.
   */
  public record Int8Rows(int rows, int cols, byte[] q, float[] scale) {
    public static Int8Rows quantize(Matrix m) {
      byte[] q = new byte[m.data().length];
      float[] scale = new float[m.rows()];
      float[] d = m.data();
      for (int r = 0; r < m.rows(); r++) {
        float max = 0f;
        for (int c = 0; c < m.cols(); c++) {
          max = Math.max(max, Math.abs(d[r * m.cols() + c]));
        }
        float s = max / INT8_LEVELS;
        scale[r] = s;
        for (int c = 0; c < m.cols(); c++) {
          double v = s == 0f ? 0 : Math.rint(d[r * m.cols() + c] / (double) s);
          q[r * m.cols() + c] = (byte) Math.max(-INT8_LEVELS, Math.min(INT8_LEVELS, v));
        }
      }
      return new Int8Rows(m.rows(), m.cols(), q, scale);
    }

    public float value(int r, int c) {
      return q[r * cols + c] * scale[r];
    }
  }
}
