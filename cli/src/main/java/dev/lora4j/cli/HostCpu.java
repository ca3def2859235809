package dev.lora4j.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The CPU a benchmark ran on, for its report. Why: the int8 / float32 and bf16 / fp32 ratios depend on
 * the matrix instructions the CPU has (VNNI for int8, AVX-512 BF16 / AMX for bfloat16), and the same
 * VM name has been backed by an Intel CPU with AMX on one day and an AMD EPYC without it on another,
 * with the batch-1 int8 ratio moving from ~1.8x to ~2.7x. A ratio without its CPU cannot be compared.
 */
final class HostCpu {
  /** The instruction-set flags the benchmarks' ratios depend on, in the order reported. */
  private static final List<String> FLAGS =
      List.of("avx2", "avx512f", "avx_vnni", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8");
  private static final Pattern FIELD = Pattern.compile("^([^:]+?)\\s*:\\s*(.*)$");

  private HostCpu() {}

  /** E.g. "AMD EPYC, 2 cores, avx2 avx512f avx512_vnni avx512_bf16"; the JVM's arch where /proc/cpuinfo is absent. */
  static String describe() {
    return describe(Path.of("/proc/cpuinfo"), Runtime.getRuntime().availableProcessors());
  }

  static String describe(Path cpuinfo, int cores) {
    String model = field(cpuinfo, "model name").orElse(System.getProperty("os.arch"));
    String flags = field(cpuinfo, "flags")
        .map(f -> List.of(f.split("\\s+")))
        .map(have -> FLAGS.stream().filter(have::contains).collect(Collectors.joining(" ")))
        .orElse("");
    return String.format(Locale.ROOT, "%s, %d cores%s", model.trim(), cores, flags.isEmpty() ? "" : ", " + flags);
  }

  /** The first processor's value of {@code name}; empty when the file or the field is missing. */
  private static Optional<String> field(Path cpuinfo, String name) {
    if (!Files.isReadable(cpuinfo)) {
      return Optional.empty();
    }
    try (Stream<String> lines = Files.lines(cpuinfo)) {
      return lines.map(FIELD::matcher)
          .filter(m -> m.matches() && m.group(1).equals(name))
          .map(m -> m.group(2))
          .findFirst();
    } catch (IOException | UncheckedIOException e) {
      return Optional.empty();
    }
  }
}
