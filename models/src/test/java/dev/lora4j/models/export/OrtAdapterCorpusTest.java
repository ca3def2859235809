package dev.lora4j.models.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.adapter.AdapterDtype;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.ortformat.OrtAdapter;
import dev.lora4j.models.adapter.ortformat.OrtAdapterParameter;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.onnx.TensorProtos;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto.DataType;
import dev.lora4j.models.tensor.FloatTensor;
import dev.lora4j.models.testing.corpus.Mutation;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.ortformat.MultiAdapterParameters;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.models.testing.corpus.HostileCorpus;
import dev.lora4j.models.testing.corpus.Mutators;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.testing.SyntheticAdapters;
import dev.lora4j.models.adapter.TaskHead;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile-input corpus of the {@code .onnx_adapter} file and its {@code .adapter.json} sidecar as an
 * export writes them: FlatBuffers byte damage, every 4-byte field of the file's head set to
 * 0 / -1 / 0x7fffffff / ..., sidecar JSON damage, and file-system substitutes for both. Every case
 * must be refused with a message naming the file, or load finite weights on the valid file's
 * modules.
 */
class OrtAdapterCorpusTest {
  private static final long SEED = 1213;

  @TempDir Path tmp;

  @Test
  void onnxAdaptersAndSidecarsAreRefusedWithAMessageOrLoadSane() throws Exception {
    Adapter original = adapter().compact();
    Path validDir = Files.createDirectories(tmp.resolve("valid"));
    String file = ExportLayout.onnxAdapter("tiny");
    String sidecar = ExportLayout.sidecar("tiny");
    AdapterFiles.writeOnnxAdapter(validDir.resolve(file), original, "tiny-bert", "ab".repeat(32));
    byte[] bytes = Files.readAllBytes(validDir.resolve(file));
    Random rnd = new Random(SEED);
    int[] heads = IntStream.range(0, Math.min(160, bytes.length) / 4).map(i -> i * 4).toArray();

    HostileCorpus<Adapter> corpus = new HostileCorpus<Adapter>("onnx_adapter", validDir,
        Files.createDirectories(tmp.resolve("work")), Duration.ofSeconds(20))
        .add(Mutators.binary(file, bytes, rnd, 100, 150, 100))
        .add(Mutators.lengthFields(file, 4, heads))
        .add(Mutators.fileSystem(file))
        .add(Mutators.json(sidecar, Files.readAllBytes(validDir.resolve(sidecar)), rnd, 2))
        .add(Mutators.fileSystem(sidecar));
    corpus.run(dir -> AdapterFiles.read(dir.resolve(file)), (loaded, m) -> {
      loaded.requireFinite(m.name());
      assertEquals(original.modules().keySet(), loaded.modules().keySet(), "modules");
    });
  }

  /** {@code --adapter-dtype fp16}: see {@link #dtypeCorpus}. */
  @Test
  void fp16OnnxAdaptersAreRefusedWithAMessageOrLoadSane() throws Exception {
    dtypeCorpus(AdapterDtype.FP16, 1214);
  }

  /** {@code --adapter-dtype int8}, whose per-rank scales are damaged too: see {@link #dtypeCorpus}. */
  @Test
  void int8OnnxAdaptersAreRefusedWithAMessageOrLoadSane() throws Exception {
    dtypeCorpus(AdapterDtype.INT8, 1215);
  }

