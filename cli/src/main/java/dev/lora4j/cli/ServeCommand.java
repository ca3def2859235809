package dev.lora4j.cli;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.runtime.AdapterInfo;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.RuntimeOptions;
import dev.lora4j.runtime.AdapterServer;
import dev.lora4j.runtime.ServerSettings;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code lora4j serve}: the runtime behind a small local JSON server. */
final class ServeCommand implements Command {
  static final String TOKEN_ENV = "LORA4J_ADMIN_TOKEN";
  static final int MIN_TOKEN_CHARS = 16;

  @Override
  public String name() {
    return "serve";
  }

  @Override
  public String arguments() {
    return "";
  }

  @Override
  public String summary() {
    return "Serve many adapters over one base model as a local HTTP JSON server.";
  }

  @Override
  public String description() {
    return """
        Opens the base model of an export directory once and loads every .onnx_adapter found in
        --adapters (default: the export directory itself). Each request names its adapter; switching
        costs no reload, and concurrent requests are micro-batched even across adapters. Its ONNX
        Runtime sessions (single-adapter and mixed batches) share one thread pool of --threads threads.
        Endpoints (JSON; POST and PUT bodies must be Content-Type: application/json):
          POST /predict  {"adapter": "a", "text": "..."} | {"adapter": "a", "texts": [...]}
                         | {"requests": [{"adapter": "a", "text": "..."}, ...]}  (mixed batch)
          POST /embed    {"adapter": "a" (optional; "__base__" = the plain base model), "texts": [...]}
          GET  /adapters   GET /adapters/{name}   GET /health   GET /metrics  (read-only: they never
                         load an adapter; /metrics?format=prometheus or Accept: text/plain for Prometheus)
          PUT  /adapters/{name} {} or {"file": "x.onnx_adapter"}   DELETE /adapters/{name}
          PUT  /adapters/{name} {"classpath": true}  the adapter packaged as {name} in a jar on the class
                         path (LORA4J_CLASSPATH), as --adapter classpath:{name} loads it at start
          PUT  /adapters/{name}/pin   DELETE /adapters/{name}/pin  (pinned: never evicted by the budget)
        Load and unload are off unless an admin token is given (--admin-token-file, or the
        LORA4J_ADMIN_TOKEN environment variable); then they need "Authorization: Bearer <token>", and
        files load only from the export directory, --adapters and --adapter-dir, by a relative name.
        --preload and --pin adapters are resident before the server listens (so /health answers only
        once they are); pinned ones stay resident whatever the --adapter-budget.
        Requests must name this server in Host (and Origin, if sent). Listens on 127.0.0.1 unless
        --host says otherwise. Stop with Ctrl-C.
        Example: lora4j serve --base export/sst2 --port 8080 --pin sst2-sora""";
  }

  @Override
  public Options options() {
    Options o = new Options();
    RuntimeOptionsCli.add(o);
    o.addOption(Option.builder().longOpt("adapters").hasArg().argName("dir")
        .desc("Directory whose .onnx_adapter files are loaded at start (default: the --base directory).").get());
    o.addOption(Option.builder().longOpt("adapter").hasArg().argName("source")
        .desc("Also load this adapter at start: an .onnx_adapter file, or classpath:<name> (a jar from 'lora4j"
            + " package' on the class path; ./lora4j adds LORA4J_CLASSPATH). Repeatable.").get());
    o.addOption(Option.builder().longOpt("host").hasArg().argName("addr")
        .desc("Interface to listen on (default 127.0.0.1, this machine only).").get());
    o.addOption(Option.builder().longOpt("port").hasArg().argName("n").desc("Port (default 8080; 0 = any free).").get());
    o.addOption(Option.builder().longOpt("max-batch").hasArg().argName("n")
        .desc("Most texts in one request (default 64).").get());
    o.addOption(Option.builder().longOpt("adapter-dir").hasArg().argName("dirs")
        .desc("Comma-separated directories adapters may also be loaded from over HTTP (the export directory and"
            + " --adapters always are).").get());
    o.addOption(Option.builder().longOpt("admin-token-file").hasArg().argName("file")
        .desc("File holding the admin token that turns on PUT / DELETE /adapters/{name} (at least "
            + MIN_TOKEN_CHARS + " characters; or set " + TOKEN_ENV + "). Without one, those routes are off.").get());
    o.addOption(Option.builder().longOpt("preload").hasArg().argName("names")
        .desc("Comma-separated adapters made resident before the server answers (loaded by name from the export"
            + " directory unless --adapters holds them); refused if they do not fit in the adapter budget together.")
        .get());
    o.addOption(Option.builder().longOpt("pin").hasArg().argName("names")
        .desc("Comma-separated adapters preloaded and pinned: the adapter budget never evicts them.").get());
    o.addOption(Option.builder().longOpt("adapter-budget").hasArg().argName("MiB")
        .desc("Memory for resident adapters; past it the least recently used unpinned ones are evicted and"
            + " reloaded on their next request (default " + (RuntimeOptions.defaults().adapterBudgetBytes() >> 20)
            + ").").get());
    o.addOption(Option.builder().longOpt("timeout").hasArg().argName("ms")
        .desc("Deadline of every request; later ones are answered 503 (default 30000).").get());
    return o;
  }

