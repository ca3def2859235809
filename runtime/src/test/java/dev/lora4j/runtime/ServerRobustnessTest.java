package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.runtime.RawHttp.Reply;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** Stalled and slow clients, a full queue, a late answer, and listings that must not load. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ServerRobustnessTest {
  static final String PREDICT = "{\"adapter\": \"alpha\", \"text\": \"a good movie\"}";
  Path export;
  AdapterRuntime rt;

  @BeforeAll
  void open(@TempDir Path tmp) throws Exception {
    export = TestExports.tinyExport(tmp);
    rt = AdapterRuntime.open(export, RuntimeOptions.defaults().withDevice(Device.CPU));
    rt.load("alpha", export.resolve("alpha.onnx_adapter"));
  }

  @AfterAll
  void close() {
    rt.close();
  }

  ServerSettings settings() {
    return ServerSettings.defaults().withPort(0).withAdapterDirs(List.of(export));
  }

  static long millis(long startNanos) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
  }

  @Test
  void stalledClientsDoNotBlockHealthNorPredict() throws Exception {
    // eight threads used to serve everything: eight stalled bodies took them all
    try (AdapterServer server = AdapterServer.start(rt, settings().withIo(32, Duration.ofSeconds(30)))) {
      RawHttp http = new RawHttp(server.port());
      List<Socket> stalled = new ArrayList<>();
      try {
        for (int i = 0; i < 12; i++) {
          stalled.add(http.stall());
        }
        stalled.add(http.stallInHeaders());
        stalled.add(http.stallInHeaders());
        Thread.sleep(200); // let the server take them all up
        for (int i = 0; i < 3; i++) {
          long t = System.nanoTime();
          Reply health = http.call("GET", "/health");
          assertEquals(200, health.status());
          assertTrue(millis(t) < 1_000, "/health took " + millis(t) + " ms behind stalled clients");
        }
        Reply p = http.json("POST", "/predict", PREDICT);
        assertEquals(200, p.status(), p.text());
        assertEquals(rt.predict("alpha", "a good movie").label(), p.json().get("label").asText());
      } finally {
        for (Socket s : stalled) {
          s.close();
        }
      }
    }
  }

  @Test
  void stalledClientsAreCutOffAtTheConnectionDeadline() throws Exception {
    // two connection threads, both taken by stalled clients: only the deadline frees them
    try (AdapterServer server = AdapterServer.start(rt, settings().withIo(2, Duration.ofMillis(300)))) {
      RawHttp http = new RawHttp(server.port());
      try (Socket body = http.stall(); Socket head = http.stallInHeaders()) {
        long t = System.nanoTime();
        assertTrue(RawHttp.closedByServer(body, 3_000), "a stalled body is cut off");
        assertTrue(RawHttp.closedByServer(head, 3_000), "stalled headers are cut off");
        assertTrue(millis(t) < 2_000, "cut off after " + millis(t) + " ms with a 300 ms deadline");
        assertEquals(200, http.call("GET", "/health").status());
        assertEquals(200, http.json("POST", "/predict", PREDICT).status());
      }
    }
  }

  @Test
  void aFullQueueAnswers503WithRetryAfter() throws Exception {
    try (AdapterServer server = AdapterServer.start(rt, settings().withWork(Duration.ofSeconds(30), 1, 1))) {
      RawHttp http = new RawHttp(server.port());
      CountDownLatch release = new CountDownLatch(1);
      Future<?> running = server.workPool().submit(() -> {
        release.await();
        return null;
      });
      Future<?> queued = server.workPool().submit(() -> {
        release.await();
        return null;
      });
      try {
        long t = System.nanoTime();
        Reply busy = http.json("POST", "/predict", "{\"adapter\": \"alpha\", \"texts\": [\"fun\"]}");
        assertEquals(503, busy.status(), busy.text());
        assertEquals("1", busy.headers().get("retry-after"));
        assertTrue(millis(t) < 1_000, "refused at once, not after waiting");
        assertEquals(200, http.call("GET", "/health").status(), "health does not queue behind work");
      } finally {
        release.countDown();
      }
      running.get();
      queued.get();
      assertEquals(200, http.json("POST", "/predict", "{\"adapter\": \"alpha\", \"texts\": [\"fun\"]}").status());
    }
  }

  @Test
  void aRequestPastItsDeadlineAnswers503() throws Exception {
    try (AdapterServer server = AdapterServer.start(rt, settings().withWork(Duration.ofMillis(300), 1, 8))) {
      RawHttp http = new RawHttp(server.port());
      CountDownLatch release = new CountDownLatch(1);
      Future<?> running = server.workPool().submit(() -> {
        release.await();
        return null;
      });
      try {
        for (String body : new String[] {"{\"adapter\": \"alpha\", \"texts\": [\"fun\"]}",
            "{\"requests\": [{\"adapter\": \"alpha\", \"text\": \"fun\"}]}", "{\"texts\": [\"fun\"]}"}) {
          long t = System.nanoTime();
          Reply late = http.json("POST", body.contains("adapter") ? "/predict" : "/embed", body);
          assertEquals(503, late.status(), body + ": " + late.text());
          assertEquals("1", late.headers().get("retry-after"));
          assertTrue(millis(t) < 5_000, "answered after " + millis(t) + " ms with a 300 ms deadline");
        }
        assertEquals(0, server.workPool().getQueue().size(), "timed-out requests left the queue");
      } finally {
        release.countDown();
      }
      running.get();
    }
  }

  @Test
  void readOnlyRoutesDoNotLoadAnEvictedAdapter() throws Exception {
    // a 1-byte budget keeps only the adapter loaded last resident
    try (AdapterRuntime small = AdapterRuntime.open(export,
            RuntimeOptions.defaults().withDevice(Device.CPU).withAdapterBudget(1));
        AdapterServer server = AdapterServer.start(small, settings())) {
      small.load("beta", export.resolve("beta.onnx_adapter"));
      small.load("alpha", export.resolve("alpha.onnx_adapter"));
      assertEquals(Map.of("alpha", true, "beta", false), residency(small.adapters()));
      RawHttp http = new RawHttp(server.port());
      for (int i = 0; i < 3; i++) {
        assertEquals(200, http.call("GET", "/health").status());
        assertEquals(200, http.call("GET", "/metrics").status());
        Reply list = http.call("GET", "/adapters");
        assertEquals(2, list.json().size());
        assertFalse(list.json().get(1).get("resident").asBoolean(), "beta is listed as evicted: " + list.text());
        assertEquals(3, list.json().get(1).get("labels").size(), "its labels are still known: " + list.text());
      }
      assertEquals(Map.of("alpha", true, "beta", false), residency(small.adapters()),
          "listing neither reloaded beta nor evicted alpha");
      assertEquals(1, http.call("GET", "/metrics").json().get("adapters_resident").asInt());
    }
  }

  @Test
  void unloadingAnEvictedAdapterSucceeds() throws Exception {
    // an evicted adapter is still loaded (it reloads on its next request): DELETE must forget it
    String token = "robustness-admin-token-0123";
    try (AdapterRuntime small = AdapterRuntime.open(export,
            RuntimeOptions.defaults().withDevice(Device.CPU).withAdapterBudget(1));
        AdapterServer server = AdapterServer.start(small, settings().withAdminToken(token))) {
      small.load("beta", export.resolve("beta.onnx_adapter"));
      small.load("alpha", export.resolve("alpha.onnx_adapter"));
      Reply r = new RawHttp(server.port()).call("DELETE", "/adapters/beta", "Authorization: Bearer " + token);
      assertEquals(200, r.status(), r.text());
      assertEquals(Map.of("alpha", true), residency(small.adapters()));
    }
  }

  static Map<String, Boolean> residency(List<AdapterInfo> infos) {
    return infos.stream().collect(Collectors.toMap(AdapterInfo::name, AdapterInfo::resident));
  }
}