  /**
   * A file of {@code dtype} as an export writes it, damaged past the sidecar's hashes: byte damage
   * and tensor edits with the sidecar re-tied to the damaged file (else nearly every case stops at
   * {@code adapter_sha256} and the parser is never reached), and sidecar JSON damage with its
   * {@code content_sha256} recomputed (else every case stops there). Tensor edits: each tensor
   * removed, re-shaped (transposed, flattened, a trailing 1, zero-sized with a dimension of 2^31 or
   * 2^40), re-declared as another element type (its bytes kept), fp16 values that decode to
   * +-Inf / NaN, int8 scales set to 0, -0, negative, NaN, +-Inf, huge, tiny, and a scale stored as
   * float16. A load must be finite, also once compacted (what the runtime serves), keep the modules and
   * ranks, and hold exactly the valid file's dequantised values in every tensor the edit did not touch.
   */
  private void dtypeCorpus(AdapterDtype dtype, long seed) throws Exception {
    Adapter original = adapter().compact();
    Path validDir = Files.createDirectories(tmp.resolve("valid-" + dtype.id()));
    String file = ExportLayout.onnxAdapter("tiny");
    String sidecar = ExportLayout.sidecar("tiny");
    AdapterFiles.writeOnnxAdapter(validDir.resolve(file), original, "tiny-bert", "ab".repeat(32), dtype);
    byte[] bytes = Files.readAllBytes(validDir.resolve(file));
    Adapter validLoad = AdapterFiles.read(validDir.resolve(file));
    OrtAdapter valid = OrtAdapterFile.fromBytes(bytes, file);
    Random rnd = new Random(seed);
    int[] heads = IntStream.range(0, Math.min(96, bytes.length) / 4).map(i -> i * 4).toArray();
    // which module (or "head") each tensor edit touches; byte damage may touch anything
    Map<String, String> touches = new LinkedHashMap<>();
    List<Mutation> edits = tensorEdits(file, valid, touches);
    HostileCorpus<Adapter> corpus = new HostileCorpus<Adapter>("onnx_adapter " + dtype.id(), validDir,
        Files.createDirectories(tmp.resolve("work-" + dtype.id())), Duration.ofSeconds(20))
        .add(retied(file, sidecar, Mutators.binary(file, bytes, rnd, 40, 80, 60)))
        .add(retied(file, sidecar, Mutators.lengthFields(file, 4, heads)))
        .add(retied(file, sidecar, edits))
        .add(rehashed(sidecar, Mutators.json(sidecar, Files.readAllBytes(validDir.resolve(sidecar)), rnd, 2)));
    corpus.run(dir -> AdapterFiles.read(dir.resolve(file)), (loaded, m) -> {
      loaded.requireFinite(m.name());
      loaded.compact().requireFinite(m.name() + " (compacted)");
      assertEquals(original.ranks(), loaded.ranks(), "modules and ranks");
      String touched = touches.get(m.name());
      if (touched == null && !m.name().startsWith(sidecar)) {
        return; // byte damage: which values it reached is not known
      }
      for (LowRankModule v : validLoad.modules().values()) {
        if (!v.module().equals(touched)) {
          assertEquals(v.a(), loaded.modules().get(v.module()).a(), v.module() + " A");
          assertEquals(v.b(), loaded.modules().get(v.module()).b(), v.module() + " B");
        }
      }
      if (!"head".equals(touched)) {
        assertEquals(validLoad.head().weight(), loaded.head().weight(), "head weight");
        assertArrayEquals(validLoad.head().bias(), loaded.head().bias(), "head bias");
      }
    });
  }

  /** Element types a tensor is re-declared as, its bytes kept: FLOAT, FLOAT16, INT8, DOUBLE, INT64, BFLOAT16, UNDEFINED, unknown. */
  private static final int[] TYPES = {DataType.FLOAT_VALUE, DataType.FLOAT16_VALUE, DataType.INT8_VALUE,
      DataType.DOUBLE_VALUE, DataType.INT64_VALUE, DataType.BFLOAT16_VALUE, 0, 999};
  /** Stands for a data type while writing (unknown types skip the size check); patched in the bytes after. */
  private static final int MARKER_TYPE = 0x5A17C0DE;
  /** float16 bit patterns: +Inf, -Inf, NaN, largest finite, smallest subnormal. */
  private static final short[] HALVES = {0x7C00, (short) 0xFC00, 0x7E00, 0x7BFF, 0x0001};
  /** int8 scales: zero, both signs of it, negative, non-finite, large enough to overflow at 127, huge, tiny. */
  private static final float[] SCALES = {0f, -0f, -0.01f, Float.NaN, Float.POSITIVE_INFINITY,
      Float.NEGATIVE_INFINITY, 3e38f, Float.MAX_VALUE, 1e30f, Float.MIN_VALUE};

