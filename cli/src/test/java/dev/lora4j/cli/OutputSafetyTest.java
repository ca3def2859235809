package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.export.ExportManifest;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code export --out} and {@code train --out} replace only their own earlier output unless told
 * {@code --overwrite}, never an input; repeated options and odd inputs are one clear line.
 */
class OutputSafetyTest {
  static final String OVERWRITE_HINT = "; refusing to replace it (--overwrite replaces it, deleting what is there)";
  static final String INPUT_HINT = "; write the output elsewhere (an input is never replaced, not even with --overwrite)";

  @TempDir Path dir;
  Path base;
  String sha;

  @BeforeEach
  void base() throws Exception {
    base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    sha = AtomicFiles.sha256(base.resolve("model.onnx"));
  }

  private MainTest.Run export(Path adapter, Path out, String... more) {
    List<String> args = new ArrayList<>(List.of("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", out.toString()));
    args.addAll(List.of(more));
    return MainTest.run(args.toArray(String[]::new));
  }

  /** A one-line usage error that is exactly {@code message}. */
  private static void assertRefused(MainTest.Run r, String command, String message) {
    assertEquals(2, r.code(), r.out() + r.err());
    assertEquals("lora4j " + command + ": " + message, r.err().strip());
  }

  private static List<String> names(Path d) throws Exception {
    try (Stream<Path> s = Files.list(d)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void exportRefusesANonEmptyForeignDirectory() throws Exception {
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2", sha);
    Path out = Files.createDirectories(dir.resolve("results"));
    byte[] data = {0, 1, 2, (byte) 0xff};
    Files.write(out.resolve("experiment.bin"), data);
    Files.writeString(out.resolve("README"), "do not lose");
    assertRefused(export(adapter, out), "export", out + " is a directory that is not an export directory (it has no "
        + "export.json; it holds README, experiment.bin)" + OVERWRITE_HINT);
    assertArrayEquals(data, Files.readAllBytes(out.resolve("experiment.bin")));
    assertEquals("do not lose", Files.readString(out.resolve("README")));
    assertEquals(List.of("in", "results", "tiny"), names(dir), "no temporary directory left");
  }

  @Test
  void exportRefusesAPlainFile() throws Exception {
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2", sha);
    Path out = Files.writeString(dir.resolve("export"), "a file");
    assertRefused(export(adapter, out), "export", out + " is a file, not an export directory" + OVERWRITE_HINT);
    assertEquals("a file", Files.readString(out));
  }

  @Test
  void exportIntoItsOwnInputIsRefusedEvenWithOverwrite() throws Exception {
    Path peft = ExportCommandTest.writePeft(dir.resolve("sst2-sora"), sha);
    byte[] config = Files.readAllBytes(peft.resolve(PeftAdapters.CONFIG_FILE));
    assertRefused(export(peft, peft, "--format", "peft", "--overwrite"), "export",
        "--out " + peft + " is the input --adapter " + peft + INPUT_HINT);
    assertArrayEquals(config, Files.readAllBytes(peft.resolve(PeftAdapters.CONFIG_FILE)));

    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2", sha);
    Path in = dir.resolve("in");
    assertRefused(export(adapter, in, "--overwrite"), "export",
        "--out " + in + " contains the input --adapter " + adapter + INPUT_HINT);
  }

  @Test
  void reRunningAnExportReplacesItsPreviousOutput() throws Exception {
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2", sha);
    Path out = dir.resolve("export");
    MainTest.Run first = export(adapter, out, "--format", "all", "--name", "movies");
    assertEquals(0, first.code(), first.err());
    MainTest.Run second = export(adapter, out, "--format", "multi", "--name", "films");
    assertEquals(0, second.code(), second.err());
    assertEquals("films", ExportManifest.read(out).adapters().get(0).name());
    assertFalse(Files.exists(out.resolve("movies.merged.onnx")), "the earlier export is replaced, not merged into");
    assertEquals(List.of("export", "in", "tiny"), names(dir));
  }

  @Test
  void overwriteReplacesAForeignDirectory() throws Exception {
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "sst2", sha);
    Path out = Files.createDirectories(dir.resolve("results"));
    Files.writeString(out.resolve("README"), "old");
    MainTest.Run r = export(adapter, out, "--format", "multi", "--overwrite");
    assertEquals(0, r.code(), r.err());
    assertFalse(Files.exists(out.resolve("README")));
    assertTrue(Files.exists(out.resolve("sst2.onnx_adapter")));
  }

  private Path tsv(String name) throws Exception {
    List<String> lines = new ArrayList<>(List.of("sentence\tlabel"));
    for (int i = 0; i < 16; i++) {
      lines.add("the film was " + (i % 2 == 0 ? "great" : "awful") + " .\t" + (i % 2 == 0 ? "pos" : "neg"));
    }
    return Files.write(dir.resolve(name), lines);
  }

  @Test
  void aTrainingRunThatFailsBeforeItsFirstCheckpointLeavesNoDirectoriesBehind() throws Exception {
    Path fresh = dir.resolve("fresh");
    MainTest.Run r = train(fresh.resolve("a"), "--lr", "1e30");
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("training diverged"), r.err());
    assertFalse(Files.exists(fresh), "left behind: " + (Files.exists(fresh) ? names(fresh) : List.of()));
  }

