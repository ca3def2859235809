package dev.lora4j.cli;

import dev.lora4j.models.Lora4jException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.HelpFormatter;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;
import org.apache.commons.cli.ParseException;

/**
 * The {@code lora4j} command line. Errors the user can act on ({@link Lora4jException}, bad options)
 * print one line and exit 2; anything else is a bug and prints its stack trace.
 */
public final class Main {
  static final int USAGE = 2;

  private final Map<String, Command> commands = new LinkedHashMap<>();

  Main(List<Command> commands) {
    commands.forEach(c -> this.commands.put(c.name(), c));
  }

  /** Every command, in the order a new user meets them. */
  static Main standard() {
    return new Main(List.of(new InspectCommand(), new TrainCommand(), new EvalCommand(), new ExportCommand(),
        new PackageCommand(), new RunCommand(), new ServeCommand(), new BenchCommand(), new DemoCommand()));
  }

  public static void main(String[] args) {
    // the runtime logs through java.util.logging: on the command line its lines look like the
    // trainer's slf4j-simple ones ("[INFO] message"), not the JDK's two-line default with a date
    String format = "java.util.logging.SimpleFormatter.format";
    if (System.getProperty(format) == null) {
      System.setProperty(format, "[%4$s] %5$s%6$s%n");
    }
    System.exit(standard().run(args, System.out, System.err));
  }

  int run(String[] args, PrintStream out, PrintStream err) {
    if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
      if (args.length > 1 && commands.containsKey(args[1])) {
        out.print(help(commands.get(args[1])));
      } else {
        out.print(overview());
      }
      return args.length == 0 ? USAGE : 0;
    }
    Command c = commands.get(args[0]);
    if (c == null) {
      err.println("lora4j: unknown command '" + args[0] + "'. Commands: " + String.join(", ", commands.keySet()));
      return USAGE;
    }
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    Options options = withHelp(c.options());
    CommandLine line;
    try {
      line = new DefaultParser().parse(options, rest);
    } catch (ParseException e) {
      err.println("lora4j " + c.name() + ": " + e.getMessage());
      err.println("Run 'lora4j " + c.name() + " --help' for usage.");
      return USAGE;
    }
    if (line.hasOption("help")) {
      out.print(help(c));
      return 0;
    }
    String repeated = repeated(line, c);
    if (repeated != null) {
      err.println("lora4j " + c.name() + ": " + repeated);
      err.println("Run 'lora4j " + c.name() + " --help' for usage.");
      return USAGE;
    }
    try {
      return c.run(line, out);
    } catch (Lora4jException | IllegalArgumentException e) {
      out.flush();
      err.println("lora4j " + c.name() + ": " + e.getMessage());
      return USAGE;
    } catch (Exception e) {
      out.flush();
      err.println("lora4j " + c.name() + ": internal error, please report it:");
      e.printStackTrace(err);
      return 1;
    }
  }

  /** The first option with a value given more than once that {@code c} does not take repeatedly, said as an error. */
  static String repeated(CommandLine line, Command c) {
    Map<String, List<String>> values = new LinkedHashMap<>();
    for (Option o : line.getOptions()) { // one entry per occurrence, in command-line order
      String key = o.getLongOpt() != null ? o.getLongOpt() : o.getOpt();
      if (o.hasArg() && !c.repeatable().contains(key)) {
        values.computeIfAbsent(key, k -> new ArrayList<>()).add(o.getValue());
      }
    }
    for (Map.Entry<String, List<String>> e : values.entrySet()) {
      if (e.getValue().size() > 1) {
        String name = (e.getKey().length() == 1 ? "-" : "--") + e.getKey();
        return name + " is given " + e.getValue().size() + " times (" + String.join(", ", e.getValue().stream()
            .map(v -> "'" + v + "'").toList()) + "); give it once";
      }
    }
    return null;
  }

  String overview() {
    StringBuilder sb = new StringBuilder();
    sb.append("lora4j: train, shrink, ship and serve low-rank adapters on the JVM.\n\n");
    sb.append("Usage: lora4j <command> [options]   (lora4j <command> --help for details)\n\nCommands:\n");
    commands.values().forEach(c -> sb.append(String.format("  %-9s %s%n", c.name(), c.summary())));
    sb.append("\nBase models: 'minilm-l6' (embedded, the default) or a directory with model.onnx + tokenizer.json.\n");
    return sb.toString();
  }

  /** Every command's help as one markdown page: docs/CLI.md, kept equal to this by a test. */
  String reference() {
    StringBuilder sb = new StringBuilder("# lora4j command line\n\nGenerated from `./lora4j <command> --help`; ")
        .append("a test keeps this page equal to the real help.\n\n```\n").append(overview()).append("```\n");
    for (Command c : commands.values()) {
      sb.append("\n## ").append(c.name()).append("\n\n```\n").append(help(c)).append("```\n");
    }
    return sb.toString();
  }

  static String help(Command c) {
    StringWriter sw = new StringWriter();
    PrintWriter pw = new PrintWriter(sw);
    HelpFormatter f = HelpFormatter.builder().setShowSince(false).get();
    f.setWidth(100);
    String syntax = "lora4j " + c.name() + (c.arguments().isEmpty() ? "" : " " + c.arguments()) + " [options]";
    f.printHelp(pw, 100, syntax, "\n" + c.description().strip() + "\n\nOptions:", withHelp(c.options()), 2, 2, "",
        false);
    pw.flush();
    return sw.toString();
  }

  private static Options withHelp(Options o) {
    Options copy = new Options();
    o.getOptions().forEach(copy::addOption);
    copy.addOption(Option.builder("h").longOpt("help").desc("Show this help.").get());
    return copy;
  }

  Map<String, Command> commands() {
    return commands;
  }
}