  private static List<Mutation> tensorEdits(String file, OrtAdapter valid, Map<String, String> touches) {
    List<Mutation> out = new ArrayList<>();
    for (OrtAdapterParameter p : valid.parameters()) {
      String name = p.name();
      String module = name.startsWith("head.") ? "head"
          : name.substring(0, name.indexOf(".lora_"));
      long[] d = p.dims();
      List<long[]> shapes = new ArrayList<>();
      if (d.length == 2) {
        shapes.add(new long[] {d[1], d[0]});
        shapes.add(new long[] {d[0], d[1], 1});
      }
      shapes.add(new long[] {Arrays.stream(d).reduce(1, (x, y) -> x * y)});
      for (long[] s : shapes) {
        out.add(edit(file, valid, name + " re-shaped to " + Arrays.toString(s), touches, module,
            q -> new OrtAdapterParameter(name, s, q.dataType(), q.rawData())));
      }
      for (long[] s : new long[][] {{0, 1L << 31}, {1L << 31, 0}, {0, 1L << 40}, {0}}) {
        out.add(emptied(file, valid, name, s, touches, module));
      }
      for (int type : TYPES) {
        if (type != p.dataType()) {
          out.add(retyped(file, valid, p, type, touches, module));
        }
      }
      out.add(edit(file, valid, name + " removed", touches, module, q -> null));
      if (p.dataType() == DataType.FLOAT16_VALUE) {
        for (short h : HALVES) {
          out.add(edit(file, valid, name + " value 0 set to float16 0x" + Integer.toHexString(h & 0xffff), touches,
              module, q -> {
                byte[] raw = q.rawData().clone();
                ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).putShort(0, h);
                return new OrtAdapterParameter(name, q.dims(), q.dataType(), raw);
              }));
        }
      }
      if (name.endsWith(".scale")) {
        for (float v : SCALES) {
          for (int rank : new int[] {0, (int) d[0] - 1}) {
            out.add(edit(file, valid, name + " rank " + rank + " set to " + v, touches, module, q -> {
              float[] s = q.asFloats().data().clone();
              s[rank] = v;
              return OrtAdapterParameter.floats(name, FloatTensor.vector(s));
            }));
          }
        }
        out.add(edit(file, valid, name + " stored as FLOAT16", touches, module,
            q -> OrtAdapterParameter.halves(name, q.asFloats())));
      }
      if (p.dataType() == DataType.INT8_VALUE) {
        for (byte b : new byte[] {-128, 127, 0}) {
          out.add(edit(file, valid, name + " value 0 set to int8 " + b, touches, module, q -> {
            byte[] raw = q.rawData().clone();
            raw[0] = b;
            return OrtAdapterParameter.int8s(name, q.dims(), raw);
          }));
        }
      }
    }
    return out;
  }

  /** {@code p} declared as {@code type} with its bytes unchanged, sizes disagreeing as they may. */
  private static Mutation retyped(String file, OrtAdapter valid, OrtAdapterParameter p, int type,
      Map<String, String> touches, String module) {
    String what = p.name() + " declared as " + TensorProtos.typeName(type) + ", bytes kept";
    touches.put(file + ": " + what, module);
    return Mutators.bytes(file, what, b -> {
      byte[] out = OrtAdapterFile.toBytes(replace(valid, p.name(),
          q -> new OrtAdapterParameter(q.name(), q.dims(), MARKER_TYPE, q.rawData())));
      ByteBuffer bb = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i + 4 <= out.length; i += 4) { // FlatBuffers scalars are aligned
        if (bb.getInt(i) == MARKER_TYPE) {
          bb.putInt(i, type);
          return out;
        }
      }
      throw new IllegalStateException("marker type not found");
    });
  }

  /**
   * {@code name} with no data and shape {@code dims}, which may hold dimensions no parameter can be
   * built with (beyond 2^31-1): written with a marker dimension, patched in the bytes after.
   */
  private static Mutation emptied(String file, OrtAdapter valid, String name, long[] dims,
      Map<String, String> touches, String module) {
    String what = name + " emptied with shape " + Arrays.toString(dims);
    touches.put(file + ": " + what, module);
    long big = Arrays.stream(dims).filter(d -> d > Integer.MAX_VALUE).findFirst().orElse(-1);
    long[] written = Arrays.stream(dims).map(d -> d > Integer.MAX_VALUE ? MARKER_TYPE : d).toArray();
    return Mutators.bytes(file, what, b -> {
      byte[] out = OrtAdapterFile.toBytes(replace(valid, name,
          q -> new OrtAdapterParameter(name, written, q.dataType(), new byte[0])));
      if (big < 0) {
        return out;
      }
      ByteBuffer bb = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i + 8 <= out.length; i += 8) { // int64 vectors are 8-byte aligned
        if (bb.getLong(i) == MARKER_TYPE) {
          bb.putLong(i, big);
          return out;
        }
      }
      throw new IllegalStateException("marker dimension not found");
    });
  }

  private static Mutation edit(String file, OrtAdapter valid, String what, Map<String, String> touches, String module,
      java.util.function.UnaryOperator<OrtAdapterParameter> change) {
    touches.put(file + ": " + what, module);
    return Mutators.bytes(file, what, b -> OrtAdapterFile.toBytes(replace(valid, what.split(" ")[0], change)));
  }

  /** {@code valid} with the parameter {@code name} changed (or removed, where the change gives null). */
  private static OrtAdapter replace(OrtAdapter valid, String name,
      java.util.function.UnaryOperator<OrtAdapterParameter> change) {
    List<OrtAdapterParameter> params = new ArrayList<>();
    for (OrtAdapterParameter p : valid.parameters()) {
      OrtAdapterParameter q = p.name().equals(name) ? change.apply(p) : p;
      if (q != null) {
        params.add(q);
      }
    }
    return new OrtAdapter(valid.adapterVersion(), valid.modelVersion(), params);
  }

  /** Each mutation followed by re-tying the sidecar to whatever adapter file it left. */
  private static List<Mutation> retied(String file, String sidecar, List<Mutation> mutations) {
    return mutations.stream().map(m -> new Mutation(m.name(), dir -> {
      m.apply().apply(dir);
      ObjectNode tree = (ObjectNode) SIDECAR_JSON.readTree(dir.resolve(sidecar).toFile());
      tree.put("adapter_sha256", AtomicFiles.sha256(Files.readAllBytes(dir.resolve(file))));
      tree.put(AdapterSidecar.CONTENT_FIELD, AdapterSidecar.contentHash(tree));
      SIDECAR_JSON.writeValue(dir.resolve(sidecar).toFile(), tree);
    })).toList();
  }

  /**
   * Each sidecar mutation followed by recomputing its {@code content_sha256}, where what is left is
   * a JSON object (a deleted or retyped hash field is put back as the hash of the rest).
   */
  private static List<Mutation> rehashed(String sidecar, List<Mutation> mutations) {
    return mutations.stream().map(m -> new Mutation(m.name() + " (content_sha256 recomputed)", dir -> {
      m.apply().apply(dir);
      JsonNode tree;
      try {
        tree = SIDECAR_JSON.readTree(dir.resolve(sidecar).toFile());
      } catch (IOException e) {
        return; // not JSON: nothing to hash
      }
      if (tree instanceof ObjectNode o) {
        o.put(AdapterSidecar.CONTENT_FIELD, AdapterSidecar.contentHash(o));
        SIDECAR_JSON.writeValue(dir.resolve(sidecar).toFile(), o);
      }
    })).toList();
  }

  private static final ObjectMapper SIDECAR_JSON = new ObjectMapper()
      .enable(com.fasterxml.jackson.core.JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS);

  static Adapter adapter() {
    EncoderDescription base = EncoderDescription.of(TinyBert.model(3));
    Map<String, Integer> ranks = new LinkedHashMap<>();
    List<LinearModule> targets = base.resolveTargets("query,value");
    ranks.put(targets.get(0).name(), 2);
    ranks.put(targets.get(1).name(), 3);
    return SyntheticAdapters.classifier(base, new BaseModelRef("tiny-bert", "ab".repeat(32)), "tiny", ranks, 2,
        TaskHead.Pooling.MEAN, 5);
  }
}
