package dev.lora4j.models.adapter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.adapter.safetensors.DType;
import dev.lora4j.models.adapter.safetensors.SafeTensor;

import dev.lora4j.models.adapter.safetensors.Safetensors;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.testing.SyntheticAdapters;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.models.testing.corpus.HostileCorpus;
import dev.lora4j.models.testing.corpus.Mutation;
import dev.lora4j.models.testing.corpus.Mutators;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile-input corpus of PEFT adapter directories: adapter_config.json (JSON damage) and
 * adapter_model.safetensors (byte damage, header-length fields, damage to its JSON header with the
 * framing kept intact), plus what the file system can put in their place. Every case must be
 * refused with a message naming the directory, or load an adapter with finite weights on exactly
 * the modules of the valid file (a module silently dropped would change answers).
 */
class PeftCorpusTest {
  private static final long SEED = 1212;

  @TempDir Path tmp;

  static Adapter valid() {
    EncoderDescription base = EncoderDescription.of(TinyBert.model(3));
    Map<String, Integer> ranks = new LinkedHashMap<>();
    List<LinearModule> targets = base.resolveTargets("query,value");
    ranks.put(targets.get(0).name(), 2);
    ranks.put(targets.get(1).name(), 3);
    return SyntheticAdapters.classifier(base, new BaseModelRef("tiny-bert", "ab".repeat(32)), "tiny", ranks, 2,
        TaskHead.Pooling.MEAN, 5);
  }

  @Test
  void peftDirectoriesAreRefusedWithAMessageOrLoadSane() throws Exception {
    Path validDir = tmp.resolve("valid");
    Adapter original = valid();
    PeftAdapters.write(original, validDir);
    Path work = Files.createDirectories(tmp.resolve("work"));
    Random rnd = new Random(SEED);
    String config = PeftAdapters.CONFIG_FILE;
    String weights = PeftAdapters.WEIGHTS_FILE;
    byte[] configBytes = Files.readAllBytes(validDir.resolve(config));
    byte[] weightBytes = Files.readAllBytes(validDir.resolve(weights));

    HostileCorpus<Adapter> corpus = new HostileCorpus<Adapter>("peft", validDir, work, Duration.ofSeconds(20))
        .add(Mutators.json(config, configBytes, rnd, 3))
        .add(Mutators.fileSystem(config))
        .add(Mutators.binary(weights, weightBytes, rnd, 120, 150, 100))
        .add(Mutators.lengthFields(weights, 8, 0))
        .add(headerMutations(weights, weightBytes, rnd))
        .add(sectionMutations(weights, weightBytes, rnd))
        .add(Mutators.fileSystem(weights));
    corpus.run(PeftAdapters::read, (loaded, m) -> {
      loaded.requireFinite(m.name());
      assertEquals(original.modules().keySet(), loaded.modules().keySet(), "modules");
      for (String k : original.modules().keySet()) {
        assertEquals(original.modules().get(k).rank(), loaded.modules().get(k).rank(), k);
      }
    });
  }

