package dev.lora4j.cli;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.runtime.AdapterInfo;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.server.AdapterServer;
import dev.lora4j.runtime.server.ServerSettings;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code lora4j serve}: the runtime behind a small local JSON server. */
final class ServeCommand implements Command {
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
        Endpoints (JSON):
          POST /predict  {"adapter": "a", "text": "..."} | {"adapter": "a", "texts": [...]}
                         | {"requests": [{"adapter": "a", "text": "..."}, ...]}  (mixed batch)
          POST /embed    {"adapter": "a" (optional), "texts": [...]}
          GET  /adapters   PUT /adapters/{name} {"path": "..."}   DELETE /adapters/{name}
          GET  /health     GET /metrics  (requests, latency percentiles, adapters loaded)
        Listens on 127.0.0.1 unless --host says otherwise. Stop with Ctrl-C.
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
    return o;
  }

  @Override
  public int run(CommandLine line, PrintStream out) throws Exception {
    Path base = RuntimeOptionsCli.requireBase(line);
    Path adapters = Path.of(line.getOptionValue("adapters", base.toString()));
    ServerSettings d = ServerSettings.defaults();
    ServerSettings settings = d.withHost(line.getOptionValue("host", d.host()))
        .withPort(OptionValues.integer(line, "port", d.port()))
        .withMaxBatch(OptionValues.integer(line, "max-batch", d.maxBatch()));
    AdapterRuntime rt = AdapterRuntime.open(base, RuntimeOptionsCli.parse(line));
    for (Path f : adapterFiles(adapters)) {
      String file = f.getFileName().toString();
      AdapterInfo i = rt.load(file.substring(0, file.length() - OrtAdapterFile.EXTENSION.length()), f);
      out.printf(Locale.ROOT, "loaded %-20s max rank %d, %s, labels %s%n", i.name(), i.maxRank(),
          ExportCommand.size(i.bytes()), i.labels());
    }
    AdapterServer server = AdapterServer.start(rt, settings);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close();
      rt.close();
      stopped.countDown();
    }, "lora4j-shutdown"));
    out.printf(Locale.ROOT, "lora4j serving %s (base %s on %s) at %s%n", base, rt.base().id(),
        rt.device().name().toLowerCase(Locale.ROOT), server.url());
    out.printf(Locale.ROOT, "try: curl -s %s/predict -d '{\"adapter\": \"<name>\", \"text\": \"a gripping film\"}'%n",
        server.url());
    out.flush();
    stopped.await();
    return 0;
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
