package dev.lora4j.cli;

import dev.lora4j.runtime.Device;
import dev.lora4j.runtime.RuntimeOptions;
import dev.lora4j.runtime.SessionSettings;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** The runtime options shared by {@code run}, {@code serve} and {@code bench}. */
final class RuntimeOptionsCli {
  private RuntimeOptionsCli() {}

  static void add(Options o) {
    o.addOption(Option.builder().longOpt("base").hasArg().argName("dir")
        .desc("Export directory with base.multi.onnx (what 'lora4j export --format multi' writes), or"
            + " classpath:<name> (a jar from 'lora4j package --base' on the class path; ./lora4j adds"
            + " LORA4J_CLASSPATH).").get());
    o.addOption(Option.builder().longOpt("device").hasArg().argName("auto|cpu|cuda")
        .desc("Where to run: auto (CUDA if available, else CPU; default), cpu, or cuda (fail without a GPU).").get());
    o.addOption(Option.builder().longOpt("threads").hasArg().argName("n")
        .desc("ONNX Runtime intra-op threads, up to " + SessionSettings.MAX_THREADS + " (default: all cores).").get());
    o.addOption(Option.builder().longOpt("max-tokens").hasArg().argName("n")
        .desc("Truncate texts to this many tokens, " + RuntimeOptions.MIN_TOKENS + " to " + RuntimeOptions.MAX_TOKENS
            + " (default 128), and never past the base model's positions (MiniLM: 512).").get());
    o.addOption(Option.builder().longOpt("int8")
        .desc("Serve the int8 base (base.multi.int8.onnx, from 'lora4j export --quantize int8'): the base's "
            + "MatMuls in int8, adapters float32.").get());
  }

  static RuntimeOptions parse(CommandLine line) {
    RuntimeOptions d = RuntimeOptions.defaults();
    RuntimeOptions o = d.withSession(d.session()
        .withDevice(Device.parse(line.getOptionValue("device", "auto")))
        .withThreads(threads(line)));
    int tokens = OptionValues.integer(line, "max-tokens", d.maxTokens());
    if (tokens < RuntimeOptions.MIN_TOKENS || tokens > RuntimeOptions.MAX_TOKENS) {
      throw new IllegalArgumentException("--max-tokens must be between " + RuntimeOptions.MIN_TOKENS + " and "
          + RuntimeOptions.MAX_TOKENS + " (special tokens included), not " + tokens);
    }
    return new RuntimeOptions(o.session(), o.adapterBudgetBytes(), tokens, o.maxTextChars(), o.maxBatch(),
        o.batchWindow(), o.batchRows(), o.queueCapacity(), line.hasOption("int8"));
  }

  /** {@code --threads} (0 when absent), within what one ONNX Runtime pool may be given. */
  static int threads(CommandLine line) {
    int threads = OptionValues.integer(line, "threads", 0);
    if (threads < 0 || threads > SessionSettings.MAX_THREADS) {
      throw new IllegalArgumentException("--threads must be between 0 (one per core) and " + SessionSettings.MAX_THREADS
          + ", not " + threads);
    }
    return threads;
  }

  /** The runtime on {@code --base}: an export directory, or a packaged base on the class path. */
  static dev.lora4j.runtime.AdapterRuntime open(CommandLine line, RuntimeOptions options) {
    String name = classpathBase(line);
    if (name == null) {
      return dev.lora4j.runtime.AdapterRuntime.open(requireBase(line), options);
    }
    try {
      return dev.lora4j.runtime.AdapterRuntime.openFromClasspath(name, options);
    } catch (dev.lora4j.models.Lora4jException e) {
      throw new dev.lora4j.models.Lora4jException("--base " + line.getOptionValue("base") + ": " + e.getMessage(), e);
    }
  }

  /** The name in {@code --base classpath:<name>}; null when --base is a directory. */
  static String classpathBase(CommandLine line) {
    String base = line.getOptionValue("base");
    return base != null && base.startsWith(RunCommand.CLASSPATH) ? base.substring(RunCommand.CLASSPATH.length())
        : null;
  }

  static java.nio.file.Path requireBase(CommandLine line) {
    if (!line.hasOption("base")) {
      throw new IllegalArgumentException("--base <export dir> is required");
    }
    return dev.lora4j.models.io.InputFiles.requireDirectory(java.nio.file.Path.of(line.getOptionValue("base")),
        "export directory");
  }
}
