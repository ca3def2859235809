package dev.lora4j.cli;

import dev.lora4j.exporter.Combination;
import dev.lora4j.exporter.ExportBundle;
import dev.lora4j.exporter.ExportFormat;
import dev.lora4j.exporter.ExportRequest;
import dev.lora4j.exporter.ExportResult;
import dev.lora4j.exporter.RankBudget;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterDtype;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.base.BaseModelCatalog;
import dev.lora4j.models.base.BaseModelFiles;
import dev.lora4j.models.base.ModuleKind;
import dev.lora4j.models.export.AdapterFiles;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.io.OutputTargets;
import dev.lora4j.trainer.data.TsvDataset;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code lora4j export}: prune and fold adapters, write ONNX graphs and ONNX Runtime adapters. */
final class ExportCommand implements Command {
  static final String DEFAULT_FORMATS = "merged,factored,multi,mixed";

  @Override
  public String name() {
    return "export";
  }

  @Override
  public String arguments() {
    return "";
  }

  @Override
  public String summary() {
    return "Prune and fold adapters; write merged / factored / multi-adapter / mixed-batch ONNX.";
  }

  @Override
  public String description() {
    return """
        Checks each adapter against the base model (SHA-256, module names, shapes, finite weights),
        removes ranks whose gate is zero, folds gates, transforms and scaling into one factor pair per
        module, and writes an export directory (replaced whole, never left half-written; an existing
        --out that is not an earlier export is refused unless --overwrite, an input never replaced):
          <adapter>.merged.onnx    base with the update merged into the weights, task head appended
          <adapter>.factored.onnx  base plus low-rank branches, task head appended
          base.multi.onnx          one base graph for all adapters + <adapter>.onnx_adapter (ONNX Runtime)
          base.mixed.onnx          one base graph mixing adapters per batch row (stacked adapters)
          <adapter>.adapter.json   labels, pooling, ranks, base SHA-256; export.json lists everything
          <adapter>.peft/          the compact adapter as a PEFT directory (format peft, or all)
          <adapter>.ranks.png      rank per module, as trained and after pruning; tokenizer.json
          *.int8.onnx              with --quantize int8: each graph with the base's MatMuls in int8
        --rank-budget / --max-size re-factor each module's update by SVD and keep only the strongest
        directions over all modules, within a total rank and / or .onnx_adapter size.
        An adapter is a PEFT directory (adapter_config.json + adapter_model.safetensors) or an
        .onnx_adapter file with its .adapter.json beside it. See docs/EXPORT.md.
        Example: lora4j export --base minilm-l6 --adapter adapters/sst2-sora --out export/sst2
        --combine adds one adapter made from the inputs by name, as PEFT's add_weighted_adapter makes it
        (linear, cat, svd, ties, dare_linear, dare_ties; heads need the same labels and add up with the
        weights), exported beside them in every format:
          lora4j export --adapter adapters/sst2-s1 --adapter adapters/sst2-s2 --out export/sst2 \\
            --combine sst2-ties=sst2-s1:0.5,sst2-s2:0.5 --combine-method ties --density 0.5""";
  }

