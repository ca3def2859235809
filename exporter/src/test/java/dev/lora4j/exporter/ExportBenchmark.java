package dev.lora4j.exporter;

import dev.lora4j.exporter.TestAdapters.Kind;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.BaseModelCatalog;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.onnx.OnnxModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How long exporting one adapter on MiniLM takes, every format: a main, not a test, so timings do
 * not depend on what else the build machine runs. Run from the repository root after
 * {@code mvn -o -pl exporter -am test-compile}:
 *
 * <pre>java -cp exporter/target/test-classes:exporter/target/classes:$(cat cp.txt) dev.lora4j.exporter.ExportBenchmark [runs]</pre>
 */
public final class ExportBenchmark {
  private ExportBenchmark() {}

  public static void main(String[] args) throws Exception {
    int runs = args.length > 0 ? Integer.parseInt(args[0]) : 3;
    Path work = Files.createTempDirectory("lora4j-export-bench");
    try {
      BaseModelFiles files = BaseModelCatalog.atDefaultCache().resolve(BaseModelCatalog.DEFAULT_ID);
      EncoderDescription base = EncoderDescription.of(OnnxModel.read(files.onnx()));
      Map<String, Integer> ranks = new LinkedHashMap<>();
      base.resolveTargets("all").forEach(m -> ranks.put(m.name(), 8));
      Adapter adapter = TestAdapters.adapter(base, "bench", ranks, Kind.GATED,
          TestAdapters.classifier(base.spec().hidden(), 2, TaskHead.Pooling.MEAN, 1), 1);
      System.out.printf("adapter: %d modules at rank 8, gated (a third of the ranks pruned)%n", ranks.size());
      for (int i = 1; i <= runs; i++) {
        long t0 = System.nanoTime();
        ExportResult r = ExportBundle.export(ExportRequest.of(files, List.of(adapter),
            EnumSet.allOf(ExportFormat.class), work.resolve("out")), i == runs ? System.out::println : s -> { });
        System.out.printf("run %d: %.2f s wall (%d files, %.1f MB)%n", i, (System.nanoTime() - t0) / 1e9,
            r.files().size(), r.files().values().stream().mapToLong(Long::longValue).sum() / 1e6);
      }
    } finally {
      AtomicFiles.deleteRecursively(work);
    }
  }
}
