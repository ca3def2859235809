package dev.lora4j.cli;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.WeightBounds;
import dev.lora4j.trainer.AdapterModel;
import dev.lora4j.trainer.BaseModel;
import dev.lora4j.trainer.DeviceChoice;
import dev.lora4j.trainer.data.LabelSet;
import dev.lora4j.trainer.data.TsvDataset;
import dev.lora4j.trainer.loop.Evaluator;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code lora4j eval}: accuracy of a trained adapter on a labelled file, with the DJL forward pass. */
final class EvalCommand implements Command {
  @Override
  public String name() {
    return "eval";
  }

  @Override
  public String arguments() {
    return "";
  }

  @Override
  public String summary() {
    return "Evaluate a trained adapter on a labelled TSV: accuracy, loss, confusion matrix.";
  }

  @Override
  public String description() {
    return """
        Loads an adapter (a PEFT directory written by 'lora4j train' or 'lora4j export', or an
        .onnx_adapter file with its .adapter.json) onto its base model, checks the base model's ONNX
        SHA-256, runs the DJL encoder on the CPU or GPU and reports accuracy, mean cross-entropy and
        the confusion matrix. Texts are cut at the adapter's training --max-length.
        --data defaults to ../shared/data/sst2/dev.tsv when present.
        Example: lora4j eval --base minilm-l6 --adapter adapters/sst2-sora --data ../shared/data/sst2/dev.tsv""";
  }

  @Override
  public Options options() {
    Options o = new Options();
    o.addOption(Option.builder().longOpt("base").hasArg().argName("model")
        .desc("Base model: 'minilm-l6' (default) or a directory with model.onnx + tokenizer.json.").get());
    o.addOption(Option.builder().longOpt("adapter").hasArg().argName("path").desc("Adapter to evaluate.").get());
    o.addOption(Option.builder().longOpt("data").hasArg().argName("file")
        .desc("Labelled TSV with header 'sentence<TAB>label' (default ../shared/data/sst2/dev.tsv).").get());
    o.addOption(Option.builder().longOpt("device").hasArg().argName("auto|cpu|gpu")
        .desc("Where to run (default auto).").get());
    return o;
  }

  @Override
  public int run(CommandLine line, PrintStream out) {
    if (!line.hasOption("adapter")) {
      throw new Lora4jException("--adapter is required (see lora4j eval --help)");
    }
    Path path = Path.of(line.getOptionValue("adapter"));
    Adapter adapter = Files.isDirectory(path) ? PeftAdapters.read(path) : AdapterSources.read(path).adapter();
    WeightBounds.require(adapter, path.toString()); // absurd weights would score NaN loss, not fail
    TsvDataset data = TsvDataset.read(DataDefaults.resolve(line.getOptionValue("data"), "data", "dev.tsv"));
    BaseModel base = BaseModel.open(line.getOptionValue("base"));
    long t0 = System.nanoTime();
    Evaluator.Result r;
    try (AdapterModel model = AdapterModel.load(adapter, base, DeviceChoice.parse(line.getOptionValue("device",
        "auto")))) {
      r = model.evaluate(data);
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    List<String> labels = new LabelSet(adapter.head().labels()).names();
    out.printf(Locale.ROOT, "Adapter   %s (%s, %d modules, %d ranks)%n", adapter.name(),
        adapter.provenance().method(), adapter.modules().size(), adapter.compact().ranks().values().stream()
            .mapToInt(Integer::intValue).sum());
    out.printf(Locale.ROOT, "Data      %s (%d examples)%n", data.source(), r.examples());
    out.printf(Locale.ROOT, "Accuracy  %.2f%%%n", 100 * r.accuracy());
    out.printf(Locale.ROOT, "Loss      %.4f%n", r.loss());
    out.printf(Locale.ROOT, "Time      %.1f s%n%nConfusion (rows: true label, columns: predicted)%n", seconds);
    int[][] confusion = new int[labels.size()][labels.size()];
    for (int i = 0; i < data.rows().size(); i++) {
      confusion[labels.indexOf(data.rows().get(i).label())][r.predictions()[i]]++;
    }
    out.printf(Locale.ROOT, "  %-10s", "");
    labels.forEach(l -> out.printf(Locale.ROOT, " %8s", l));
    out.println();
    for (int t = 0; t < labels.size(); t++) {
      out.printf(Locale.ROOT, "  %-10s", labels.get(t));
      for (int p = 0; p < labels.size(); p++) {
        out.printf(Locale.ROOT, " %8d", confusion[t][p]);
      }
      out.println();
    }
    return 0;
  }
}
