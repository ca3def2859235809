package dev.lora4j.cli;

import java.io.PrintStream;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/** One {@code lora4j <command>}: its options, its help text, and what it does. */
public interface Command {
  /** What the user types, e.g. {@code inspect}. */
  String name();

  /** Positional arguments as shown in usage, e.g. {@code <base-model | file.onnx>}; may be empty. */
  String arguments();

  /** One line for the command list. */
  String summary();

  /** A paragraph or two for {@code --help}: what it does, what it writes, an example. */
  String description();

  Options options();

  /** Runs the command; returns the process exit code. */
  int run(CommandLine line, PrintStream out) throws Exception;
}