  private MainTest.Run train(Path out, String... more) throws Exception {
    List<String> args = new ArrayList<>(List.of("train", "--base", base.toString(), "--train",
        tsv("train.tsv").toString(), "--no-dev", "--out", out.toString(), "--rank", "2", "--epochs", "1",
        "--batch-size", "8", "--device", "cpu", "--quiet"));
    args.addAll(List.of(more));
    return MainTest.run(args.toArray(String[]::new));
  }

  @Test
  void trainRefusesAForeignOutDirectoryBeforeTraining() throws Exception {
    Path out = Files.createDirectories(dir.resolve("adapter"));
    Files.writeString(out.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\"}");
    Files.writeString(out.resolve("adapter_model.safetensors"), "someone's weights");
    assertRefused(train(out), "train", out + " is a directory that is not a lora4j adapter directory (its "
        + "adapter_config.json is not one lora4j wrote)" + OVERWRITE_HINT);
    assertEquals("someone's weights", Files.readString(out.resolve("adapter_model.safetensors")));
    assertFalse(Files.exists(dir.resolve("adapter.run")), "refused before training started");
  }

  @Test
  void trainReplacesItsOwnEarlierAdapterAndOverwriteReplacesAFile() throws Exception {
    Path out = dir.resolve("adapter");
    MainTest.Run first = train(out);
    assertEquals(0, first.code(), first.err());
    MainTest.Run again = train(out, "--name", "second");
    assertEquals(0, again.code(), again.err());
    assertEquals("second", PeftAdapters.read(out).name());

    Path file = Files.writeString(dir.resolve("file"), "x");
    assertRefused(train(file), "train", file + " is a file, not a lora4j adapter directory" + OVERWRITE_HINT);
    MainTest.Run over = train(file, "--overwrite");
    assertEquals(0, over.code(), over.err());
    assertTrue(Files.isRegularFile(file.resolve(PeftAdapters.CONFIG_FILE)));
  }

  @Test
  void trainNeverWritesOverItsDataOrItsRunDirectory() throws Exception {
    Path data = Files.createDirectories(dir.resolve("data"));
    Path train = Files.copy(tsv("t.tsv"), data.resolve("train.tsv"));
    MainTest.Run r = MainTest.run("train", "--base", base.toString(), "--train", train.toString(), "--no-dev",
        "--out", data.toString(), "--overwrite");
    assertRefused(r, "train", "--out " + data + " contains the input --train " + train + INPUT_HINT);
    assertTrue(Files.isRegularFile(train));

    Path out = dir.resolve("adapter");
    assertRefused(train(out, "--run-dir", out.resolve("run").toString(), "--overwrite"), "train",
        "--out " + out + " contains the input checkpoint directory " + out.resolve("run/checkpoint") + INPUT_HINT);
    Path run = dir.resolve("run");
    assertRefused(train(run, "--run-dir", run.toString(), "--resume", "--overwrite"), "train",
        "--out " + run + " contains the input checkpoint directory " + run.resolve("checkpoint") + INPUT_HINT);
  }

  @Test
  void aRepeatedOptionIsRefused() throws Exception {
    MainTest.Run r = MainTest.run("train", "--epochs", "1", "--epochs", "3", "--out", dir.resolve("x").toString());
    assertEquals(2, r.code());
    assertEquals("lora4j train: --epochs is given 2 times ('1', '3'); give it once", r.err().lines().findFirst().get());
    MainTest.Run e = MainTest.run("export", "--out", "a", "--out", "b", "--adapter", "x");
    assertEquals("lora4j export: --out is given 2 times ('a', 'b'); give it once", e.err().lines().findFirst().get());
    // --adapter is meant to be repeated: refused for what the files are, not for the repetition
    Path a = ExportCommandTest.writeAdapter(dir.resolve("in"), "one", sha);
    Path b = ExportCommandTest.writeAdapter(dir.resolve("in"), "two", sha);
    MainTest.Run two = MainTest.run("export", "--base", base.toString(), "--adapter", a.toString(), "--adapter",
        b.toString(), "--out", dir.resolve("export").toString(), "--format", "multi");
    assertEquals(0, two.code(), two.err());
    assertTrue(Files.exists(dir.resolve("export/two.onnx_adapter")));
  }

  @Test
  void aDirectoryOrDeviceAsInputSaysWhatItIs() throws Exception {
    Path folder = Files.createDirectories(dir.resolve("folder"));
    assertRefused(MainTest.run("train", "--base", base.toString(), "--train", folder.toString(), "--no-dev", "--out",
        dir.resolve("x").toString()), "train", folder + ": is a directory, expected a data file (tab-separated text)");
    Path urandom = Path.of("/dev/urandom");
    if (Files.exists(urandom)) {
      assertRefused(MainTest.run("train", "--base", base.toString(), "--train", urandom.toString(), "--no-dev",
          "--out", dir.resolve("x").toString()), "train",
          "/dev/urandom: not a regular file (a device, pipe or socket), expected a data file (tab-separated text)");
      assertRefused(export(urandom, dir.resolve("e")), "export",
          "/dev/urandom: not a regular file (a device, pipe or socket), expected a PEFT directory or .onnx_adapter file");
    }
    Path file = Files.writeString(dir.resolve("notes.txt"), "x");
    assertRefused(MainTest.run("run", "--base", file.toString(), "--adapter", "a", "text"), "run",
        file + ": is a file, not a directory (export directory)");
  }
}