  /**
   * The server's sessions on one ONNX Runtime pool of {@code --threads} threads: traffic that
   * alternates single-adapter and mixed batches otherwise wakes each session's idle pool in turn
   * (measured, one runtime on 2 cores, a single request and a two-row mixed batch alternating: 5.7
   * and 11.4 ms with a pool per session, 4.5 and 7.3 ms shared; 2.9-3.3 and 6.2-6.7 ms either way
   * in blocks of one kind). This process is the server's own, so it may set ONNX Runtime's
   * environment; where ONNX Runtime already runs (serve started inside another JVM's process), the
   * sessions keep their own pools.
   */
  static RuntimeOptions sharedThreadPool(RuntimeOptions options) {
    try {
      AdapterRuntime.shareThreadPool(options.session().intraOpThreads());
      return options.withSession(options.session().withThreads(0));
    } catch (Lora4jException alreadyRunning) {
      java.util.logging.Logger.getLogger("lora4j.cli").fine("serve: sessions keep their own thread pools: "
          + alreadyRunning.getMessage());
      return options;
    }
  }

  @Override
  public Set<String> repeatable() {
    return Set.of("adapter");
  }

  @Override
  public int run(CommandLine line, PrintStream out) throws Exception {
    // a packaged base (classpath:<name>) holds no adapters: they come from the options that name them
    Path base = RuntimeOptionsCli.classpathBase(line) == null ? RuntimeOptionsCli.requireBase(line) : null;
    Path adapters = line.hasOption("adapters") ? Path.of(line.getOptionValue("adapters")) : base;
    ServerSettings d = ServerSettings.defaults();
    int timeoutMs = OptionValues.integer(line, "timeout", (int) d.timeout().toMillis());
    if (timeoutMs < 1) {
      throw new Lora4jException("--timeout must be at least 1 ms, not " + timeoutMs);
    }
    int port = OptionValues.integer(line, "port", d.port());
    if (port < 0 || port > 65535) {
      throw new Lora4jException("--port must be between 0 (any free port) and 65535, not " + port);
    }
    int maxBatch = OptionValues.integer(line, "max-batch", d.maxBatch());
    if (maxBatch < 1) {
      throw new Lora4jException("--max-batch must be at least 1, not " + maxBatch);
    }
    List<Path> dirs = new ArrayList<>();
    for (Path p : new Path[] {base, adapters}) {
      if (p != null) {
        dirs.add(p);
      }
    }
    if (line.hasOption("adapter-dir")) {
      for (String dir : line.getOptionValue("adapter-dir").split(",")) {
        Path p = Path.of(dir.trim());
        if (!Files.isDirectory(p)) {
          throw new Lora4jException("--adapter-dir " + p + ": not a directory");
        }
        dirs.add(p);
      }
    }
    ServerSettings settings = d.withHost(line.getOptionValue("host", d.host()))
        .withPort(port)
        .withMaxBatch(maxBatch)
        .withWork(Duration.ofMillis(timeoutMs), d.threads(), d.queue())
        .withAdapterDirs(dirs)
        .withAdminToken(adminToken(line, System.getenv(TOKEN_ENV)));
    List<String> preload = adapterNames(line, "preload");
    List<String> pin = adapterNames(line, "pin");
    RuntimeOptions options = RuntimeOptionsCli.parse(line);
    if (line.hasOption("adapter-budget")) {
      int mib = OptionValues.integer(line, "adapter-budget", 0);
      if (mib < 1) {
        throw new Lora4jException("--adapter-budget must be at least 1 MiB, not " + mib);
      }
      options = options.withAdapterBudget((long) mib << 20);
    }
    AdapterRuntime rt = RuntimeOptionsCli.open(line, sharedThreadPool(options));
    AdapterServer server;
    try {
      loadAdapters(rt, adapters, line.hasOption("adapter") ? List.of(line.getOptionValues("adapter")) : List.of(),
          preload, pin, out);
      server = AdapterServer.start(rt, settings);
    } catch (RuntimeException | IOException e) {
      rt.close();
      throw e;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close();
      rt.close();
      stopped.countDown();
    }, "lora4j-shutdown"));
    out.printf(Locale.ROOT, "lora4j serving %s (base %s on %s) at %s%n",
        base != null ? base : line.getOptionValue("base"), rt.base().id(),
        rt.device().name().toLowerCase(Locale.ROOT), server.url());
    out.printf(Locale.ROOT, "admin routes (load / unload): %s%n",
        server.adminEnabled() ? "on, with the admin token" : "off (no admin token)");
    out.printf(Locale.ROOT, "try: curl -s %s/predict -H 'Content-Type: application/json' "
        + "-d '{\"adapter\": \"<name>\", \"text\": \"a gripping film\"}'%n", server.url());
    out.flush();
    stopped.await();
    return 0;
  }

  /**
   * Loads every adapter in {@code dir}, then makes {@code preload} and {@code pin} resident (in that
   * order, so they are the most recently used) and pins {@code pin}: all before the server listens.
   */
  static void loadAdapters(AdapterRuntime rt, Path dir, List<String> preload, List<String> pin, PrintStream out)
      throws IOException {
    loadAdapters(rt, dir, List.of(), preload, pin, out);
  }

  /** As above, loading the {@code --adapter} ones (files or {@code classpath:<name>}) after {@code dir}'s. */
  static void loadAdapters(AdapterRuntime rt, Path dir, List<String> extra, List<String> preload, List<String> pin,
      PrintStream out) throws IOException {
    for (Path f : dir == null ? List.<Path>of() : adapterFiles(dir)) {
      String file = f.getFileName().toString();
      AdapterInfo i = rt.load(file.substring(0, file.length() - OrtAdapterFile.EXTENSION.length()), f);
      printLoaded(i, out);
    }
    for (String a : extra) {
      if (!a.startsWith(RunCommand.CLASSPATH) && !a.endsWith(OrtAdapterFile.EXTENSION)) {
        throw new Lora4jException("--adapter " + a + ": give an .onnx_adapter file or classpath:<name>");
      }
      String name;
      try {
        name = RunCommand.load(rt, a);
      } catch (Lora4jException e) {
        throw new Lora4jException("--adapter " + a + ": " + e.getMessage(), e);
      }
      printLoaded(rt.describe(name).info(), out);
    }
    LinkedHashSet<String> resident = new LinkedHashSet<>(preload);
    resident.addAll(pin);
    if (!resident.isEmpty()) {
      String flag = preload.isEmpty() ? "--pin" : pin.isEmpty() ? "--preload" : "--preload / --pin";
      try {
        rt.preload(List.copyOf(resident));
        for (String n : pin) {
          rt.pin(n);
        }
      } catch (Lora4jException e) {
        throw new Lora4jException(flag + ": " + e.getMessage(), e);
      }
      out.printf(Locale.ROOT, "resident %s%s%n", String.join(", ", resident),
          pin.isEmpty() ? "" : "; pinned " + String.join(", ", pin));
    }
  }

  private static void printLoaded(AdapterInfo i, PrintStream out) {
    out.printf(Locale.ROOT, "loaded %-20s max rank %d, %s, labels %s%n", i.name(), i.maxRank(),
        ExportCommand.size(i.bytes()), i.labels());
  }

  /** A comma-separated list of adapter names; empty when the option is absent. */
  static List<String> adapterNames(CommandLine line, String option) {
    if (!line.hasOption(option)) {
      return List.of();
    }
    List<String> names = new ArrayList<>();
    for (String part : line.getOptionValue(option).split(",", -1)) {
      String n = part.trim();
      if (!ExportLayout.isValidAdapterName(n)) {
        throw new Lora4jException("--" + option + ": '" + n + "' is not a valid adapter name (letters, digits, . _ -)");
      }
      if (n.equals(AdapterRuntime.BASE)) {
        throw new Lora4jException("--" + option + ": '" + n + "' is the base model itself, not an adapter");
      }
      if (!names.contains(n)) {
        names.add(n);
      }
    }
    return names;
  }

  /**
   * The admin token from --admin-token-file or the environment, never from the command line (which
   * every local user can read in the process list); null when neither is given.
   */
  static String adminToken(CommandLine line, String fromEnv) throws IOException {
    String token;
    String from;
    if (line.hasOption("admin-token-file")) {
      Path f = Path.of(line.getOptionValue("admin-token-file"));
      if (!Files.isRegularFile(f)) {
        throw new Lora4jException("--admin-token-file " + f + ": not a readable file");
      }
      if (Files.size(f) > 4096) {
        throw new Lora4jException("--admin-token-file " + f + ": over 4096 bytes; it should hold one token");
      }
      token = Files.readString(f, StandardCharsets.UTF_8).strip();
      from = "--admin-token-file " + f;
    } else if (fromEnv != null) {
      token = fromEnv.strip();
      from = TOKEN_ENV;
    } else {
      return null;
    }
    if (token.length() < MIN_TOKEN_CHARS || token.chars().anyMatch(c -> c <= ' ' || c == 127)) {
      throw new Lora4jException(from + ": the admin token must be at least " + MIN_TOKEN_CHARS
          + " characters without spaces or control characters");
    }
    return token;
  }

  private static List<Path> adapterFiles(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new Lora4jException(dir + ": not a directory");
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().endsWith(OrtAdapterFile.EXTENSION)).sorted().toList();
    }
  }
}
