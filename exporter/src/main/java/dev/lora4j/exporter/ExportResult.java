package dev.lora4j.exporter;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * What an export wrote, for the command's summary.
 *
 * @param files every file written, relative name to size in bytes, in writing order
 * @param stages how long each stage took, in order
 */
public record ExportResult(
    Path directory,
    String baseSha256,
    long baseBytes,
    List<AdapterReport> adapters,
    Map<String, Long> files,
    Map<String, Duration> stages,
    Duration total) {

  /**
   * One adapter before and after compaction.
   *
   * @param ranksBefore rank per module as given (before pruning; gates and T not counted as ranks)
   * @param ranksAfter rank per module after compaction (and the budget, when one was given); modules that
   *     lost every rank are absent
   * @param parametersBefore values stored before (factors, gates, transforms, head)
   * @param parametersAfter values stored after (factors and head)
   */
  public record AdapterReport(
      String name,
      Map<String, Integer> ranksBefore,
      Map<String, Integer> ranksAfter,
      long parametersBefore,
      long parametersAfter) {}
}
