package dev.lora4j.runtime;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.adapter.Provenance;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

/**
 * A small local JSON server over an {@link AdapterRuntime}, on the JDK's built-in HTTP server.
 *
 * <pre>
 * GET    /health                 status, device, adapters loaded
 * GET    /metrics                requests, errors, latency percentiles, adapter memory (JSON);
 *                                Prometheus text with Accept: text/plain or ?format=prometheus
 * GET    /adapters               loaded adapters with ranks and sizes
 * GET    /adapters/{name}        one adapter in full: base, provenance, resident, pinned
 * PUT    /adapters/{name}        {"file": "x.onnx_adapter"} or {}   load (or replace); admin token
 *                                {"classpath": true}: the adapter packaged as {name} on the class
 *                                path the server was started from (a jar `lora4j package` wrote)
 * DELETE /adapters/{name}        unload; admin token
 * PUT    /adapters/{name}/pin    never evict it; DELETE unpins; admin token
 * POST   /predict                {"adapter": "a", "text": "..."}       one text (micro-batched)
 *                                {"adapter": "a", "texts": ["..", ..]} a batch for one adapter
 *                                {"requests": [{"adapter": "a", "text": ".."}, ..]} mixed adapters
 * POST   /embed                  {"adapter": "a" (optional; "__base__" = none), "texts": [..]}
 * </pre>
 *
 * <p>Security model: every request must name this server in Host (and Origin, if sent), and POST /
 * PUT bodies must be JSON ({@link AccessPolicy}); load and unload exist only when an admin token is
 * configured and then require it; files load only from {@link ServerSettings#adapterDirs()}
 * ({@link AdapterDirectories}). Read-only routes never load anything.
 *
 * <p>Robustness: connections are read and written on their own threads with a deadline
 * ({@link ConnectionPool}); runtime work runs on a bounded pool whose full queue answers 503 with
 * Retry-After; every request has a deadline after which it gets 503. Error bodies hold a message for
 * the client, never an exception, a stack trace, an absolute path or file content; details go to
 * the {@code dev.lora4j.server} logger.
 */
