package dev.lora4j.trainer;

import dev.lora4j.models.Lora4jException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Options of the nested-rank methods (DyLoRA, ERAT-DLoRA): which ranks learn each step, which rank
 * is exported, and ERAT's time- and depth-aware schedule (see {@code EratSchedule}).
 *
 * @param mode {@code full}: every used rank learns; {@code frozen}: only the last used rank learns
 * @param exportRank ranks exported per module; {@link #EVERY_RANK} = all a module trained
 * @param autoExportRank pick the smallest rank per module within {@code tolerance} on dev data
 * @param tolerance accuracy a rank sweep may give up against the untruncated adapter (e.g. 0.005)
 * @param sweepExamples dev examples the sweep scores on (the first N: keeps the sweep cheap)
 * @param depthMin ERAT: share of the rank the first adapted layer gets; the last gets all of it
 * @param start ERAT: share of each layer's rank open at step 0
 * @param ramp ERAT: share of training after which every layer has its whole rank
 * @param window ERAT: width of the sampled band as a share of the rank
 */
public record NestedRankConfig(Mode mode, int exportRank, boolean autoExportRank, double tolerance,
    int sweepExamples, double depthMin, double start, double ramp, double window) {

  public static final int EVERY_RANK = 0;
  public static final NestedRankConfig DEFAULT =
      new NestedRankConfig(Mode.FULL, EVERY_RANK, false, 0.005, 512, 0.5, 0.25, 0.5, 0.5);

  /** How DyLoRA updates the sampled prefix of ranks. */
  public enum Mode {
    FULL,
    FROZEN;

    public static Mode parse(String s) {
      try {
        return valueOf(s.trim().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new Lora4jException("--dylora-mode must be full or frozen, not '" + s + "'");
      }
    }

    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  public NestedRankConfig {
    java.util.Objects.requireNonNull(mode, "mode");
    SaloraConfig.require(exportRank >= 0, "--export-rank must be positive, 'full' or 'auto', not " + exportRank);
    SaloraConfig.require(tolerance >= 0 && tolerance < 1, "--tolerance must be in [0, 1), not " + tolerance);
    SaloraConfig.require(sweepExamples >= 1, "--sweep-examples must be at least 1, not " + sweepExamples);
    SaloraConfig.require(depthMin > 0 && depthMin <= 1, "--erat-depth-min must be in (0, 1], not " + depthMin);
    SaloraConfig.require(start > 0 && start <= 1, "--erat-start must be in (0, 1], not " + start);
    SaloraConfig.require(ramp >= 0 && ramp <= 1, "--erat-ramp must be in [0, 1], not " + ramp);
    SaloraConfig.require(window > 0 && window <= 1, "--erat-window must be in (0, 1], not " + window);
  }

  /** Parses {@code --export-rank}: a positive number, {@code full} or {@code auto}. */
  public NestedRankConfig withExportRank(String v) {
    String s = v.trim().toLowerCase(Locale.ROOT);
    if (s.equals("auto")) {
      return new NestedRankConfig(mode, EVERY_RANK, true, tolerance, sweepExamples, depthMin, start, ramp, window);
    }
    if (s.equals("full")) {
      return new NestedRankConfig(mode, EVERY_RANK, false, tolerance, sweepExamples, depthMin, start, ramp, window);
    }
    try {
      int b = Integer.parseInt(s);
      SaloraConfig.require(b >= 1, "--export-rank must be positive, 'full' or 'auto', not '" + v + "'");
      return new NestedRankConfig(mode, b, false, tolerance, sweepExamples, depthMin, start, ramp, window);
    } catch (NumberFormatException e) {
      throw new Lora4jException("--export-rank must be a positive number, 'full' or 'auto', not '" + v + "'");
    }
  }

  public String exportRankId() {
    return autoExportRank ? "auto" : exportRank == EVERY_RANK ? "full" : Integer.toString(exportRank);
  }

  Map<String, Object> toMap(boolean erat) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("dylora-mode", mode.id());
    m.put("export-rank", exportRankId());
    if (autoExportRank) {
      m.put("tolerance", tolerance);
      m.put("sweep-examples", sweepExamples);
    }
    if (erat) {
      m.put("erat-depth-min", depthMin);
      m.put("erat-start", start);
      m.put("erat-ramp", ramp);
      m.put("erat-window", window);
    }
    return m;
  }
}
