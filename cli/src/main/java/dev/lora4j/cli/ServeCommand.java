package dev.lora4j.cli;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.runtime.AdapterInfo;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.server.AdapterServer;
import dev.lora4j.runtime.server.ServerSettings;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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
        costs no reload, and concurrent requests are micro-batched even across adapters.
        Endpoints (JSON; POST and PUT bodies must be Content-Type: application/json):
          POST /predict  {"adapter": "a", "text": "..."} | {"adapter": "a", "texts": [...]}
                         | {"requests": [{"adapter": "a", "text": "..."}, ...]}  (mixed batch)
          POST /embed    {"adapter": "a" (optional), "texts": [...]}
          GET  /adapters   GET /health   GET /metrics  (read-only: they never load an adapter)
          PUT  /adapters/{name} {} or {"file": "x.onnx_adapter"}   DELETE /adapters/{name}
        Load and unload are off unless an admin token is given (--admin-token-file, or the
        LORA4J_ADMIN_TOKEN environment variable); then they need "Authorization: Bearer <token>", and
        files load only from the export directory, --adapters and --adapter-dir, by a relative name.
        Requests must name this server in Host (and Origin, if sent). Listens on 127.0.0.1 unless
        --host says otherwise. Stop with Ctrl-C.
        Example: lora4j serve --base export/sst2 --port 8080""";
  }

  @Override
  public Options options() {
    Options o = new Options();
    RuntimeOptionsCli.add(o);
    o.addOption(Option.builder().longOpt("adapters").hasArg().argName("dir")
        .desc("Directory whose .onnx_adapter files are loaded at start (default: the --base directory).").get());
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
    o.addOption(Option.builder().longOpt("timeout").hasArg().argName("ms")
        .desc("Deadline of every request; later ones are answered 503 (default 30000).").get());
    return o;
  }

  @Override
  public int run(CommandLine line, PrintStream out) throws Exception {
    Path base = RuntimeOptionsCli.requireBase(line);
    Path adapters = Path.of(line.getOptionValue("adapters", base.toString()));
    ServerSettings d = ServerSettings.defaults();
    int timeoutMs = OptionValues.integer(line, "timeout", (int) d.timeout().toMillis());
    if (timeoutMs < 1) {
      throw new Lora4jException("--timeout must be at least 1 ms, not " + timeoutMs);
    }
    List<Path> dirs = new ArrayList<>(List.of(base, adapters));
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
        .withPort(OptionValues.integer(line, "port", d.port()))
        .withMaxBatch(OptionValues.integer(line, "max-batch", d.maxBatch()))
        .withWork(Duration.ofMillis(timeoutMs), d.threads(), d.queue())
        .withAdapterDirs(dirs)
        .withAdminToken(adminToken(line, System.getenv(TOKEN_ENV)));
    AdapterRuntime rt = AdapterRuntime.open(base, RuntimeOptionsCli.parse(line));
    for (Path f : adapterFiles(adapters)) {
      String file = f.getFileName().toString();
      AdapterInfo i = rt.load(file.substring(0, file.length() - OrtAdapterFile.EXTENSION.length()), f);
      out.printf(Locale.ROOT, "loaded %-20s max rank %d, %s, labels %s%n", i.name(), i.maxRank(),
          ExportCommand.size(i.bytes()), i.labels());
    }
    AdapterServer server;
    try {
      server = AdapterServer.start(rt, settings);
    } catch (RuntimeException e) {
      rt.close();
      throw e;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close();
      rt.close();
      stopped.countDown();
    }, "lora4j-shutdown"));
    out.printf(Locale.ROOT, "lora4j serving %s (base %s on %s) at %s%n", base, rt.base().id(),
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
