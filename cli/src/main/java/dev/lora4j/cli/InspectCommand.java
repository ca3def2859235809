package dev.lora4j.cli;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterDtype;
import dev.lora4j.models.adapter.ortformat.OrtAdapter;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.base.BaseModelCatalog;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.EncoderSpec;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.export.AdapterFiles;
import dev.lora4j.models.export.AdapterSidecar;
import dev.lora4j.models.io.InputFiles;
import dev.lora4j.models.onnx.OnnxModel;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/** {@code lora4j inspect}: what a base model is made of, as lora4j sees it. */
final class InspectCommand implements Command {
  @Override
  public String name() {
    return "inspect";
  }

  @Override
  public String arguments() {
    return "[base-model | file.onnx | adapter.onnx_adapter]";
  }

  @Override
  public String summary() {
    return "Show a base model's architecture, adaptable modules and parameter counts.";
  }

  @Override
  public String description() {
    return """
        Reads the ONNX graph and infers the BERT-family encoder behind it: layers, hidden size, heads,
        feed-forward size, vocabulary, positions, LayerNorm epsilon. Then lists every linear module an
        adapter can target, with its PyTorch name and weight shape (out x in), and parameter counts.
        The argument is 'minilm-l6' (the default, embedded), a directory with model.onnx and
        tokenizer.json, or a .onnx file. Given an exported .onnx_adapter (its .adapter.json beside it),
        shows the adapter instead: head, base model, how its factors are stored (fp32 / fp16 / int8),
        bytes and the rank per module.
        Example: lora4j inspect minilm-l6""";
  }

  @Override
  public Options options() {
    return new Options();
  }

  @Override
  public int run(CommandLine line, PrintStream out) {
    List<String> args = line.getArgList();
    String spec = args.isEmpty() ? BaseModelCatalog.DEFAULT_ID : args.get(0);
    if (spec.endsWith(OrtAdapterFile.EXTENSION)) {
      return adapter(Path.of(spec), out);
    }
    Path onnx = Files.isRegularFile(Path.of(spec)) && spec.endsWith(".onnx")
        ? Path.of(spec)
        : BaseModelCatalog.atDefaultCache().resolve(spec).onnx();
    EncoderDescription d = EncoderDescription.of(OnnxModel.read(onnx));
    EncoderSpec s = d.spec();
    out.printf(Locale.ROOT, "Base model   %s%n", spec);
    out.printf(Locale.ROOT, "ONNX file    %s%n%n", onnx);
    out.printf(Locale.ROOT, "Architecture BERT-family encoder%n");
    out.printf(Locale.ROOT, "  layers                 %d%n", s.layers());
    out.printf(Locale.ROOT, "  hidden size            %d%n", s.hidden());
    out.printf(Locale.ROOT, "  attention heads        %d (head size %d)%n", s.heads(), s.headDim());
    out.printf(Locale.ROOT, "  intermediate size      %d (%s)%n", s.intermediate(), s.activation());
    out.printf(Locale.ROOT, "  vocabulary size        %d%n", s.vocabSize());
    out.printf(Locale.ROOT, "  max positions          %d%n", s.maxPositions());
    out.printf(Locale.ROOT, "  token types            %d%n", s.typeVocabSize());
    out.printf(Locale.ROOT, "  layer-norm epsilon     %s%n%n", s.layerNormEps());
    List<LinearModule> modules = d.modules();
    out.printf(Locale.ROOT, "Adaptable linear modules (%d)%n", modules.size());
    out.printf(Locale.ROOT, "  %-42s %-11s %12s%n", "module", "weight", "parameters");
    long adaptable = 0;
    for (LinearModule m : modules) {
      out.printf(Locale.ROOT, "  %-42s %-11s %,12d%n", m.name(), m.outFeatures() + "x" + m.inFeatures(),
          m.parameterCount());
      adaptable += m.parameterCount();
    }
    long total = d.parameterCount();
    out.printf(Locale.ROOT, "%nParameters%n");
    out.printf(Locale.ROOT, "  total                  %,d%n", total);
    out.printf(Locale.ROOT, "  in adaptable modules   %,d (%.1f%%)%n", adaptable, 100.0 * adaptable / total);
    out.printf(Locale.ROOT, "  one rank-8 LoRA on query,value adds %,d (%.2f%% of the base)%n",
        loraParams(d, 8), 100.0 * loraParams(d, 8) / total);
    return 0;
  }

  /** An exported adapter file as its sidecar describes it (read and checked as the runtime would). */
  private static int adapter(Path file, PrintStream out) {
    Adapter a = AdapterFiles.read(file);
    AdapterSidecar s = AdapterSidecar.read(AdapterFiles.sidecarOf(file));
    OrtAdapter content = OrtAdapterFile.read(file);
    out.printf(Locale.ROOT, "Adapter      %s (%s)%n", s.name(), s.method() == null ? "lora" : s.method());
    out.printf(Locale.ROOT, "File         %s%n", file);
    out.printf(Locale.ROOT, "Base model   %s (ONNX SHA-256 %s…)%n", s.baseId(), s.baseOnnxSha256().substring(0, 12));
    out.printf(Locale.ROOT, "Head         %s, %s pooling%s%n", s.head(), s.pooling(),
        s.labels().isEmpty() ? "" : ", labels " + String.join(", ", s.labels()));
    out.printf(Locale.ROOT, "Factor dtype %s (head float32)%n",
        AdapterDtype.ofRecorded(s.adapterDtype(), "adapter_dtype").id());
    out.printf(Locale.ROOT, "Bytes        %,d in the file, %,d of tensor data; %,d values%n",
        InputFiles.requireRegularFile(file, ".onnx_adapter file"), content.dataBytes(), a.parameterCount());
    out.printf(Locale.ROOT, "%nRank per module (%d)%n", a.modules().size());
    a.ranks().forEach((m, r) -> out.printf(Locale.ROOT, "  %-42s %d%n", m, r));
    return 0;
  }

  private static long loraParams(EncoderDescription d, int rank) {
    return d.resolveTargets("query,value").stream()
        .mapToLong(m -> (long) rank * (m.inFeatures() + m.outFeatures())).sum();
  }
}