  @Override
  public Options options() {
    Options o = new Options();
    o.addOption(Option.builder().longOpt("base").hasArg().argName("model")
        .desc("Base model: 'minilm-l6' (default) or a directory with model.onnx + tokenizer.json.").get());
    o.addOption(Option.builder().longOpt("adapter").hasArg().argName("path")
        .desc("Adapter to export; repeat for several adapters in one directory.").get());
    o.addOption(Option.builder().longOpt("out").hasArg().argName("dir")
        .desc("Export directory: new, empty, or an earlier export, replaced when the export completes.").get());
    o.addOption(Option.builder().longOpt("overwrite")
        .desc("Replace --out even when it is not an earlier export (a file, a directory of other files).").get());
    o.addOption(Option.builder().longOpt("format").hasArg().argName("list")
        .desc("Comma-separated: merged, factored, multi, mixed, peft, or all (default " + DEFAULT_FORMATS + ").").get());
    o.addOption(Option.builder().longOpt("embeddings")
        .desc("Merged / factored graphs output sentence_embedding instead of logits.").get());
    o.addOption(Option.builder().longOpt("adapter-dtype").hasArg().argName("type")
        .desc("How .onnx_adapter and PEFT factors are stored: fp32 (default), fp16 (half the bytes) or int8 "
            + "(per-row scales, .onnx_adapter only). Merged / factored graphs use the stored values.").get());
    o.addOption(Option.builder().longOpt("quantize").hasArg().argName("int8")
        .desc("Also write an int8-base variant of each graph (*.int8.onnx): the base's MatMuls dynamically "
            + "quantized, adapters and head float32; serve it with --int8.").get());
    o.addOption(Option.builder().longOpt("calibration").hasArg().argName("file.tsv")
        .desc("With --quantize int8: texts to calibrate the int8 base on (first column of a TSV with a header, "
            + "as train data; the first " + CALIBRATION_TEXTS + " are used). The float32 base runs over them and "
            + "each quantized MatMul's input channels are rescaled by their ranges (SmoothQuant), so the few "
            + "outlier channels no longer set the int8 step for all: int8 answers move about half as far from "
            + "float32, for 7-11 % of int8's speed (a Mul per quantized MatMul). Use in-domain texts, not the "
            + "ones you evaluate on.").get());
    o.addOption(Option.builder().longOpt("adapter-modules").hasArg().argName("used|all|list")
        .desc("Modules the multi / mixed graphs get a low-rank branch on: used (default: those the exported "
            + "adapters change; fewest kernels, fastest at batch 1), all (any adapter of the base model loads later), "
            + "or a list as train --targets takes it (e.g. query,key,value). The runtime refuses an adapter on "
            + "a module without a branch.").get());
    o.addOption(Option.builder().longOpt("name").hasArg().argName("name")
        .desc("Name for the exported adapter (one adapter only); default: its own name.").get());
    o.addOption(Option.builder().longOpt("combine").hasArg().argName("new=a:w,b:w")
        .desc("Also export a new adapter combining the named inputs with these weights (see --combine-method).").get());
    o.addOption(Option.builder().longOpt("combine-method").hasArg().argName("method")
        .desc("How --combine combines: linear, cat, svd, ties, dare_linear or dare_ties (PEFT's semantics).").get());
    o.addOption(Option.builder().longOpt("density").hasArg().argName("d")
        .desc("Fraction of values ties / dare_* keep, in (0, 1].").get());
    o.addOption(Option.builder().longOpt("combine-rank").hasArg().argName("r")
        .desc("Rank of the svd combination.").get());
    o.addOption(Option.builder().longOpt("seed").hasArg().argName("n")
        .desc("Seed of dare_*'s random pruning (default " + Combination.DEFAULT_SEED + ").").get());
    o.addOption(Option.builder().longOpt("rank-budget").hasArg().argName("n")
        .desc("Keep at most n ranks in total over all modules of each adapter: every module's B·A is "
            + "re-factored by SVD and the largest singular values over all modules are kept.").get());
    o.addOption(Option.builder().longOpt("max-size").hasArg().argName("KiB")
        .desc("Keep the largest singular directions (as --rank-budget) that fit each adapter's .onnx_adapter, "
            + "head included, in this many KiB; with --rank-budget both limits hold.").get());
    return o;
  }

  @Override
  public Set<String> repeatable() {
    return Set.of("adapter");
  }

