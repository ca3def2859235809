package dev.lora4j.models.export;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.adapter.MixedBatchStacks;
import dev.lora4j.models.testing.corpus.HostileCorpus;
import dev.lora4j.models.testing.corpus.Mutation;
import dev.lora4j.models.testing.corpus.Mutators;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile-input corpus of {@code export.json}: JSON damage (including path traversal and device
 * names in every file entry), links from listed files to {@code /dev/zero} and out of the
 * directory, and file-system substitutes for the manifest itself. A manifest that loads must list
 * only files that lie inside the export directory, also once links are resolved.
 */
class ExportManifestCorpusTest {
  private static final long SEED = 1215;

  @TempDir Path tmp;

  @Test
  void exportManifestsAreRefusedWithAMessageOrNameOnlyFilesInside() throws Exception {
    Path validDir = Files.createDirectories(tmp.resolve("valid"));
    ExportManifest manifest = new ExportManifest(ExportManifest.FORMAT_VERSION, "lora4j test", "2026-01-01T00:00:00Z",
        new ExportManifest.Base("tiny-bert", "ab".repeat(32), 2, 32, 17, 64), ExportLayout.TOKENIZER,
        ExportLayout.MULTI_GRAPH, ExportLayout.MIXED_GRAPH,
        new MixedBatchStacks.Layout(32, List.of(new MixedBatchStacks.ModuleShape("encoder.layer.0.q", 32, 32))),
        List.of(new ExportManifest.AdapterEntry("tiny", ExportLayout.merged("tiny"), null,
            ExportLayout.onnxAdapter("tiny"), ExportLayout.sidecar("tiny"), ExportLayout.peft("tiny"),
            List.of("logits"))));
    manifest.write(validDir.resolve(ExportLayout.MANIFEST));
    for (String f : List.of(ExportLayout.TOKENIZER, ExportLayout.MULTI_GRAPH, ExportLayout.MIXED_GRAPH,
        ExportLayout.merged("tiny"), ExportLayout.onnxAdapter("tiny"), ExportLayout.sidecar("tiny"))) {
      Files.writeString(validDir.resolve(f), "stand-in for " + f);
    }
    Files.createDirectories(validDir.resolve(ExportLayout.peft("tiny")));
    byte[] json = Files.readAllBytes(validDir.resolve(ExportLayout.MANIFEST));
    Random rnd = new Random(SEED);

    HostileCorpus<ExportManifest> corpus = new HostileCorpus<ExportManifest>("export.json", validDir,
        Files.createDirectories(tmp.resolve("work")), Duration.ofSeconds(20))
        .add(Mutators.json(ExportLayout.MANIFEST, json, rnd, 4))
        .add(Mutators.binary(ExportLayout.MANIFEST, json, rnd, 40, 60, 40))
        .add(Mutators.fileSystem(ExportLayout.MANIFEST))
        .add(listedFiles());
    corpus.run(ExportManifest::read, (loaded, m) -> {
      // The case directory is not known here; every listed name must be a plain name, which keeps it inside.
      List<String> names = new ArrayList<>();
      names.add(loaded.tokenizer());
      names.add(loaded.multiGraph());
      names.add(loaded.mixedGraph());
      for (ExportManifest.AdapterEntry a : loaded.adapters()) {
        names.addAll(java.util.Arrays.asList(a.merged(), a.factored(), a.onnxAdapter(), a.sidecar(), a.peft()));
      }
      for (String n : names) {
        assertTrue(n == null || (!n.contains("/") && !n.equals("..") && !n.equals(".") && !n.isEmpty()), n);
      }
    });
  }

  /** Files the manifest lists replaced by links out of the directory, to devices, or by directories. */
  private static List<Mutation> listedFiles() {
    List<Mutation> out = new ArrayList<>();
    for (String f : List.of(ExportLayout.MULTI_GRAPH, ExportLayout.TOKENIZER, ExportLayout.sidecar("tiny"),
        ExportLayout.onnxAdapter("tiny"))) {
      out.addAll(Mutators.fileSystem(f).stream()
          .filter(m -> !m.name().endsWith("missing") && !m.name().endsWith("empty"))
          .toList());
    }
    out.add(new Mutation("tiny.peft: link to /etc", dir -> {
      Mutators.deleteTree(dir.resolve(ExportLayout.peft("tiny")));
      Files.createSymbolicLink(dir.resolve(ExportLayout.peft("tiny")), Path.of("/etc"));
    }));
    return out;
  }
}
