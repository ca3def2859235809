package dev.lora4j.models.export;

import dev.lora4j.models.io.OutputKind;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The files of an export directory: what {@code lora4j export} writes and the runtime opens.
 *
 * <pre>
 * &lt;out&gt;/
 *   export.json               manifest ({@link ExportManifest}): base model + SHA-256, files, layouts
 *   tokenizer.json            the base model's tokenizer, when known
 *   base.multi.onnx           multi-adapter base graph: adapters fed per run as ONNX Runtime adapters
 *   base.mixed.onnx           mixed-batch base graph: stacked adapters, one slot per row
 *   &lt;adapter&gt;.merged.onnx     base + B'A' folded into the weights + head; standalone
 *   &lt;adapter&gt;.factored.onnx   base + low-rank branches with A'/B' initializers + head; standalone
 *   &lt;adapter&gt;.onnx_adapter    ONNX Runtime adapter for base.multi.onnx (and packable for base.mixed.onnx)
 *   &lt;adapter&gt;.adapter.json    sidecar ({@link AdapterSidecar}): labels, pooling, ranks, base SHA-256
 *   &lt;adapter&gt;.peft/           compact adapter as a PEFT directory (adapter_config.json + safetensors)
 *   &lt;adapter&gt;.ranks.png       rank per module as trained / after pruning (written by the command line)
 *   *.int8.onnx               int8-base variant of each graph above ({@code --quantize int8})
 * </pre>
 *
 * Which of these exist depends on the formats asked for; {@code export.json} always lists what was
 * written. The two base graphs do not depend on any adapter, so one directory serves any number of
 * adapters of that base model. The directory is written whole or not at all (built next to the
 * target and renamed into place).
 */
public final class ExportLayout {
  private ExportLayout() {}

  public static final String MANIFEST = "export.json";
  public static final String TOKENIZER = "tokenizer.json";
  public static final String MULTI_GRAPH = "base.multi.onnx";
  public static final String MIXED_GRAPH = "base.mixed.onnx";

  /** Adapter names become file names: letters, digits, dot, dash, underscore; not starting with a dot. */
  private static final Pattern SAFE_NAME = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}");

  public static boolean isValidAdapterName(String name) {
    return SAFE_NAME.matcher(name).matches();
  }

  public static String merged(String adapter) {
    return adapter + ".merged.onnx";
  }

  public static String factored(String adapter) {
    return adapter + ".factored.onnx";
  }

  public static String onnxAdapter(String adapter) {
    return adapter + ".onnx_adapter";
  }

  public static String sidecar(String adapter) {
    return adapter + ".adapter.json";
  }

  public static String peft(String adapter) {
    return adapter + ".peft";
  }

  /** The int8-base variant of a graph file: {@code base.multi.onnx -> base.multi.int8.onnx}. */
  public static String int8(String graph) {
    return graph.substring(0, graph.length() - ".onnx".length()) + ".int8.onnx";
  }

  public static String rankPlot(String adapter) {
    return adapter + ".ranks.png";
  }

  /** Endings of the per-adapter entries above, and of the graphs' external data. */
  private static final List<String> ENDINGS = List.of(".merged.onnx", ".factored.onnx", ".onnx_adapter",
      ".adapter.json", ".peft", ".ranks.png", ".int8.onnx", ".onnx.data");
  private static final Set<String> FIXED = Set.of(MANIFEST, TOKENIZER, MULTI_GRAPH, MIXED_GRAPH);

  /**
   * An export directory as an output: {@code export.json} written by lora4j, and only entries of the
   * layout above or {@code extraFiles} (what this export adds, e.g. the rank plots) beside it. A user's
   * notes in the directory make it theirs: replacing it then needs an explicit overwrite.
   */
  public static OutputKind outputKind(Set<String> extraFiles) {
    Set<String> extra = Set.copyOf(extraFiles);
    return new OutputKind("an export directory", MANIFEST,
        OutputKind.jsonObject(m -> m.path("format_version").isIntegralNumber()
            && m.path("tool").asText("").startsWith("lora4j")),
        n -> FIXED.contains(n) || extra.contains(n)
            || ENDINGS.stream().anyMatch(e -> n.endsWith(e) && n.length() > e.length() && !n.startsWith(".")));
  }
}
