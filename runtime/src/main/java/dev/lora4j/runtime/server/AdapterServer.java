package dev.lora4j.runtime.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.runtime.AdapterInfo;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.LatencyStats;
import dev.lora4j.runtime.MixedRequest;
import dev.lora4j.runtime.Prediction;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A small local JSON server over an {@link AdapterRuntime}, on the JDK's built-in HTTP server.
 *
 * <pre>
 * GET    /health                 status, device, adapters loaded
 * GET    /metrics                requests, errors, latency percentiles, adapter memory
 * GET    /adapters               loaded adapters with ranks and sizes
 * PUT    /adapters/{name}        {"path": "..."}   load (or replace) an adapter
 * DELETE /adapters/{name}        unload
 * POST   /predict                {"adapter": "a", "text": "..."}       one text (micro-batched)
 *                                {"adapter": "a", "texts": ["..", ..]} a batch for one adapter
 *                                {"requests": [{"adapter": "a", "text": ".."}, ..]} mixed adapters
 * POST   /embed                  {"adapter": "a" (optional), "texts": [..]}
 * </pre>
 *
 * Bad requests get a 4xx with {"error": "..."}; the runtime keeps serving everything else.
 */
public final class AdapterServer implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final AdapterRuntime runtime;
  private final ServerSettings settings;
  private final HttpServer http;
  private final ExecutorService pool;
  private final LatencyStats stats = new LatencyStats(10_000);

  private AdapterServer(AdapterRuntime runtime, ServerSettings settings) throws IOException {
    this.runtime = runtime;
    this.settings = settings;
    this.http = HttpServer.create(new InetSocketAddress(settings.host(), settings.port()), 64);
    this.pool = Executors.newFixedThreadPool(settings.threads(), r -> {
      Thread t = new Thread(r, "lora4j-http");
      t.setDaemon(true);
      return t;
    });
    http.setExecutor(pool);
    http.createContext("/", this::handle);
  }

  /** Starts serving; {@link #close()} stops. */
  public static AdapterServer start(AdapterRuntime runtime, ServerSettings settings) {
    try {
      AdapterServer s = new AdapterServer(runtime, settings);
      s.http.start();
      return s;
    } catch (IOException e) {
      throw new Lora4jException("cannot listen on " + settings.host() + ":" + settings.port() + ": " + e.getMessage(), e);
    }
  }

  public int port() {
    return http.getAddress().getPort();
  }

  public String url() {
    return "http://" + settings.host() + ":" + port();
  }

  /** Failures that map to an HTTP status. */
  private static final class HttpError extends RuntimeException {
    final int status;

    HttpError(int status, String message) {
      super(message);
      this.status = status;
    }
  }

  private void handle(HttpExchange ex) throws IOException {
    long start = System.nanoTime();
    int status = 200;
    JsonNode body;
    try {
      body = route(ex);
    } catch (HttpError e) {
      status = e.status;
      body = error(e.getMessage());
    } catch (Lora4jException | IllegalArgumentException e) {
      status = e.getMessage() != null && e.getMessage().endsWith("is not loaded") ? 404 : 400;
      body = error(e.getMessage());
    } catch (RuntimeException e) {
      status = 500;
      body = error("internal error: " + e);
    }
    if (status >= 400) {
      stats.recordError();
    }
    byte[] bytes = JSON.writeValueAsBytes(body);
    ex.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
    ex.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
    stats.record(System.nanoTime() - start);
  }

  private JsonNode route(HttpExchange ex) throws IOException {
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
      String name = path.substring("/adapters/".length());
      if (method.equals("PUT") || method.equals("POST")) {
        JsonNode req = readBody(ex);
        String p = text(req, "path");
        return info(runtime.load(name, Path.of(p)));
      }
      if (method.equals("DELETE")) {
        if (!runtime.unload(name)) {
          throw new HttpError(404, "adapter '" + name + "' is not loaded");
        }
        return JSON.createObjectNode().put("unloaded", name);
      }
      throw new HttpError(405, method + " is not allowed on " + path + " (use PUT or DELETE)");
    }
    if (path.equals("/predict")) {
      requireMethod(method, "POST");
      return predict(readBody(ex));
    }
    if (path.equals("/embed")) {
      requireMethod(method, "POST");
      JsonNode req = readBody(ex);
      String adapter = req.hasNonNull("adapter") ? req.get("adapter").asText() : null;
      List<String> texts = texts(req.get("texts"), "texts");
      ArrayNode out = JSON.createArrayNode();
      for (float[] v : runtime.embed(adapter, texts)) {
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

  private JsonNode predict(JsonNode req) {
    if (req.has("requests")) {
      JsonNode rs = req.get("requests");
      if (!rs.isArray() || rs.isEmpty()) {
        throw new HttpError(400, "'requests' must be a non-empty array of {adapter, text}");
      }
      checkBatch(rs.size());
      List<MixedRequest> mixed = new ArrayList<>();
      for (JsonNode r : rs) {
        mixed.add(new MixedRequest(text(r, "adapter"), text(r, "text")));
      }
      return predictions(runtime.predictMixed(mixed));
    }
    String adapter = text(req, "adapter");
    if (req.has("texts")) {
      return predictions(runtime.predict(adapter, texts(req.get("texts"), "texts")));
    }
    String text = text(req, "text");
    try {
      return prediction(runtime.submit(adapter, text).get(settings.timeout().toMillis(), TimeUnit.MILLISECONDS));
    } catch (TimeoutException e) {
      throw new HttpError(503, "no answer within " + settings.timeout().toMillis() + " ms; try again");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new HttpError(503, "interrupted");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException(e.getCause());
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
    n.put("requests", s.requests()).put("errors", s.errors());
    n.putObject("latency_ms").put("p50", s.p50Ms()).put("p90", s.p90Ms()).put("p99", s.p99Ms()).put("max", s.maxMs());
    List<AdapterInfo> infos = runtime.adapters();
    n.put("adapters_loaded", infos.size());
    n.put("adapters_resident", infos.stream().filter(AdapterInfo::resident).count());
    n.put("adapter_bytes_resident", infos.stream().filter(AdapterInfo::resident).mapToLong(AdapterInfo::bytes).sum());
    n.put("device", runtime.device().name().toLowerCase());
    return n;
  }

  private static ObjectNode info(AdapterInfo i) {
    ObjectNode n = JSON.createObjectNode();
    n.put("name", i.name()).put("source", i.source()).put("resident", i.resident()).put("max_rank", i.maxRank())
        .put("parameters", i.parameters()).put("bytes", i.bytes()).put("pooling", i.pooling());
    ObjectNode ranks = n.putObject("ranks");
    i.ranks().forEach(ranks::put);
    ArrayNode labels = n.putArray("labels");
    i.labels().forEach(labels::add);
    return n;
  }

  private JsonNode readBody(HttpExchange ex) throws IOException {
    String len = ex.getRequestHeaders().getFirst("Content-Length");
    if (len != null && parseLength(len) > settings.maxBodyBytes()) {
      throw new HttpError(413, "request body of " + len + " bytes is over the limit of " + settings.maxBodyBytes());
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
      throw new HttpError(400, "the request body is not valid JSON: " + e.getOriginalMessage());
    }
  }

  private static long parseLength(String len) {
    try {
      return Long.parseLong(len.trim());
    } catch (NumberFormatException e) {
      throw new HttpError(400, "bad Content-Length '" + len + "'");
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
    http.stop(1);
    pool.shutdown();
    try {
      pool.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
