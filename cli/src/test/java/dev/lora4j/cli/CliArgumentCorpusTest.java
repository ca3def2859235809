package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.testing.SyntheticAdapters;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.testing.TinySentiment;
import dev.lora4j.models.testing.corpus.HostileCorpus;
import dev.lora4j.models.testing.corpus.Mutation;
import dev.lora4j.models.testing.corpus.Mutators;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile-input corpus of command lines, run through {@link Main} in-process against a tiny base
 * model: every option value of {@code train} replaced by negative, zero, overflowing, non-finite,
 * empty and path-traversal values or devices, each argument deleted, unknown and repeated options,
 * the same values for each option of {@code eval}, and {@code inspect} on damaged or substituted
 * model files. A case must end with exit 0, or with a
 * non-zero exit and one message line (a parse error adds the "--help" hint) naming the input or the
 * option, never a stack trace, and must leave no files behind when it fails.
 */
class CliArgumentCorpusTest {
  private static final long SEED = 1219;
  private static final String ARGS = "args.txt";
  /** Options whose values size something (memory, time): they also get a huge value. */
  private static final List<String> SIZES = List.of("--rank", "--batch-size", "--max-length");
  private static final List<String> TRAIN = List.of("train", "--base", "{d}/base", "--train", "{d}/train.tsv",
      "--no-dev", "--out", "{d}/out/a", "--rank", "2", "--epochs", "1", "--batch-size", "8", "--max-train", "8",
      "--max-length", "16", "--lr", "0.001", "--alpha", "4", "--log-every", "5", "--device", "cpu", "--quiet");
  private static final List<String> HOSTILE = List.of("-1", "0", "2147483648", "1e309", "NaN", "Infinity", "",
      " ", "abc", "../../../../etc/passwd", "/dev/zero", "/dev/urandom", "{d}", "{d}/missing", "0x10", "1,5");

  @TempDir Path tmp;

  @Test
  void commandLinesEndInOneMessageOrSuccess() throws Exception {
    Path validDir = tmp.resolve("valid");
    TinySentiment.write(validDir, 16, 8);
    Random rnd = new Random(SEED);
    Map<String, List<String>> names = new HashMap<>();
    List<Mutation> cases = new ArrayList<>();
    for (int i = 1; i < TRAIN.size(); i++) {
      String option = TRAIN.get(i);
      if (!option.startsWith("--") || i + 1 >= TRAIN.size() || TRAIN.get(i + 1).startsWith("--")
          || option.equals("--out")) {
        continue; // --out stays inside the case directory: replacing a device or a system file is not a test
      }
      List<String> values = new ArrayList<>(HOSTILE);
      if (SIZES.contains(option)) {
        values.addAll(List.of("100000", "4097", "65537"));
      }
      for (String v : values) {
        List<String> args = new ArrayList<>(TRAIN);
        args.set(i + 1, v);
        cases.add(args(option + " " + v, args, names, option, v));
      }
    }
    for (int i = 1; i < TRAIN.size(); i++) {
      List<String> args = new ArrayList<>(TRAIN);
      String removed = args.remove(i);
      cases.add(args("argument " + i + " (" + removed + ") deleted", args, names, removed,
          i > 1 ? TRAIN.get(i - 1) : removed, i + 1 < TRAIN.size() ? TRAIN.get(i + 1) : removed));
    }
    for (String extra : List.of("--colour", "--rank", "-x", "--", "--help=1", "--epochs=1")) {
      List<String> args = new ArrayList<>(TRAIN);
      args.add(1 + rnd.nextInt(args.size() - 1), extra);
      cases.add(args("inserted " + extra, args, names, extra, extra.replaceAll("=.*", "")));
    }
    writeAdapter(validDir);
    List<String> eval = List.of("eval", "--base", "{d}/base", "--adapter", "{d}/adapter", "--data", "{d}/dev.tsv",
        "--device", "cpu");
    for (int i = 1; i < eval.size(); i += 2) {
      for (String v : HOSTILE) {
        List<String> args = new ArrayList<>(eval);
        args.set(i + 1, v);
        cases.add(args("eval " + eval.get(i) + " " + v, args, names, eval.get(i), v));
      }
      List<String> args = new ArrayList<>(eval);
      args.remove(i + 1);
      args.remove(i);
      cases.add(args("eval without " + eval.get(i), args, names, eval.get(i)));
    }
    List<String> inspect = List.of("inspect", "{d}/base");
    for (String v : HOSTILE) {
      cases.add(args("inspect " + v, List.of("inspect", v), names, v));
    }
    for (Mutation m : Mutators.fileSystem("base/model.onnx")) {
      cases.add(withArgs(m, inspect, names));
    }
    byte[] model = Files.readAllBytes(validDir.resolve("base/model.onnx"));
    for (Mutation m : Mutators.binary("base/model.onnx", model, rnd, 0, 10, 10).subList(0, 40)) {
      cases.add(withArgs(m, inspect, names));
    }

    HostileCorpus<String> corpus = new HostileCorpus<String>("cli", validDir,
        Files.createDirectories(tmp.resolve("work")), Duration.ofSeconds(60))
        .add(cases)
        .writesAllowedOnSuccess()
        .messageNamesOneOf((dir, m) -> {
          List<String> n = new ArrayList<>(names.getOrDefault(m.name(), List.of()));
          n.replaceAll(s -> s.replace("{d}", dir.toString()));
          n.removeIf(s -> s.isBlank() || s.equals("/"));
          n.add(dir.getFileName().toString());
          return n;
        });
    corpus.run(CliArgumentCorpusTest::runMain, (out, m) -> assertFalse(out.contains("\tat "), out));
  }

