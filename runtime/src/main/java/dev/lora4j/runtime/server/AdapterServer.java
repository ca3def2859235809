package dev.lora4j.runtime.server;

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
import dev.lora4j.runtime.AdapterInfo;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.LatencyStats;
import dev.lora4j.runtime.MixedRequest;
import dev.lora4j.runtime.Prediction;
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
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

/**
 * A small local JSON server over an {@link AdapterRuntime}, on the JDK's built-in HTTP server.
 *
 * <pre>
 * GET    /health                 status, device, adapters loaded
 * GET    /metrics                requests, errors, latency percentiles, adapter memory
 * GET    /adapters               loaded adapters with ranks and sizes
 * PUT    /adapters/{name}        {"file": "x.onnx_adapter"} or {}   load (or replace); admin token
 * DELETE /adapters/{name}        unload; admin token
 * POST   /predict                {"adapter": "a", "text": "..."}       one text (micro-batched)
 *                                {"adapter": "a", "texts": ["..", ..]} a batch for one adapter
 *                                {"requests": [{"adapter": "a", "text": ".."}, ..]} mixed adapters
 * POST   /embed                  {"adapter": "a" (optional), "texts": [..]}
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
  private final LatencyStats stats = new LatencyStats(10_000);
  private final AtomicLong busy = new AtomicLong();

  private AdapterServer(AdapterRuntime runtime, ServerSettings settings) throws IOException {
    this.runtime = runtime;
    this.settings = settings;
    this.dirs = new AdapterDirectories(settings.adapterDirs());
    this.http = HttpServer.create(new InetSocketAddress(settings.host(), settings.port()), 64);
    this.access = new AccessPolicy(settings.host(), http.getAddress().getPort(), settings.adminToken());
    this.connections = new ConnectionPool(settings.ioThreads(), 4 * settings.ioThreads(), settings.ioTimeout());
    AtomicInteger n = new AtomicInteger();
    this.work = new ThreadPoolExecutor(settings.threads(), settings.threads(), 0, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(settings.queue()), r -> {
          Thread t = new Thread(r, "lora4j-http-work-" + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    http.setExecutor(connections);
    http.createContext("/", this::handle);
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

  private record Reply(int status, JsonNode body, int retryAfter) {}

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
    byte[] bytes = JSON.writeValueAsBytes(reply.body());
    Headers h = ex.getResponseHeaders();
    h.set("Content-Type", "application/json; charset=utf-8");
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

  private JsonNode route(HttpExchange ex) throws IOException {
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
      return metrics();
    }
    if (path.equals("/adapters")) {
      requireMethod(method, "GET");
      ArrayNode a = JSON.createArrayNode();
      runtime.adapters().forEach(i -> a.add(info(i)));
      return a;
    }
    if (path.startsWith("/adapters/")) {
      return admin(ex, method, path.substring("/adapters/".length()));
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
      String adapter = req.hasNonNull("adapter") ? text(req, "adapter") : null;
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

  private JsonNode admin(HttpExchange ex, String method, String name) throws IOException {
    if (!method.equals("PUT") && !method.equals("POST") && !method.equals("DELETE")) {
      throw new HttpError(405, method + " is not allowed on /adapters/{name} (use PUT or DELETE)");
    }
    access.checkAdmin(ex.getRequestHeaders());
    if (!ExportLayout.isValidAdapterName(name)) {
      throw new HttpError(400, "not a valid adapter name (letters, digits, . _ -)");
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
        mixed.add(new MixedRequest(text(r, "adapter"), text(r, "text")));
      }
      return predictions(onWorkPool(() -> runtime.predictMixed(mixed), deadline));
    }
    String adapter = text(req, "adapter");
    if (req.has("texts")) {
      List<String> texts = texts(req.get("texts"), "texts");
      return predictions(onWorkPool(() -> runtime.predict(adapter, texts), deadline));
    }
    String text = text(req, "text");
    return prediction(await(runtime.submit(adapter, text), deadline));
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
    n.put("device", runtime.device().name().toLowerCase());
    n.put("work_queued", work.getQueue().size());
    return n;
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