  /**
   * PEFT's own DoRA directory (fixture {@code peft/bert-dora}) with its {@code lora_magnitude_vector}s
   * damaged one module at a time: removed, re-shaped ([out-1], [out+1], [0], [out,1], [1,out], []),
   * an entry set to NaN / +-Inf / 0 / -1 / 1e38, all zero, all negated, stored as F16 / BF16 / F64
   * (values kept) or I64; plus config JSON damage and safetensors header damage. PEFT loads any
   * magnitude of the right shape (zero and negative ones included: {@code DoraLinearLayer} divides by
   * the weight norm, never by the magnitude), so those must load, and only non-finite ones and wrong
   * shapes or types may be refused. Loads must be finite, keep the modules and ranks, and leave every
   * module the edit did not touch exactly as the valid directory reads.
   */
  @Test
  void doraDirectoriesAreRefusedWithAMessageOrLoadSane() throws Exception {
    Path validDir = Path.of(PeftCorpusTest.class.getResource("/peft/bert-dora").toURI());
    Path copy = tmp.resolve("valid-dora");
    HostileCorpus.copyTree(validDir, copy);
    Files.delete(copy.resolve("merged_weights.safetensors")); // PEFT's merge, for PeftDoraTest; not part of the adapter
    Adapter validLoad = PeftAdapters.read(copy);
    String weights = PeftAdapters.WEIGHTS_FILE;
    byte[] weightBytes = Files.readAllBytes(copy.resolve(weights));
    Safetensors valid = Safetensors.decode(weightBytes, weights);
    Random rnd = new Random(1216);
    Map<String, Set<String>> touches = new LinkedHashMap<>();
    List<Mutation> edits = new ArrayList<>();
    for (String name : valid.tensors().keySet()) {
      if (!name.endsWith(".lora_magnitude_vector")) {
        continue;
      }
      Set<String> module = Set.of(moduleOf(name));
      float[] m = valid.tensors().get(name).toFloats();
      int out = m.length;
      edits.add(tensorEdit(weights, valid, name, "removed", module, touches, t -> null));
      for (long[] shape : new long[][] {{out - 1}, {out + 1}, {0}, {out, 1}, {1, out}, {}}) {
        long n = SafeTensor.elementCount(shape);
        edits.add(tensorEdit(weights, valid, name, "re-shaped to " + Arrays.toString(shape), module, touches,
            t -> SafeTensor.f32(shape, Arrays.copyOf(m, (int) n))));
      }
      for (float v : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -1f, 1e38f}) {
        edits.add(tensorEdit(weights, valid, name, "entry 0 set to " + v, module, touches, t -> {
          float[] c = m.clone();
          c[0] = v;
          return SafeTensor.f32(t.shape(), c);
        }));
      }
      edits.add(tensorEdit(weights, valid, name, "all zero", module, touches,
          t -> SafeTensor.f32(t.shape(), new float[out])));
      edits.add(tensorEdit(weights, valid, name, "negated", module, touches, t -> {
        float[] c = m.clone();
        for (int i = 0; i < c.length; i++) {
          c[i] = -c[i];
        }
        return SafeTensor.f32(t.shape(), c);
      }));
      edits.add(tensorEdit(weights, valid, name, "stored as F16", module, touches, t -> SafeTensor.f16(t.shape(), m)));
      edits.add(tensorEdit(weights, valid, name, "stored as BF16", module, touches, t -> bf16(t.shape(), m)));
      edits.add(tensorEdit(weights, valid, name, "stored as F64", module, touches, t -> {
        ByteBuffer b = ByteBuffer.allocate(out * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : m) {
          b.putDouble(v);
        }
        return new SafeTensor(DType.F64, t.shape(), b.flip());
      }));
      edits.add(tensorEdit(weights, valid, name, "stored as I64", module, touches, t -> {
        long[] l = new long[out];
        for (int i = 0; i < out; i++) {
          l[i] = Math.round(m[i]);
        }
        return SafeTensor.i64(t.shape(), l);
      }));
    }
    HostileCorpus<Adapter> corpus = new HostileCorpus<Adapter>("peft dora", copy,
        Files.createDirectories(tmp.resolve("work-dora")), Duration.ofSeconds(20))
        .add(edits)
        .add(Mutators.json(PeftAdapters.CONFIG_FILE, Files.readAllBytes(copy.resolve(PeftAdapters.CONFIG_FILE)), rnd, 1))
        .add(headerMutations(weights, weightBytes, rnd));
    corpus.run(PeftAdapters::read, (loaded, mutation) -> sane(validLoad, loaded, touches.get(mutation.name()), mutation));
  }

  /** lora4j's adapter written with {@code --adapter-dtype fp16}: see {@link #halfCorpus}. */
  @Test
  void fp16PeftDirectoriesAreRefusedWithAMessageOrLoadSane() throws Exception {
    halfCorpus(DType.F16, 1217);
  }

  /** The fp16 directory with every F16 tensor re-stored as BF16 (as a bf16 PEFT training saves): see {@link #halfCorpus}. */
  @Test
  void bf16PeftDirectoriesAreRefusedWithAMessageOrLoadSane() throws Exception {
    halfCorpus(DType.BF16, 1218);
  }

  /**
   * A PEFT directory with half-precision factors and per-module ranks and alphas (the valid adapter
   * has ranks 2 and 3, so its config carries a {@code rank_pattern}, as budgeted exports write):
   * byte and header damage to the weights; each factor's first value set to the half patterns of
   * +-Inf and NaN, or declared as the other half type, F32 or I64 with its bytes kept; and config
   * edits: {@code rank_pattern} naming a module the adapter lacks (PEFT ignores a key that matches no
   * module, so this must load unchanged), a rank disagreeing with the tensors, zero, negative, 2^31,
   * not whole, quoted; a key that is no regular expression; {@code alpha_pattern} / {@code lora_alpha}
   * NaN, +-Infinity, 0, negative (PEFT takes both), 1e308 (finite, but alpha / r times B overflows
   * float32); and random JSON damage.
   */
  private void halfCorpus(DType dtype, long seed) throws Exception {
    Path validDir = tmp.resolve("valid-" + dtype);
    PeftAdapters.write(valid(), validDir, false, AdapterDtype.FP16);
    String config = PeftAdapters.CONFIG_FILE;
    String weights = PeftAdapters.WEIGHTS_FILE;
    if (dtype == DType.BF16) {
      Safetensors f16 = Safetensors.read(validDir.resolve(weights));
      Map<String, SafeTensor> t = new LinkedHashMap<>();
      f16.tensors().forEach((k, v) -> t.put(k, v.dtype() == DType.F16 ? bf16(v.shape(), v.toFloats()) : v));
      new Safetensors(t, f16.metadata()).write(validDir.resolve(weights));
    }
    Adapter validLoad = PeftAdapters.read(validDir);
    byte[] weightBytes = Files.readAllBytes(validDir.resolve(weights));
    byte[] configBytes = Files.readAllBytes(validDir.resolve(config));
    Safetensors valid = Safetensors.decode(weightBytes, weights);
    assertTrue(valid.tensors().values().stream().anyMatch(t -> t.dtype() == dtype), "the valid file holds " + dtype);
    ObjectNode validConfig = (ObjectNode) CONFIG_JSON.readTree(configBytes);
    assertTrue(validConfig.path("rank_pattern").size() > 0, "the valid config has a rank_pattern");
    Random rnd = new Random(seed);
    Map<String, Set<String>> touches = new LinkedHashMap<>();
    Set<String> all = validLoad.modules().keySet();
    List<Mutation> edits = new ArrayList<>();
    for (Map.Entry<String, SafeTensor> e : valid.tensors().entrySet()) {
      String name = e.getKey();
      SafeTensor t = e.getValue();
      if (t.dtype() != dtype) {
        continue;
      }
      Set<String> module = Set.of(moduleOf(name));
      short[] patterns = dtype == DType.F16 ? new short[] {0x7C00, (short) 0xFC00, 0x7E00}
          : new short[] {0x7F80, (short) 0xFF80, 0x7FC0};
      for (short h : patterns) {
        edits.add(tensorEdit(weights, valid, name, "value 0 set to " + dtype + " 0x" + Integer.toHexString(h & 0xffff),
            module, touches, u -> {
              ByteBuffer b = ByteBuffer.allocate(u.data().remaining()).order(ByteOrder.LITTLE_ENDIAN);
              b.put(u.data().duplicate()).flip();
              b.putShort(0, h);
              return new SafeTensor(u.dtype(), u.shape(), b);
            }));
      }
      for (DType other : new DType[] {dtype == DType.F16 ? DType.BF16 : DType.F16, DType.F32, DType.I64}) {
        edits.add(Mutators.bytes(weights, "header " + name + ".dtype set to " + other + ", bytes kept",
            b -> retyped(b, name, other)));
        touches.put(weights + ": header " + name + ".dtype set to " + other + ", bytes kept", module);
      }
    }
    String patternKey = validConfig.path("rank_pattern").fieldNames().next();
    int patternRank = validConfig.path("rank_pattern").path(patternKey).asInt();
    String absent = "encoder.layer.9.attention.self.query";
    edits.add(configEdit(config, validConfig, "rank_pattern names " + absent + ", which the adapter lacks", Set.of(),
        touches, c -> ((ObjectNode) c.get("rank_pattern")).put(absent, 4)));
    edits.add(configEdit(config, validConfig, "rank_pattern." + patternKey + " set to " + (patternRank + 1), all,
        touches, c -> ((ObjectNode) c.get("rank_pattern")).put(patternKey, patternRank + 1)));
    for (String v : new String[] {"0", "-1", "2147483648", "2147483647", "2.5", "\"3\"", "NaN", "1e308", "null"}) {
      edits.add(configEdit(config, validConfig, "rank_pattern." + patternKey + " set to " + v, all, touches,
          c -> ((ObjectNode) c.get("rank_pattern")).set(patternKey, literal(v))));
    }
    for (String v : new String[] {"0", "-1", "2147483648", "NaN"}) {
      edits.add(configEdit(config, validConfig, "r set to " + v, all, touches, c -> c.set("r", literal(v))));
    }
    edits.add(configEdit(config, validConfig, "rank_pattern key '(' (no regular expression)", all, touches,
        c -> ((ObjectNode) c.get("rank_pattern")).put("(", 2)));
    for (String m : all) {
      for (String v : new String[] {"NaN", "Infinity", "-Infinity", "0", "-4", "1e308", "1e-320"}) {
        edits.add(configEdit(config, validConfig, "alpha_pattern." + m + " set to " + v, Set.of(m), touches,
            c -> ((ObjectNode) c.get("alpha_pattern")).set(m, literal(v))));
      }
    }
    for (String v : new String[] {"NaN", "Infinity", "0", "-1", "1e308"}) {
      edits.add(configEdit(config, validConfig, "lora_alpha set to " + v, all, touches,
          c -> c.set("lora_alpha", literal(v))));
    }
    HostileCorpus<Adapter> corpus = new HostileCorpus<Adapter>("peft " + dtype, validDir,
        Files.createDirectories(tmp.resolve("work-" + dtype)), Duration.ofSeconds(20))
        .add(edits)
        .add(Mutators.binary(weights, weightBytes, rnd, 30, 60, 40))
        .add(headerMutations(weights, weightBytes, rnd))
        .add(Mutators.json(config, configBytes, rnd, 1));
    corpus.run(PeftAdapters::read, (loaded, mutation) -> sane(validLoad, loaded, touches.get(mutation.name()), mutation));
  }

  /**
   * Finite (also compacted: what exports and the runtime use), the valid modules at their ranks, and,
   * where the edit's reach is known ({@code touched} not null), every other module exactly as read
   * from the valid directory.
   */
  private static void sane(Adapter valid, Adapter loaded, Set<String> touched, Mutation m) {
    loaded.requireFinite(m.name());
    loaded.compact().requireFinite(m.name() + " (compacted)");
    assertEquals(valid.ranks(), loaded.ranks(), "modules and ranks");
    if (touched == null) {
      return;
    }
    for (LowRankModule v : valid.modules().values()) {
      if (!touched.contains(v.module())) {
        assertEquals(v, loaded.modules().get(v.module()), v.module());
      }
    }
  }

  /** {@code base_model.model.<module>.lora_A.weight} and the like -> {@code <module>}. */
  private static String moduleOf(String tensor) {
    String m = tensor.startsWith("base_model.model.") ? tensor.substring("base_model.model.".length()) : tensor;
    return m.substring(0, m.indexOf(".lora_"));
  }

  private static Mutation tensorEdit(String file, Safetensors valid, String tensor, String what, Set<String> modules,
      Map<String, Set<String>> touches, java.util.function.UnaryOperator<SafeTensor> change) {
    String name = tensor + " " + what;
    touches.put(file + ": " + name, modules);
    return Mutators.bytes(file, name, b -> {
      Map<String, SafeTensor> t = new LinkedHashMap<>(valid.tensors());
      SafeTensor changed = change.apply(t.get(tensor));
      if (changed == null) {
        t.remove(tensor);
      } else {
        t.put(tensor, changed);
      }
      return new Safetensors(t, valid.metadata()).encode();
    });
  }

  /** The weights with one tensor's header dtype replaced, its bytes and offsets kept. */
  private static byte[] retyped(byte[] bytes, String tensor, DType dtype) {
    int length = (int) ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    try {
      ObjectNode header = (ObjectNode) CONFIG_JSON.readTree(Arrays.copyOfRange(bytes, 8, 8 + length));
      ((ObjectNode) header.get(tensor)).put("dtype", dtype.name());
      return frame(CONFIG_JSON.writeValueAsBytes(header), Arrays.copyOfRange(bytes, 8 + length, bytes.length));
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Mutation configEdit(String file, ObjectNode valid, String what, Set<String> modules,
      Map<String, Set<String>> touches, java.util.function.Consumer<ObjectNode> change) {
    touches.put(file + ": " + what, modules);
    return Mutators.bytes(file, what, b -> {
      ObjectNode c = valid.deepCopy();
      change.accept(c);
      try {
        return CONFIG_JSON.writeValueAsBytes(c);
      } catch (java.io.IOException e) {
        throw new IllegalStateException(e);
      }
    });
  }

  /** A JSON value from its text: bare NaN and Infinity included, as Python's json writes them. */
  private static com.fasterxml.jackson.databind.JsonNode literal(String text) {
    try {
      return CONFIG_JSON.readTree(text);
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException(text, e);
    }
  }

  /** Values truncated to bfloat16 (the upper half of each float), as a fixture. */
  private static SafeTensor bf16(long[] shape, float[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
    }
    return new SafeTensor(DType.BF16, shape, b.flip());
  }

  /** Reads and writes bare NaN / Infinity (Python's json does both; PEFT configs may hold them). */
  private static final ObjectMapper CONFIG_JSON = new ObjectMapper()
      .enable(com.fasterxml.jackson.core.JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS)
      .disable(com.fasterxml.jackson.core.JsonGenerator.Feature.QUOTE_NON_NUMERIC_NUMBERS);

  /** JSON damage to the safetensors header, re-framed so the header length stays right. */
  static List<Mutation> headerMutations(String file, byte[] bytes, Random rnd) {
    int length = (int) ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    byte[] header = Arrays.copyOfRange(bytes, 8, 8 + length);
    byte[] data = Arrays.copyOfRange(bytes, 8 + length, bytes.length);
    return Mutators.jsonEdits(header, rnd, 2).stream()
        .map(e -> Mutators.bytes(file, "header " + e.name(), b -> frame(e.change().apply(header.clone()), data)))
        .toList();
  }

  /**
   * JSON damage inside lora4j's section, which sits as one string in the header's metadata: the
   * header edits above replace that string whole, these reach its fields.
   */
  static List<Mutation> sectionMutations(String file, byte[] bytes, Random rnd) {
    Safetensors valid = Safetensors.decode(bytes, file);
    byte[] section = valid.metadata().get("lora4j").getBytes(StandardCharsets.UTF_8);
    return Mutators.jsonEdits(section, rnd, 2).stream()
        .map(e -> Mutators.bytes(file, "__metadata__.lora4j " + e.name(), b -> {
          Map<String, String> metadata = new LinkedHashMap<>(valid.metadata());
          metadata.put("lora4j", new String(e.change().apply(section.clone()), StandardCharsets.UTF_8));
          return new Safetensors(valid.tensors(), metadata).encode();
        }))
        .toList();
  }

  private static byte[] frame(byte[] header, byte[] data) {
    ByteBuffer out = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(header.length).put(header).put(data);
    return out.array();
  }
}
