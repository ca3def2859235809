package dev.lora4j.trainer.loop;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.models.Lora4jException;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Training metrics as JSON lines: one object per logged step ({@code "event":"step"}) and per
 * evaluation ({@code "event":"eval"}), flushed as written so a crashed or running job can be read.
 */
public final class MetricsLog implements TrainingListener, AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Path file;
  private final int logEvery;
  private final BufferedWriter out;

  /**
   * Opens {@code file}; when resuming from {@code resumedStep}, lines past that step (written by the
   * interrupted run after its checkpoint) are dropped so the log reads as one uninterrupted run.
   */
  public MetricsLog(Path file, int logEvery, long resumedStep) {
    this.file = file;
    this.logEvery = logEvery;
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      if (resumedStep > 0 && Files.exists(file)) {
        List<String> kept = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
          if (!line.isBlank() && JSON.readTree(line).path("step").asLong() <= resumedStep) {
            kept.add(line);
          }
        }
        Files.write(file, kept, StandardCharsets.UTF_8);
      } else {
        Files.deleteIfExists(file);
      }
      out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new Lora4jException("cannot open metrics file " + file + ": " + e.getMessage(), e);
    }
  }

  public Path file() {
    return file;
  }

  @Override
  public void onStep(StepReport s) {
    if (s.step() % logEvery != 0 && s.step() != s.totalSteps()) {
      return;
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("event", "step");
    m.put("step", s.step());
    m.put("epoch", s.epoch());
    m.put("loss", s.loss());
    m.put("lr", s.learningRate());
    m.put("grad_norm", s.gradNorm());
    m.put("active_ranks", s.activeRankTotal());
    m.put("initial_ranks", s.initialRanks());
    m.putAll(s.methodMetrics());
    m.put("tokens", s.tokens());
    m.put("tokens_per_second", s.tokensPerSecond());
    write(m);
  }

  @Override
  public void onEvaluation(EvalReport e) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("event", "eval");
    m.put("step", e.step());
    m.put("epoch", e.epoch());
    m.put("dev_accuracy", e.accuracy());
    m.put("dev_loss", e.loss());
    m.put("best", e.best());
    m.put("active_ranks", e.activeRankTotal());
    m.put("ranks_per_module", e.activeRanks());
    m.put("seconds", e.seconds());
    write(m);
  }

  private void write(Map<String, Object> m) {
    try {
      out.write(JSON.writeValueAsString(m));
      out.newLine();
      out.flush();
    } catch (IOException e) {
      throw new Lora4jException("cannot write metrics to " + file + ": " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    try {
      out.close();
    } catch (IOException e) {
      throw new Lora4jException("cannot close " + file + ": " + e.getMessage(), e);
    }
  }
}
