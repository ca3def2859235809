package dev.lora4j.models.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.EncoderSpec;
import dev.lora4j.models.onnx.proto.Onnx.ModelProto;
import dev.lora4j.models.onnx.proto.Onnx.StringStringEntryProto;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.models.testing.corpus.HostileCorpus;
import dev.lora4j.models.testing.corpus.Mutation;
import dev.lora4j.models.testing.corpus.Mutators;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile-input corpus of an ONNX base model with external data, read as a base model is
 * ({@link OnnxModel#read} then {@link EncoderDescription#of}): protobuf byte damage, damage to the
 * external data file, external-data entries with hostile offsets, lengths and locations, tensor
 * dims that promise more than the file holds, and file-system substitutes. Every case must be
 * refused with a message naming the file, or describe the same encoder as the valid model.
 */
class OnnxCorpusTest {
  private static final long SEED = 1214;
  private static final String MODEL = "model.onnx";
  private static final String DATA = "model.onnx.data";

  @TempDir Path tmp;

  @Test
  void onnxModelsWithExternalDataAreRefusedWithAMessageOrLoadSane() throws Exception {
    Path validDir = Files.createDirectories(tmp.resolve("valid"));
    TinyBert.model(3).save(validDir.resolve(MODEL), true);
    EncoderDescription original = EncoderDescription.of(OnnxModel.read(validDir.resolve(MODEL)));
    byte[] model = Files.readAllBytes(validDir.resolve(MODEL));
    byte[] data = Files.readAllBytes(validDir.resolve(DATA));
    Random rnd = new Random(SEED);

    HostileCorpus<EncoderDescription> corpus = new HostileCorpus<EncoderDescription>("onnx", validDir,
        Files.createDirectories(tmp.resolve("work")), Duration.ofSeconds(20))
        .add(Mutators.binary(MODEL, model, rnd, 80, 120, 80))
        .add(Mutators.binary(DATA, data, rnd, 20, 20, 20))
        .add(externalEntries(ModelProto.parseFrom(model)))
        .add(dims(ModelProto.parseFrom(model)))
        .add(Mutators.fileSystem(MODEL))
        .add(Mutators.fileSystem(DATA));
    // The structure must be the valid model's; values (weights, the LayerNorm epsilon) may differ
    // where the damage hit them, but must stay usable.
    corpus.run(dir -> EncoderDescription.of(OnnxModel.read(dir.resolve(MODEL))), (loaded, m) -> {
      assertEquals(structure(original.spec()), structure(loaded.spec()), "encoder structure");
      assertTrue(loaded.spec().layerNormEps() > 0 && Double.isFinite(loaded.spec().layerNormEps()),
          "LayerNorm epsilon " + loaded.spec().layerNormEps());
    });
  }

  private static List<Object> structure(EncoderSpec s) {
    return List.of(s.layers(), s.hidden(), s.heads(), s.intermediate(), s.vocabSize(), s.maxPositions(),
        s.typeVocabSize(), s.activation());
  }

  /** Offsets, lengths and locations of external tensors set to what a hostile file could say. */
  private static List<Mutation> externalEntries(ModelProto proto) {
    List<Mutation> out = new ArrayList<>();
    List<Integer> external = new ArrayList<>();
    for (int i = 0; i < proto.getGraph().getInitializerCount(); i++) {
      if (proto.getGraph().getInitializer(i).getExternalDataCount() > 0) {
        external.add(i);
      }
    }
    int[] which = {external.get(0), external.get(external.size() - 1)};
    String[] numbers = {"-1", "0", "1", "2147483647", "2147483648", "9223372036854775807", "-9223372036854775808",
        "1099511627776", "abc", ""};
    String[] locations = {"../outside.data", "/dev/zero", "", "sub/../../x.data", MODEL, "missing.data",
        "./" + DATA, "/etc/passwd", "..", "."};
    for (int index : which) {
      for (String key : new String[] {"offset", "length"}) {
        for (String v : numbers) {
          out.add(edit(proto, "initializer " + index + " external " + key + " = " + v, t -> entry(t, key, v), index));
        }
      }
      for (String v : locations) {
        out.add(edit(proto, "initializer " + index + " external location = " + v, t -> entry(t, "location", v),
            index));
      }
      out.add(edit(proto, "initializer " + index + " external location removed",
          t -> t.toBuilder().clearExternalData().addExternalData(kv("offset", "0")).build(), index));
    }
    return out;
  }

  /** Dims of inline and external tensors that promise more (or fewer, or negative) elements. */
  private static List<Mutation> dims(ModelProto proto) {
    List<Mutation> out = new ArrayList<>();
    long[][] shapes = {{Integer.MAX_VALUE}, {-1}, {1L << 62, 4}, {0}, {1L << 31, 1L << 31}, {3, -3}, {}};
    int n = proto.getGraph().getInitializerCount();
    for (int index : new int[] {0, 1, n / 2, n - 1}) {
      for (long[] shape : shapes) {
        out.add(edit(proto, "initializer " + index + " dims = " + java.util.Arrays.toString(shape), t -> {
          TensorProto.Builder b = t.toBuilder().clearDims();
          for (long d : shape) {
            b.addDims(d);
          }
          return b.build();
        }, index));
      }
    }
    return out;
  }

  private static Mutation edit(ModelProto proto, String what, UnaryOperator<TensorProto> change, int index) {
    return Mutators.bytes(MODEL, what, b -> {
      ModelProto.Builder mb = proto.toBuilder();
      mb.getGraphBuilder().setInitializer(index, change.apply(proto.getGraph().getInitializer(index)));
      return mb.build().toByteArray();
    });
  }

  private static TensorProto entry(TensorProto t, String key, String value) {
    TensorProto.Builder b = t.toBuilder().clearExternalData();
    for (StringStringEntryProto e : t.getExternalDataList()) {
      b.addExternalData(e.getKey().equals(key) ? kv(key, value) : e);
    }
    return b.build();
  }

  private static StringStringEntryProto kv(String k, String v) {
    return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
  }
}
