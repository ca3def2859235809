package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server under mixed traffic: clients predicting over several adapters (single, batch and
 * mixed-batch requests) whose answers are known up front, while an admin loads, replaces and
 * unloads adapters under a memory budget that keeps evicting, clients stall mid-request and others
 * send slowly. Passes with zero wrong answers and /health answering within a second throughout.
 *
 * <p>A few seconds by default; {@code -Dlora4j.soak.seconds=600} runs it longer. It prints one
 * summary line (quoted in docs/RELIABILITY.md).
 */
class ServerSoakTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String TOKEN = "soak-admin-token-0123456789";
  static final List<String> TEXTS = List.of("a good movie", "the worst plot , really boring",
      "it was not great but fun", "brilliant acting and a moving story", "dull", "i loved the characters but hated the end");
  /** Always loaded; "churn" comes and goes (from delta's file) and alpha is replaced now and then. */
  static final List<String> STABLE = List.of("alpha", "beta", "gamma");
  /**
   * The mixed-batch graph and the multi-adapter graph sum in different orders; float32 rounding
   * differs by ~1e-6 on these probabilities, a wrong adapter or row by >1e-2.
   */
  static final double TOLERANCE = 1e-4;

  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();
  final AtomicLong requests = new AtomicLong();
  final AtomicLong predictions = new AtomicLong();
  final AtomicLong busy = new AtomicLong();
  final AtomicLong adminOps = new AtomicLong();
  final AtomicLong stalledOpened = new AtomicLong();
  final AtomicLong slowServed = new AtomicLong();
  final AtomicLong maxHealthNanos = new AtomicLong();
  final AtomicLong healthChecks = new AtomicLong();
  final ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
  /** adapter file -> text -> probabilities, from AdapterRuntime.predict before the server starts. */
  final Map<String, Map<String, float[]>> expected = new HashMap<>();
  URI base;
  int port;

  @Test
  void soakGivesNoWrongAnswerAndHealthStaysFast(@TempDir Path tmp) throws Exception {
    long seconds = Long.getLong("lora4j.soak.seconds", 4);
    Path export = TestExports.tinyExport(tmp);
    long totalBytes = 0;
    try (AdapterRuntime ref = AdapterRuntime.open(export, RuntimeOptions.defaults().withDevice(Device.CPU))) {
      for (String name : List.of("alpha", "beta", "gamma", "delta")) {
        totalBytes += ref.load(name, export.resolve(name + ".onnx_adapter")).bytes();
        Map<String, float[]> byText = new HashMap<>();
        for (String t : TEXTS) {
          byText.put(t, ref.predict(name, t).probabilities());
        }
        expected.put(name, byText);
      }
    }
    // room for about two of the four adapters: requests keep evicting and reloading
    RuntimeOptions opts = RuntimeOptions.defaults().withDevice(Device.CPU).withAdapterBudget(totalBytes / 2);
    try (AdapterRuntime rt = AdapterRuntime.open(export, opts);
        AdapterServer server = AdapterServer.start(rt, ServerSettings.defaults().withPort(0)
            .withAdapterDirs(List.of(export)).withAdminToken(TOKEN).withWork(Duration.ofSeconds(30), 4, 256)
            .withIo(32, Duration.ofSeconds(1)))) {
      for (String name : STABLE) {
        rt.load(name, export.resolve(name + ".onnx_adapter"));
      }
      port = server.port();
      base = URI.create(server.url());
      // the first call pays for the client's own start-up (classes, connection pool), not the server's
      http.send(HttpRequest.newBuilder(base.resolve("/health")).build(), HttpResponse.BodyHandlers.ofString());
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
      List<Thread> threads = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        long seed = i;
        threads.add(daemon("soak-predict-" + i, () -> predictLoop(new Random(seed), end)));
      }
      threads.add(daemon("soak-admin", () -> adminLoop(end)));
      threads.add(daemon("soak-health", () -> healthLoop(end)));
      threads.add(daemon("soak-stall", () -> stallLoop(end)));
      threads.add(daemon("soak-slow", () -> slowLoop(end)));
      threads.forEach(Thread::start);
      for (Thread t : threads) {
        t.join(TimeUnit.SECONDS.toMillis(seconds + 120));
        assertTrue(!t.isAlive(), t.getName() + " hung");
      }
      System.out.printf(Locale.ROOT,
          "server soak: %d s, %d requests, %d predictions checked, %d wrong answers, %d busy (503), "
              + "%d admin loads/unloads, %d stalled connections, %d slow clients served, "
              + "max /health latency %d ms over %d checks, %d adapters resident of %d loaded at the end%n",
          seconds, requests.get(), predictions.get(), wrong.size(), busy.get(), adminOps.get(), stalledOpened.get(),
          slowServed.get(), TimeUnit.NANOSECONDS.toMillis(maxHealthNanos.get()), healthChecks.get(),
          rt.adapters().stream().filter(AdapterInfo::resident).count(), rt.adapters().size());
    }
    assertEquals(List.of(), List.copyOf(wrong).subList(0, Math.min(5, wrong.size())), wrong.size() + " wrong answers");
    assertTrue(TimeUnit.NANOSECONDS.toMillis(maxHealthNanos.get()) < 1_000,
        "/health took " + TimeUnit.NANOSECONDS.toMillis(maxHealthNanos.get()) + " ms");
    assertTrue(predictions.get() >= 50, "only " + predictions.get() + " predictions were checked");
    assertTrue(adminOps.get() >= 4 && stalledOpened.get() >= 8 && slowServed.get() >= 1 && healthChecks.get() >= 10,
        "every kind of client ran");
  }

  private static Thread daemon(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  private HttpResponse<String> post(String path, String body, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(60))
        .header("Content-Type", "application/json");
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    requests.incrementAndGet();
    return http.send(b.method(path.startsWith("/adapters/") ? "PUT" : "POST",
        HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private void predictLoop(Random rnd, long end) {
    while (System.nanoTime() < end) {
      try {
        String a = STABLE.get(rnd.nextInt(STABLE.size()));
        String t1 = TEXTS.get(rnd.nextInt(TEXTS.size()));
        switch (rnd.nextInt(3)) {
          case 0 -> check(post("/predict", "{\"adapter\": \"" + a + "\", \"text\": " + q(t1) + "}"), List.of(a),
              List.of(t1), false);
          case 1 -> {
            String t2 = TEXTS.get(rnd.nextInt(TEXTS.size()));
            check(post("/predict", "{\"adapter\": \"" + a + "\", \"texts\": [" + q(t1) + ", " + q(t2) + "]}"),
                List.of(a, a), List.of(t1, t2), true);
          }
          default -> {
            String b = STABLE.get(rnd.nextInt(STABLE.size()));
            String t2 = TEXTS.get(rnd.nextInt(TEXTS.size()));
            check(post("/predict", "{\"requests\": [{\"adapter\": \"" + a + "\", \"text\": " + q(t1)
                + "}, {\"adapter\": \"" + b + "\", \"text\": " + q(t2) + "}]}"), List.of(a, b), List.of(t1, t2), true);
          }
        }
      } catch (Exception e) {
        wrong.add("predict client: " + e);
      }
    }
  }

  private void check(HttpResponse<String> r, List<String> adapters, List<String> texts, boolean list) throws IOException {
    if (r.statusCode() == 503) {
      busy.incrementAndGet();
      return;
    }
    if (r.statusCode() != 200) {
      wrong.add(r.statusCode() + " " + r.body());
      return;
    }
    JsonNode body = JSON.readTree(r.body());
    for (int i = 0; i < adapters.size(); i++) {
      JsonNode p = list ? body.get("predictions").get(i) : body;
      checkOne(p, adapters.get(i), adapters.get(i).equals("churn") ? "delta" : adapters.get(i), texts.get(i));
    }
  }

  private void checkOne(JsonNode p, String adapter, String file, String text) {
    predictions.incrementAndGet();
    float[] want = expected.get(file).get(text);
    JsonNode probs = p == null ? null : p.get("probabilities");
    if (probs == null || !adapter.equals(p.get("adapter").asText()) || probs.size() != want.length) {
      wrong.add(adapter + " '" + text + "': " + p);
      return;
    }
    for (int k = 0; k < want.length; k++) {
      double got = probs.get("label" + k).asDouble();
      if (!(Math.abs(got - want[k]) <= TOLERANCE)) {
        wrong.add(adapter + " '" + text + "': label" + k + " " + got + " != " + want[k]);
        return;
      }
    }
  }

  private void adminLoop(long end) {
    String auth = "Bearer " + TOKEN;
    while (System.nanoTime() < end) {
      try {
        expectOk(post("/adapters/churn", "{\"file\": \"delta.onnx_adapter\"}", "Authorization", auth));
        HttpResponse<String> r = post("/predict", "{\"adapter\": \"churn\", \"text\": " + q(TEXTS.get(3)) + "}");
        check(r, List.of("churn"), List.of(TEXTS.get(3)), false);
        requests.incrementAndGet();
        expectOk(http.send(HttpRequest.newBuilder(base.resolve("/adapters/churn")).DELETE()
            .header("Authorization", auth).build(), HttpResponse.BodyHandlers.ofString()));
        // replaces alpha under the predict clients' feet: their answers must not change
        expectOk(post("/adapters/alpha", "{}", "Authorization", auth));
      } catch (Exception e) {
        wrong.add("admin client: " + e);
      }
    }
  }

  private void expectOk(HttpResponse<String> r) {
    adminOps.incrementAndGet();
    if (r.statusCode() != 200) {
      wrong.add("admin " + r.request().method() + " " + r.uri().getPath() + ": " + r.statusCode() + " " + r.body());
    }
  }

  private void healthLoop(long end) {
    HttpRequest get = HttpRequest.newBuilder(base.resolve("/health")).timeout(Duration.ofSeconds(30)).build();
    while (System.nanoTime() < end) {
      try {
        long t = System.nanoTime();
        HttpResponse<String> r = http.send(get, HttpResponse.BodyHandlers.ofString());
        long took = System.nanoTime() - t;
        requests.incrementAndGet();
        healthChecks.incrementAndGet();
        maxHealthNanos.accumulateAndGet(took, Math::max);
        if (r.statusCode() != 200) {
          wrong.add("health: " + r.statusCode() + " " + r.body());
        }
        Thread.sleep(20);
      } catch (Exception e) {
        wrong.add("health client: " + e);
      }
    }
  }

  /** Eight clients that send headers and part of a body, then nothing; replaced every 1.5 s. */
  private void stallLoop(long end) {
    RawHttp raw = new RawHttp(port);
    List<Socket> open = new ArrayList<>();
    try {
      while (System.nanoTime() < end) {
        for (int i = 0; i < 8; i++) {
          open.add(i % 4 == 3 ? raw.stallInHeaders() : raw.stall());
          stalledOpened.incrementAndGet();
        }
        Thread.sleep(1_500);
        for (Socket s : open) {
          s.close();
        }
        open.clear();
      }
    } catch (Exception e) {
      wrong.add("stall client: " + e);
    } finally {
      for (Socket s : open) {
        try {
          s.close();
        } catch (IOException ignored) {
          // closing a socket the server already closed
        }
      }
    }
  }

  /** A client that sends its request in pieces with pauses, within the connection deadline. */
  private void slowLoop(long end) {
    String body = "{\"adapter\": \"beta\", \"text\": " + q(TEXTS.get(1)) + "}";
    String req = "POST /predict HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nContent-Type: application/json\r\n"
        + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\nConnection: close\r\n\r\n" + body;
    byte[] bytes = req.getBytes(StandardCharsets.UTF_8);
    while (System.nanoTime() < end) {
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
        s.setSoTimeout(60_000);
        OutputStream out = s.getOutputStream();
        int step = bytes.length / 4 + 1;
        for (int i = 0; i < bytes.length; i += step) {
          out.write(bytes, i, Math.min(step, bytes.length - i));
          out.flush();
          Thread.sleep(100);
        }
        RawHttp.Reply r = RawHttp.parse(s.getInputStream());
        requests.incrementAndGet();
        if (r.status() == 503) {
          busy.incrementAndGet();
        } else if (r.status() != 200) {
          wrong.add("slow client: " + r.status() + " " + r.text());
        } else {
          checkOne(r.json(), "beta", "beta", TEXTS.get(1));
          slowServed.incrementAndGet();
        }
      } catch (Exception e) {
        wrong.add("slow client: " + e);
      }
    }
  }

  private static String q(String s) {
    try {
      return JSON.writeValueAsString(s);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
