package dev.lora4j.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.testing.corpus.HostileCorpus;
import dev.lora4j.models.testing.corpus.Mutators;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile-input corpus of checkpoints: checkpoint.json damage (negative, huge and mistyped
 * positions, broken evaluation records), tensors.bin byte damage, its count and every tensor length
 * set to 0 / -1 / 0x7fffffff / ..., and file-system substitutes for both files. A checkpoint that
 * reads must hold finite values and positions a run can reach.
 */
class CheckpointCorpusTest {
  private static final long SEED = 1217;

  @TempDir Path tmp;

  static Checkpoint valid() {
    Map<String, Object> meta = new LinkedHashMap<>();
    meta.put("format", 1);
    meta.put("step", 12);
    meta.put("epoch", 1);
    meta.put("next_batch", 3);
    meta.put("adam_steps", 12);
    meta.put("last_loss", 0.42);
    meta.put("data", "train=3f2a;dev=9c1b");
    meta.put("config", Map.of("method", "lora", "rank", 4, "lr", 5e-4));
    Map<String, Object> eval = new LinkedHashMap<>();
    eval.put("step", 8);
    eval.put("epoch", 1);
    eval.put("accuracy", 0.75);
    eval.put("loss", 0.5);
    eval.put("examples", 16);
    eval.put("seconds", 0.2);
    eval.put("ranks", Map.of("encoder.layer.0.attention.self.query", 4));
    meta.put("best", eval);
    meta.put("last", eval);
    Map<String, float[]> tensors = new LinkedHashMap<>();
    Random rnd = new Random(SEED);
    for (String name : List.of("q.lora_A", "q.lora_B", "head.weight", "q.lora_A.adam_m", "best/q.lora_A")) {
      float[] v = new float[8 + rnd.nextInt(24)];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) rnd.nextGaussian();
      }
      tensors.put(name, v);
    }
    return new Checkpoint(meta, tensors);
  }

  @Test
  void checkpointsAreRefusedWithAMessageOrReadSane() throws Exception {
    Path validDir = tmp.resolve("valid");
    Checkpoint original = valid();
    original.write(validDir);
    byte[] meta = Files.readAllBytes(validDir.resolve(Checkpoint.META));
    byte[] tensors = Files.readAllBytes(validDir.resolve(Checkpoint.TENSORS));
    Random rnd = new Random(SEED);

    HostileCorpus<Checkpoint> corpus = new HostileCorpus<Checkpoint>("checkpoint", validDir,
        Files.createDirectories(tmp.resolve("work")), Duration.ofSeconds(20))
        .add(Mutators.json(Checkpoint.META, meta, rnd, 3))
        .add(Mutators.fileSystem(Checkpoint.META))
        .add(Mutators.binary(Checkpoint.TENSORS, tensors, rnd, 60, 60, 40))
        .add(Mutators.lengthFields(Checkpoint.TENSORS, 4, ByteOrder.BIG_ENDIAN, lengthOffsets(original)))
        .add(Mutators.fileSystem(Checkpoint.TENSORS));
    corpus.run(Checkpoint::read, (c, m) -> {
      for (Map.Entry<String, float[]> e : c.tensors().entrySet()) {
        for (float f : e.getValue()) {
          assertTrue(Float.isFinite(f), e.getKey() + " holds " + f);
        }
      }
      for (String k : List.of("step", "epoch", "next_batch", "adam_steps")) {
        assertTrue(c.getLong(k) >= 0, k);
      }
    });
  }

  /** Offsets of the tensor count and of each tensor's length in tensors.bin (big-endian ints). */
  private static int[] lengthOffsets(Checkpoint c) {
    List<Integer> out = new ArrayList<>(List.of(4));
    int at = 8;
    for (Map.Entry<String, float[]> e : c.tensors().entrySet()) {
      at += 2 + e.getKey().length();
      out.add(at);
      at += 4 + 4 * e.getValue().length;
    }
    return out.stream().mapToInt(Integer::intValue).toArray();
  }
}