  /**
   * A case whose refusal must name one of {@code named} (options also count without their dashes,
   * as the parser says "Missing argument for option: rank"; paths also count as absolute, normalized).
   */
  /** A LoRA adapter for the task's base model and labels, so eval can succeed on the valid input. */
  private static void writeAdapter(Path dir) {
    dev.lora4j.trainer.BaseModel model = dev.lora4j.trainer.BaseModel.open(dir.resolve("base").toString());
    EncoderDescription base = model.description();
    Adapter a = SyntheticAdapters.classifier(base, model.ref(), "tiny",
        Map.of(base.resolveTargets("query").get(0).name(), 2), 2, TaskHead.Pooling.MEAN, SEED);
    TaskHead h = a.head();
    PeftAdapters.write(new Adapter(a.name(), a.base(), a.modules(),
        TaskHead.classifier(h.pooling(), h.weight(), h.bias(), List.of("0", "1")), a.provenance()),
        dir.resolve("adapter"));
  }

  private static Mutation args(String what, List<String> args, Map<String, List<String>> names, String... named) {
    List<String> all = new ArrayList<>();
    for (String n : named) {
      all.add(n);
      if (n.startsWith("--")) {
        all.add(n.substring(2));
        all.add(n.replace("--no-", "--")); // without --no-dev, --dev is required
      } else if (!n.contains("{d}")) {
        try {
          all.add(Path.of(n).toAbsolutePath().normalize().toString());
        } catch (java.nio.file.InvalidPathException e) {
          // not a path; the value itself must be named
        }
      }
    }
    names.put("args: " + what, all);
    return new Mutation("args: " + what, dir -> Files.write(dir.resolve(ARGS), args));
  }

  private static Mutation withArgs(Mutation m, List<String> args, Map<String, List<String>> names) {
    names.put(m.name(), List.of("model.onnx"));
    return new Mutation(m.name(), dir -> {
      m.apply().apply(dir);
      Files.write(dir.resolve(ARGS), args);
    });
  }

  /** Runs Main; a failure with one clean message line becomes a Lora4jException carrying it. */
  private static String runMain(Path dir) throws Exception {
    String[] args = Files.readAllLines(dir.resolve(ARGS)).stream().map(a -> a.replace("{d}", dir.toString()))
        .toArray(String[]::new);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Main.standard().run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    String e = err.toString(StandardCharsets.UTF_8);
    if (code == 0) {
      return out.toString(StandardCharsets.UTF_8) + e;
    }
    List<String> lines = e.lines().filter(l -> !l.startsWith("Run 'lora4j ")).toList();
    if (lines.size() != 1 || e.contains("\tat ") || e.contains("internal error")) {
      throw new IllegalStateException("exit " + code + " without one message line:\n" + e);
    }
    throw new Lora4jException(lines.get(0));
  }
}
