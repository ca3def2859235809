package dev.lora4j.cli;

import java.io.PrintStream;
import java.util.Set;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/** One {@code lora4j <command>}: its options, its help text, and what it does. */
interface Command {
  /** What the user types, e.g. {@code inspect}. */
  String name();

  /** Positional arguments as shown in usage, e.g. {@code <base-model | file.onnx>}; may be empty. */
  String arguments();

  /** One line for the command list. */
  String summary();

  /** A paragraph or two for {@code --help}: what it does, what it writes, an example. */
  String description();

  Options options();

  /**
   * Long names of the options that may be given more than once (each adds a value, like export's
   * {@code --adapter}). Any other option with a value given twice is refused: keeping one silently
   * would run with a value the user did not mean.
   */
  default Set<String> repeatable() {
    return Set.of();
  }

  /** Runs the command; returns the process exit code. */
  int run(CommandLine line, PrintStream out) throws Exception;
}