  @Override
  public int run(CommandLine line, PrintStream out) {
    // checked here, not declared required, so that 'export --help' works without them
    for (String required : new String[] {"adapter", "out"}) {
      if (!line.hasOption(required)) {
        throw new Lora4jException("--" + required + " is required (see lora4j export --help)");
      }
    }
    Set<ExportFormat> formats = ExportFormat.parseList(line.getOptionValue("format", DEFAULT_FORMATS));
    AdapterDtype dtype = AdapterDtype.parse(line.getOptionValue("adapter-dtype", "fp32"), "--adapter-dtype");
    BaseModelFiles base = BaseModelCatalog.atDefaultCache().resolve(line.getOptionValue("base"));
    String[] sources = line.getOptionValues("adapter");
    Path dir = Path.of(line.getOptionValue("out"));
    for (String s : sources) {
      Path source = Path.of(s);
      OutputTargets.requireApart(dir, "--out", source, "--adapter");
      if (s.endsWith(OrtAdapterFile.EXTENSION)) {
        OutputTargets.requireApart(dir, "--out", AdapterFiles.sidecarOf(source), "--adapter's sidecar");
      }
    }
    if (line.hasOption("name") && sources.length != 1) {
      throw new Lora4jException("--name renames one adapter; " + sources.length + " were given");
    }
    List<Adapter> adapters = new ArrayList<>();
    long sourceBytes = 0;
    for (String s : sources) {
      AdapterSources.Loaded loaded = AdapterSources.read(Path.of(s));
      adapters.add(line.hasOption("name") ? loaded.adapter().withName(line.getOptionValue("name")) : loaded.adapter());
      sourceBytes += loaded.bytes();
      out.printf(Locale.ROOT, "%-22s %s from %s%n", "adapter " + adapters.get(adapters.size() - 1).name(),
          loaded.adapter().provenance().method(), s);
    }
    combined(line, adapters).ifPresent(c -> {
      adapters.add(c);
      out.printf(Locale.ROOT, "%-22s %s%n", "adapter " + c.name(), c.provenance().hyperParameters().get("combine_method")
          + " combination " + c.provenance().hyperParameters().get("combine"));
    });
    RankBudget budget = budget(line);
    Map<String, byte[]> plots = new LinkedHashMap<>();
    int layers = layers(adapters);
    for (Adapter a : adapters) {
      // the export applies the budget again to the same adapter; the result is deterministic
      plots.put(ExportLayout.rankPlot(a.name()), budget == null
          ? RankPlot.png(a.name(), layers, a.ranks(), a.compact().ranks())
          : RankPlot.png(a.name(), layers, a.ranks(), budget.apply(a, dtype).adapter().ranks(), "rank after budget"));
    }
    ExportRequest request = new ExportRequest(base, adapters, formats, line.hasOption("embeddings"), dir, plots,
        line.hasOption("overwrite"), budget).withAdapterDtype(dtype).withInt8Base(int8(line.getOptionValue("quantize")))
        .withInt8Calibration(calibration(line)).withAdapterModules(line.getOptionValue("adapter-modules"));
    if (request.int8Base() && request.int8Calibration().isEmpty()) {
      // measured on MiniLM: uncalibrated int8 moved answers twice as far (one demo adapter lost 0.77 point)
      out.println("int8 without --calibration: answers move about twice as far from float32 as with it; give "
          + "--calibration <texts.tsv> (a few hundred in-domain sentences) to rescale the outlier channels first");
    }
    ExportResult r = ExportBundle.export(request, out::println);
    summary(out, r, layers, sourceBytes, budget != null);
    return 0;
  }

  /** The --combine adapter, when asked for; its flags are refused without it. */
  private static java.util.Optional<Adapter> combined(CommandLine line, List<Adapter> adapters) {
    if (!line.hasOption("combine")) {
      for (String flag : new String[] {"combine-method", "density", "combine-rank", "seed"}) {
        if (line.hasOption(flag)) {
          throw new Lora4jException("--" + flag + " applies to --combine, which was not given");
        }
      }
      return java.util.Optional.empty();
    }
    return java.util.Optional.of(Combination.parse(line.getOptionValue("combine"), line.getOptionValue("combine-method"),
        line.getOptionValue("density"), line.getOptionValue("combine-rank"), line.getOptionValue("seed")).apply(adapters));
  }

  /** {@code --rank-budget} / {@code --max-size}, or null when neither is given. */
  private static RankBudget budget(CommandLine line) {
    if (!line.hasOption("rank-budget") && !line.hasOption("max-size")) {
      return null;
    }
    Integer ranks = line.hasOption("rank-budget") ? OptionValues.integer(line, "rank-budget", 0) : null;
    Double kib = line.hasOption("max-size") ? OptionValues.real(line, "max-size", 0) : null;
    return RankBudget.of(ranks, kib);
  }

