package dev.lora4j.cli;

import dev.lora4j.trainer.loop.EvalReport;
import dev.lora4j.trainer.loop.StepReport;
import dev.lora4j.trainer.loop.TrainingListener;
import dev.lora4j.trainer.loop.TrainingPlan;
import dev.lora4j.trainer.loop.TrainingSummary;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Renders training for people: on a terminal a progress bar with loss, dev accuracy, live ranks and
 * the trainer's own ETA (evaluation time excluded); into a file or pipe (nohup, CI logs), where a
 * bar's carriage returns would pile up on one line, a plain line every tenth of the run instead. Both
 * add one line per evaluation and checkpoint.
 */
final class TrainProgress implements TrainingListener, AutoCloseable {
  /** How steps are shown: a redrawn bar, a line every tenth of the run, or not at all (--quiet). */
  enum Display {
    BAR, LINES, NONE;

    /** The bar only where a person watches: {@code out} is the JVM's stdout and that is a terminal. */
    static Display of(PrintStream out, boolean quiet) {
      if (quiet) {
        return NONE;
      }
      return out == System.out && System.console() != null ? BAR : LINES;
    }
  }

  private final PrintStream out;
  private final Display display;
  private ProgressBar progress;
  private long totalSteps;
  private long nextLine;
  private double smoothedLoss = Double.NaN;
  private String accuracy = "-";
  private volatile Duration eta = Duration.ZERO;

  TrainProgress(PrintStream out, Display display) {
    this.out = out;
    this.display = display;
  }

  @Override
  public void onStart(TrainingPlan p) {
    out.printf(Locale.ROOT, "Training %s on %s: %d examples (%,d tokens/epoch), %d dev, %d epochs x %d steps%s%n",
        p.method(), p.device(), p.trainExamples(), p.trainTokensPerEpoch(), p.devExamples(), p.epochs(),
        p.stepsPerEpoch(), p.startStep() > 0 ? ", resuming after step " + p.startStep() : "");
    out.printf(Locale.ROOT, "Trainable parameters %,d %s; %d adapted modules, %d ranks%n", p.trainableParameters(),
        p.parameterCounts(), p.adaptedModules(), p.initialRanks());
    totalSteps = p.totalSteps();
    nextLine = p.startStep() + lineEvery();
    if (display == Display.BAR) {
      progress = new ProgressBarBuilder().setTaskName("train").setInitialMax(p.totalSteps())
          .startsFrom(p.startStep(), Duration.ZERO).setStyle(ProgressBarStyle.ASCII)
          .setConsumer(new ConsoleProgressBarConsumer(out)).setUpdateIntervalMillis(500)
          .setEtaFunction(s -> Optional.of(eta)).build();
    }
  }

  @Override
  public void onStep(StepReport s) {
    smoothedLoss = Double.isNaN(smoothedLoss) ? s.loss() : 0.9 * smoothedLoss + 0.1 * s.loss();
    eta = Duration.ofSeconds((long) s.etaSeconds());
    String lambda = s.methodMetrics().containsKey("lambda")
        ? String.format(Locale.ROOT, " lambda %.2g", s.methodMetrics().get("lambda")) : "";
    String status = String.format(Locale.ROOT, "loss %.4f acc %s ranks %d/%d%s %.0f tok/s",
        smoothedLoss, accuracy, s.activeRankTotal(), s.initialRanks(), lambda, s.tokensPerSecond());
    if (progress != null) {
      progress.setExtraMessage(status);
      progress.stepTo(s.step());
    } else if (display == Display.LINES && (s.step() >= nextLine || s.step() == totalSteps)) {
      long left = eta.getSeconds();
      out.printf(Locale.ROOT, "step %d/%d (%d%%): %s, %d:%02d:%02d left%n", s.step(), totalSteps,
          100 * s.step() / Math.max(1, totalSteps), status, left / 3600, left / 60 % 60, left % 60);
      nextLine = s.step() + lineEvery();
    }
  }

  private long lineEvery() {
    return Math.max(1, (totalSteps + 9) / 10);
  }

  @Override
  public void onEvaluation(EvalReport e) {
    accuracy = String.format(Locale.ROOT, "%.2f%%", 100 * e.accuracy());
    line(String.format(Locale.ROOT, "step %d (epoch %d): dev accuracy %.2f%%, loss %.4f, ranks %d%s", e.step(),
        e.epoch(), 100 * e.accuracy(), e.loss(), e.activeRankTotal(), e.best() ? "  (best)" : ""));
  }

  @Override
  public void onCheckpoint(Path directory, long step) {
    line("step " + step + ": checkpoint written to " + directory);
  }

  @Override
  public void onFinish(TrainingSummary s) {
    close();
    out.printf(Locale.ROOT, "Trained %d steps in %.0f s (%.0f training tokens/s)%n", s.steps(), s.trainSeconds(),
        s.tokensPerSecond());
  }

  private void line(String text) {
    if (progress != null) {
      // a full line above the bar; the bar redraws itself on its next tick
      out.print("\r" + " ".repeat(Math.max(0, 120)) + "\r");
    }
    out.println(text);
  }

  @Override
  public void close() {
    if (progress != null) {
      progress.close();
      progress = null;
    }
  }
}