public final class AdapterServer implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final System.Logger LOG = System.getLogger("dev.lora4j.server");
  /** An absolute path inside a message: shown as its file name only. */
  private static final Pattern ABSOLUTE_PATH = Pattern.compile("(?<![\\w.])(?:/[^/\\s'\",;:()\\[\\]]+)+/([^/\\s'\",;:()\\[\\]]+)");
  private static final int RETRY_AFTER_S = 1;

  private final AdapterRuntime runtime;
  private final ServerSettings settings;
  private final HttpServer http;
  private final ConnectionPool connections;
  private final ThreadPoolExecutor work;
  private final AccessPolicy access;
  private final AdapterDirectories dirs;
  /** Where {"classpath": true} looks: the class path of the thread that started the server. */
  private final ClassLoader classpath;
  private final LatencyStats stats = new LatencyStats(10_000);
  private final RequestMetrics requests = new RequestMetrics();
  private final AtomicLong busy = new AtomicLong();

  private AdapterServer(AdapterRuntime runtime, ServerSettings settings) throws IOException {
    this.runtime = runtime;
    this.settings = settings;
    this.dirs = new AdapterDirectories(settings.adapterDirs());
    this.http = HttpServer.create(new InetSocketAddress(settings.host(), settings.port()), 64);
    this.access = new AccessPolicy(settings.host(), http.getAddress().getPort(), settings.adminToken());
    this.connections = new ConnectionPool(settings.ioThreads(), 4 * settings.ioThreads(), settings.ioTimeout());
    // the runtime's big-stack threads: a request runs on its work thread, with no hop to another
    java.util.concurrent.ThreadFactory threads = AdapterRuntime.threadFactory("lora4j-http-work");
    this.work = new ThreadPoolExecutor(settings.threads(), settings.threads(), 0, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(settings.queue()), r -> {
          Thread t = threads.newThread(r);
          t.setDaemon(true);
          return t;
        });
    http.setExecutor(connections);
    http.createContext("/", this::handle);
    this.classpath = AdapterRuntime.defaultClassLoader();
  }

  /** Starts serving; {@link #close()} stops. */
  public static AdapterServer start(AdapterRuntime runtime, ServerSettings settings) {
    AdapterServer s;
    try {
      s = new AdapterServer(runtime, settings);
    } catch (IOException e) {
      throw new Lora4jException("cannot listen on " + settings.host() + ":" + settings.port() + ": " + e.getMessage(), e);
    }
    s.http.start();
    return s;
  }

  public int port() {
    return http.getAddress().getPort();
  }

  public String url() {
    String h = settings.host().contains(":") ? "[" + settings.host() + "]" : settings.host();
    return "http://" + h + ":" + port();
  }

  /** Whether load and unload are on (an admin token was configured). */
  public boolean adminEnabled() {
    return access.adminEnabled();
  }

  /** The pool runtime work runs on; tests occupy it to fill the queue. */
  ThreadPoolExecutor workPool() {
    return work;
  }

  /** An answer; {@code body} is a JsonNode, or a {@link Text} for the Prometheus view. */
  private record Reply(int status, Object body, int retryAfter) {}

  private record Text(String contentType, String text) {}

  private void handle(HttpExchange ex) throws IOException {
    long start = System.nanoTime();
    Reply reply;
    try {
      reply = new Reply(200, route(ex), 0);
    } catch (HttpError e) {
      reply = new Reply(e.status, error(e.getMessage()), e.retryAfter);
    } catch (Lora4jException e) {
      reply = fromRuntime(e);
    } catch (IOException e) {
      // the client went away, or its deadline closed the connection: nobody is left to answer
      stats.recordError();
      ex.close();
      return;
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "request " + ex.getRequestMethod() + " " + ex.getRequestURI().getPath() + " failed", e);
      reply = new Reply(500, error("internal error (details in the server log)"), 0);
    }
    if (reply.status() >= 400) {
      stats.recordError();
    }
    if (reply.status() == 503) {
      busy.incrementAndGet();
    }
    // counted before the answer goes out, so a client that reads /metrics next sees its request
    requests.record(RequestMetrics.route(ex.getRequestURI().getPath()), reply.status(), System.nanoTime() - start);
    ConnectionPool.current().resume(settings.ioTimeout());
    try {
      send(ex, reply);
    } finally {
      ex.close();
    }
    stats.record(System.nanoTime() - start);
  }

  /**
   * A runtime refusal as the client sees it. Refusals lora4j raises itself (no cause) are the
   * client's to read, with paths cut to file names; failures wrapping another exception (I/O, ONNX
   * Runtime, parsers) may quote files or internals, so they are logged and answered in general words.
   */
  private Reply fromRuntime(Lora4jException e) {
    String m = e.getMessage() == null ? "" : e.getMessage();
    if (m.startsWith("too many requests waiting")) {
      return new Reply(503, error("the server is busy; try again"), RETRY_AFTER_S);
    }
    if (e.getCause() != null) {
      LOG.log(Level.WARNING, "request failed in the runtime", e);
      return new Reply(500, error("the runtime failed on this request (details in the server log)"), 0);
    }
    return new Reply(m.endsWith("is not loaded") ? 404 : 400, error(redact(m)), 0);
  }

  static String redact(String message) {
    String m = ABSOLUTE_PATH.matcher(message).replaceAll("$1");
    return m.length() > 300 ? m.substring(0, 300) + "..." : m;
  }

  private static void send(HttpExchange ex, Reply reply) throws IOException {
    Headers h = ex.getResponseHeaders();
    byte[] bytes;
    if (reply.body() instanceof Text t) {
      bytes = t.text().getBytes(StandardCharsets.UTF_8);
      h.set("Content-Type", t.contentType());
    } else {
      bytes = JSON.writeValueAsBytes(reply.body());
      h.set("Content-Type", "application/json; charset=utf-8");
    }
    h.set("X-Content-Type-Options", "nosniff");
    h.set("Cache-Control", "no-store");
    if (reply.retryAfter() > 0) {
      h.set("Retry-After", Integer.toString(reply.retryAfter()));
    }
    if (reply.status() == 401) {
      h.set("WWW-Authenticate", "Bearer");
    }
    ex.sendResponseHeaders(reply.status(), bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  private Object route(HttpExchange ex) throws IOException {
    Headers headers = ex.getRequestHeaders();
    access.checkCaller(headers);
    String method = ex.getRequestMethod();
    String path = ex.getRequestURI().getPath();
    if (path.equals("/health")) {
      requireMethod(method, "GET");
      ObjectNode n = JSON.createObjectNode();
      n.put("status", "ok").put("device", runtime.device().name().toLowerCase()).put("adapters", runtime.adapters().size());
      return n;
    }
    if (path.equals("/metrics")) {
      requireMethod(method, "GET");
      return prometheusWanted(ex) ? new Text(PrometheusText.CONTENT_TYPE, prometheus()) : metrics();
    }
    if (path.equals("/adapters")) {
      requireMethod(method, "GET");
      ArrayNode a = JSON.createArrayNode();
      runtime.adapters().forEach(i -> a.add(info(i)));
      return a;
    }
    if (path.startsWith("/adapters/")) {
      String rest = path.substring("/adapters/".length());
      if (rest.endsWith("/pin")) {
        return pin(ex, method, rest.substring(0, rest.length() - "/pin".length()));
      }
      if (method.equals("GET")) {
        return describe(rest);
      }
      return admin(ex, method, rest);
    }
    if (path.equals("/predict")) {
      requireMethod(method, "POST");
      AccessPolicy.checkJson(headers);
      JsonNode req = readBody(ex);
      return predict(req, System.nanoTime() + settings.timeout().toNanos());
    }
    if (path.equals("/embed")) {
      requireMethod(method, "POST");
      AccessPolicy.checkJson(headers);
      JsonNode req = readBody(ex);
      String adapter = req.hasNonNull("adapter") ? text(req, "adapter") : AdapterRuntime.BASE;
      List<String> texts = texts(req.get("texts"), "texts");
      List<float[]> vectors = onWorkPool(() -> runtime.embed(adapter, texts), deadline());
      ArrayNode out = JSON.createArrayNode();
      for (float[] v : vectors) {
        ArrayNode row = out.addArray();
        for (float f : v) {
          row.add(f);
        }
      }
      ObjectNode n = JSON.createObjectNode();
      n.set("embeddings", out);
      return n;
    }
    throw new HttpError(404, "no such endpoint: " + method + " " + path);
  }

  private long deadline() {
    return System.nanoTime() + settings.timeout().toNanos();
  }

  /** Read-only, like the listing: it loads nothing and leaves the eviction order alone. */
  private JsonNode describe(String name) {
    requireValidName(name);
    AdapterDescription d = runtime.describe(name);
    ObjectNode n = info(d.info());
    n.put("pinned", d.pinned());
    n.putObject("base").put("id", d.base().id()).put("onnx_sha256", d.base().onnxSha256());
    Provenance p = d.provenance();
    ObjectNode prov = n.putObject("provenance");
    prov.put("method", p.method()).put("seed", p.seed()).put("created", p.created()).put("tool", p.tool());
    prov.set("hyper_parameters", redacted(JSON.valueToTree(p.hyperParameters())));
    prov.set("metrics", redacted(JSON.valueToTree(p.metrics())));
    return n;
  }

  /** Provenance may quote the training machine's paths (data files, output directories): file names only. */
  private static JsonNode redacted(JsonNode n) {
    if (n.isTextual()) {
      return JSON.getNodeFactory().textNode(redact(n.asText()));
    }
    if (n.isObject()) {
      ObjectNode o = JSON.createObjectNode();
      n.fields().forEachRemaining(e -> o.set(e.getKey(), redacted(e.getValue())));
      return o;
    }
    if (n.isArray()) {
      ArrayNode a = JSON.createArrayNode();
      n.forEach(v -> a.add(redacted(v)));
      return a;
    }
    return n;
  }

  private JsonNode pin(HttpExchange ex, String method, String name) {
    if (!method.equals("PUT") && !method.equals("DELETE")) {
      throw new HttpError(405, method + " is not allowed on /adapters/{name}/pin (use PUT or DELETE)");
    }
    access.checkAdmin(ex.getRequestHeaders());
    requireValidName(name);
    if (method.equals("DELETE")) {
      boolean was = onWorkPool(() -> runtime.unpin(name), deadline());
      return JSON.createObjectNode().put("unpinned", name).put("was_pinned", was);
    }
    // pinning an evicted adapter reloads it: runtime work, on the bounded pool
    AdapterDescription d = onWorkPool(() -> runtime.pin(name), deadline());
    return info(d.info()).put("pinned", d.pinned());
  }

  private static void requireValidName(String name) {
    if (!ExportLayout.isValidAdapterName(name)) {
      throw new HttpError(400, "not a valid adapter name (letters, digits, . _ -)");
    }
  }

  private JsonNode admin(HttpExchange ex, String method, String name) throws IOException {
    if (!method.equals("PUT") && !method.equals("POST") && !method.equals("DELETE")) {
      throw new HttpError(405, method + " is not allowed on /adapters/{name} (use GET, PUT or DELETE)");
    }
    access.checkAdmin(ex.getRequestHeaders());
    requireValidName(name);
    if (name.equals(AdapterRuntime.BASE)) {
      throw new HttpError(400, "'" + AdapterRuntime.BASE + "' is reserved for the plain base model (no adapter)");
    }
    if (method.equals("DELETE")) {
      boolean was = onWorkPool(() -> runtime.unload(name), deadline());
      if (!was) {
        throw new HttpError(404, "adapter '" + name + "' is not loaded");
      }
      return JSON.createObjectNode().put("unloaded", name);
    }
    AccessPolicy.checkJson(ex.getRequestHeaders());
    JsonNode req = readBody(ex);
    if (req.has("path")) {
      throw new HttpError(400, "'path' is not accepted; name the adapter, or give 'file' relative to an adapter directory");
    }
    if (req.has("classpath")) {
      return fromClasspath(req, name);
    }
    String file = req.has("file") ? text(req, "file") : ExportLayout.onnxAdapter(name);
    Path source = dirs.resolve(file);
    return onWorkPool(() -> {
      try {
        return info(runtime.load(name, source));
      } catch (Lora4jException e) {
        LOG.log(Level.WARNING, "loading adapter '" + name + "' failed: " + e.getMessage());
        throw new HttpError(422, "adapter file '" + file + "' cannot be loaded as adapter '" + name
            + "' (not a valid adapter for this base model; details in the server log)");
      }
    }, deadline());
  }

  /** PUT {"classpath": true}: the jar on the server's class path decides what loads, never the request. */
  private JsonNode fromClasspath(JsonNode req, String name) {
    if (!req.get("classpath").isBoolean() || !req.get("classpath").asBoolean() || req.size() != 1) {
      throw new HttpError(400, "give {\"classpath\": true} alone to load the adapter packaged as '" + name
          + "', or {\"file\": ...} to load a file");
    }
    ClasspathAdapters.Source source = packaged(name);
    return onWorkPool(() -> {
      try {
        return info(runtime.load(name, source));
      } catch (Lora4jException e) {
        LOG.log(Level.WARNING, "loading packaged adapter '" + name + "' (" + source + ") failed: " + e.getMessage());
        throw new HttpError(422, "the adapter packaged as '" + name + "' cannot be loaded (not a valid adapter for"
            + " this base model; details in the server log)");
      }
    }, deadline());
  }

  private ClasspathAdapters.Source packaged(String name) {
    try {
      return ClasspathAdapters.find(name, classpath);
    } catch (Lora4jException e) {
      // the message names jars and their paths on this machine: for the log, not for the client
      LOG.log(Level.WARNING, "no packaged adapter '" + name + "': " + e.getMessage());
      throw new HttpError(404, "no single adapter '" + name + "' is packaged on the server's class path (none, or"
          + " more than one jar holds it; details in the server log)");
    }
  }

  private JsonNode predict(JsonNode req, long deadline) {
    if (req.has("requests")) {
      JsonNode rs = req.get("requests");
      if (!rs.isArray() || rs.isEmpty()) {
        throw new HttpError(400, "'requests' must be a non-empty array of {adapter, text}");
      }
      checkBatch(rs.size());
      List<MixedRequest> mixed = new ArrayList<>();
      for (JsonNode r : rs) {
        if (!r.isObject()) {
          throw new HttpError(400, "'requests' must be a non-empty array of {adapter, text}");
        }
        mixed.add(new MixedRequest(classifier(text(r, "adapter")), text(r, "text")));
      }
      return predictions(onWorkPool(() -> runtime.predictMixed(mixed), deadline));
    }
    String adapter = classifier(text(req, "adapter"));
    if (req.has("texts")) {
      List<String> texts = texts(req.get("texts"), "texts");
      return predictions(onWorkPool(() -> runtime.predict(adapter, texts), deadline));
    }
    String text = text(req, "text");
    return prediction(await(runtime.submit(adapter, text), deadline));
  }

  /** An adapter name for /predict: the base model has no classifier to answer with. */
  private static String classifier(String adapter) {
    if (adapter.equals(AdapterRuntime.BASE)) {
      throw new HttpError(400, AdapterRuntime.BASE + " has no classifier; use /embed");
    }
    return adapter;
  }

  /** Runs {@code task} on the bounded work pool: 503 at once when its queue is full, 503 past the deadline. */
  private <T> T onWorkPool(Callable<T> task, long deadline) {
    Future<T> f;
    try {
      f = work.submit(task);
    } catch (RejectedExecutionException e) {
      throw new HttpError(503, "the server is busy; try again", RETRY_AFTER_S);
    }
    return await(f, deadline);
  }

  private <T> T await(Future<T> f, long deadline) {
    ConnectionPool.Guard guard = ConnectionPool.current();
    guard.pause();
    try {
      return f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      // a queued one leaves the queue (nobody waits for it); a run under way finishes, its answer unused
      f.cancel(false);
      if (f instanceof Runnable queued) {
        work.remove(queued);
      }
      throw new HttpError(503, "no answer within " + settings.timeout().toMillis() + " ms; try again", RETRY_AFTER_S);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new HttpError(503, "the server is stopping", RETRY_AFTER_S);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException("request failed", e.getCause());
    }
  }

  private JsonNode predictions(List<Prediction> ps) {
    ObjectNode n = JSON.createObjectNode();
    ArrayNode a = n.putArray("predictions");
    ps.forEach(p -> a.add(prediction(p)));
    return n;
  }

  private static ObjectNode prediction(Prediction p) {
    ObjectNode n = JSON.createObjectNode();
    n.put("adapter", p.adapter()).put("label", p.label()).put("probability", p.probability());
    ObjectNode probs = n.putObject("probabilities");
    float[] pr = p.probabilities();
    for (int i = 0; i < pr.length; i++) {
      probs.put(p.labels().get(i), pr[i]);
    }
    return n;
  }

  private ObjectNode metrics() {
    LatencyStats.Snapshot s = stats.snapshot();
    ObjectNode n = JSON.createObjectNode();
    n.put("requests", s.requests()).put("errors", s.errors()).put("busy", busy.get());
    n.putObject("latency_ms").put("p50", s.p50Ms()).put("p90", s.p90Ms()).put("p99", s.p99Ms()).put("max", s.maxMs());
    List<AdapterInfo> infos = runtime.adapters();
    n.put("adapters_loaded", infos.size());
    n.put("adapters_resident", infos.stream().filter(AdapterInfo::resident).count());
    n.put("adapter_bytes_resident", infos.stream().filter(AdapterInfo::resident).mapToLong(AdapterInfo::bytes).sum());
    n.put("adapters_pinned", runtime.residency().stream().filter(AdapterRegistry.Status::pinned).count());
    n.put("adapter_budget_bytes", runtime.adapterBudgetBytes());
    n.put("evictions", runtime.evictions());
    n.put("device", runtime.device().name().toLowerCase());
    n.put("work_queued", work.getQueue().size());
    return n;
  }

  /**
   * Prometheus when asked by ?format=prometheus or by an Accept header naming its text formats (what
   * a Prometheus scraper sends); JSON otherwise, so existing clients and browsers see no change.
   */
  private static boolean prometheusWanted(HttpExchange ex) {
    String query = ex.getRequestURI().getQuery();
    if (query != null && !query.isEmpty()) {
      return switch (query) {
        case "format=prometheus" -> true;
        case "format=json" -> false;
        default -> throw new HttpError(400, "/metrics takes ?format=json or ?format=prometheus");
      };
    }
    String accept = ex.getRequestHeaders().getFirst("Accept");
    // a client that accepts JSON too (axios sends "application/json, text/plain, */*") keeps JSON
    return accept != null && !accept.contains("application/json")
        && (accept.contains("text/plain") || accept.contains("application/openmetrics-text"));
  }

  private String prometheus() {
    PrometheusText out = new PrometheusText();
    requests.write(out);
    List<AdapterRegistry.Status> adapters = runtime.residency();
    out.family("lora4j_adapters_loaded", "gauge", "Adapters loaded, resident or evicted by the memory budget.")
        .sample("lora4j_adapters_loaded", adapters.size());
    out.family("lora4j_adapters_resident", "gauge", "Adapters resident in memory.")
        .sample("lora4j_adapters_resident", adapters.stream().filter(AdapterRegistry.Status::resident).count());
    out.family("lora4j_adapters_pinned", "gauge", "Adapters pinned: the memory budget never evicts them.")
        .sample("lora4j_adapters_pinned", adapters.stream().filter(AdapterRegistry.Status::pinned).count());
    out.family("lora4j_adapter_bytes_resident", "gauge", "Bytes held by resident adapters (what the budget counts).")
        .sample("lora4j_adapter_bytes_resident", adapters.stream().mapToLong(AdapterRegistry.Status::bytes).sum());
    out.family("lora4j_adapter_budget_bytes", "gauge", "Memory budget for resident adapters, in bytes.")
        .sample("lora4j_adapter_budget_bytes", runtime.adapterBudgetBytes());
    out.family("lora4j_adapter_evictions_total", "counter", "Adapters evicted by the memory budget.")
        .sample("lora4j_adapter_evictions_total", runtime.evictions());
    out.family("lora4j_work_queued", "gauge", "Requests waiting for a runtime thread.")
        .sample("lora4j_work_queued", work.getQueue().size());
    return out.toString();
  }

  /** An adapter as listed; its source is shown as a file name, not where it lies on this machine. */
  private static ObjectNode info(AdapterInfo i) {
    ObjectNode n = JSON.createObjectNode();
    n.put("name", i.name()).put("source", fileName(i.source())).put("resident", i.resident())
        .put("max_rank", i.maxRank()).put("parameters", i.parameters()).put("bytes", i.bytes())
        .put("pooling", i.pooling());
    ObjectNode ranks = n.putObject("ranks");
    i.ranks().forEach(ranks::put);
    ArrayNode labels = n.putArray("labels");
    i.labels().forEach(labels::add);
    return n;
  }

  private static String fileName(String source) {
    if (source == null) {
      return null;
    }
    if (source.startsWith("classpath:")) { // "classpath:<name> (<jar URL>)": the name, not where the jar lies
      int space = source.indexOf(' ');
      return space < 0 ? source : source.substring(0, space);
    }
    Path f = Path.of(source).getFileName();
    return f == null ? "" : f.toString();
  }

  private JsonNode readBody(HttpExchange ex) throws IOException {
    String len = ex.getRequestHeaders().getFirst("Content-Length");
    if (len != null && parseLength(len) > settings.maxBodyBytes()) {
      throw new HttpError(413, "request body of " + len.trim() + " bytes is over the limit of " + settings.maxBodyBytes());
    }
    byte[] bytes;
    try (InputStream in = ex.getRequestBody()) {
      bytes = in.readNBytes(settings.maxBodyBytes() + 1);
    }
    if (bytes.length > settings.maxBodyBytes()) {
      throw new HttpError(413, "request body is over the limit of " + settings.maxBodyBytes() + " bytes");
    }
    try {
      JsonNode n = JSON.readTree(new String(bytes, StandardCharsets.UTF_8));
      if (n == null || !n.isObject()) {
        throw new HttpError(400, "the request body must be a JSON object");
      }
      return n;
    } catch (JsonProcessingException e) {
      var at = e.getLocation();
      throw new HttpError(400, "the request body is not valid JSON"
          + (at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"));
    }
  }

  private static long parseLength(String len) {
    try {
      return Long.parseLong(len.trim());
    } catch (NumberFormatException e) {
      throw new HttpError(400, "bad Content-Length");
    }
  }

  private List<String> texts(JsonNode arr, String field) {
    if (arr == null || !arr.isArray() || arr.isEmpty()) {
      throw new HttpError(400, "'" + field + "' must be a non-empty array of strings");
    }
    checkBatch(arr.size());
    List<String> out = new ArrayList<>();
    for (JsonNode t : arr) {
      if (!t.isTextual()) {
        throw new HttpError(400, "'" + field + "' must contain only strings");
      }
      out.add(t.asText());
    }
    return out;
  }

  private void checkBatch(int n) {
    if (n > settings.maxBatch()) {
      throw new HttpError(413, "batch of " + n + " is over the limit of " + settings.maxBatch());
    }
  }

  private static String text(JsonNode n, String field) {
    JsonNode v = n.get(field);
    if (v == null || !v.isTextual()) {
      throw new HttpError(400, "missing string field '" + field + "'");
    }
    return v.asText();
  }

  private static void requireMethod(String method, String expected) {
    if (!method.equals(expected)) {
      throw new HttpError(405, method + " is not allowed here (use " + expected + ")");
    }
  }

  private static ObjectNode error(String message) {
    return JSON.createObjectNode().put("error", message);
  }

  @Override
  public void close() {
    http.stop(0);
    work.shutdown();
    try {
      work.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    connections.close();
  }
}