  /** How many calibration texts --calibration reads at most: ranges settle within a few hundred. */
  static final int CALIBRATION_TEXTS = 256;

  /** The first {@link #CALIBRATION_TEXTS} texts of --calibration; empty without it. */
  private static List<String> calibration(CommandLine line) {
    if (!line.hasOption("calibration")) {
      return List.of();
    }
    if (!int8(line.getOptionValue("quantize"))) {
      throw new Lora4jException("--calibration calibrates the int8 base, which needs --quantize int8");
    }
    return calibrationTexts(Path.of(line.getOptionValue("calibration")));
  }

  /** The first {@link #CALIBRATION_TEXTS} texts of a TSV with a header, as --calibration reads them. */
  static List<String> calibrationTexts(Path tsv) {
    return firstTexts(TsvDataset.readTexts(tsv).texts());
  }

  /** The first {@link #CALIBRATION_TEXTS} of {@code texts}. */
  static List<String> firstTexts(List<String> texts) {
    return texts.subList(0, Math.min(CALIBRATION_TEXTS, texts.size()));
  }

  private static boolean int8(String quantize) {
    if (quantize == null) {
      return false;
    }
    if (!quantize.equalsIgnoreCase("int8")) {
      throw new Lora4jException("--quantize " + quantize + " is not supported; the one quantization is int8");
    }
    return true;
  }

  /** Layers in the plot: the base's, read from the module names the adapters use. */
  private static int layers(List<Adapter> adapters) {
    int max = adapters.stream().flatMap(a -> a.modules().keySet().stream())
        .mapToInt(m -> ModuleKind.layerOf(m).orElse(-1)).max().orElse(-1);
    return Math.max(max + 1, 1);
  }

  private static void summary(PrintStream out, ExportResult r, int layers, long sourceBytes, boolean budgeted) {
    out.printf(Locale.ROOT, "%nExported to %s in %.1f s%n", r.directory(), r.total().toNanos() / 1e9);
    long after = 0;
    for (ExportResult.AdapterReport a : r.adapters()) {
      out.printf(Locale.ROOT, "%nAdapter %s: rank per module, as trained -> after pruning%s ('-' not adapted)%n", a.name(),
          budgeted ? " and budget" : "");
      StringBuilder header = new StringBuilder(String.format(Locale.ROOT, "  %-6s", "layer"));
      for (ModuleKind k : ModuleKind.values()) {
        header.append(String.format(Locale.ROOT, " %-17s", k.shortName()));
      }
      out.println(header.toString().stripTrailing());
      for (int l = 0; l < layers; l++) {
        StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "  %-6d", l));
        for (ModuleKind k : ModuleKind.values()) {
          Integer before = a.ranksBefore().get(k.moduleName(l));
          int kept = a.ranksAfter().getOrDefault(k.moduleName(l), 0);
          row.append(String.format(Locale.ROOT, " %-17s", before == null ? "-" : before + " -> " + kept));
        }
        out.println(row.toString().stripTrailing());
      }
      out.printf(Locale.ROOT, "  parameters %,d -> %,d (%.0f%% kept)%n", a.parametersBefore(), a.parametersAfter(),
          100.0 * a.parametersAfter() / Math.max(1, a.parametersBefore()));
      after += r.files().getOrDefault(ExportLayout.onnxAdapter(a.name()), 0L);
    }
    out.printf(Locale.ROOT, "%nAdapter files %s as given", size(sourceBytes));
    out.printf(Locale.ROOT, after > 0 ? " -> %s as .onnx_adapter%n" : "%n", size(after));
    out.printf(Locale.ROOT, "Base model %s%nFiles%n", size(r.baseBytes()));
    r.files().forEach((f, n) -> out.printf(Locale.ROOT, "  %-34s %10s%n", f, size(n)));
  }

  static String size(long bytes) {
    if (bytes >= 1_000_000) {
      return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
    }
    return String.format(Locale.ROOT, "%.1f kB", bytes / 1e3);
  }
}
