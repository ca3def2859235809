package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.runtime.RawHttp.Reply;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** The JSON server on loopback: every route, and a 4xx for each kind of bad request. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdapterServerTest {
  static final String TOKEN = "test-admin-token-0123456789";
  static final String AUTH = "Authorization: Bearer " + TOKEN;
  Path export;
  AdapterRuntime rt;
  AdapterServer server;
  RawHttp http;

  @BeforeAll
  void start(@TempDir Path tmp) throws Exception {
    export = TestExports.tinyExport(tmp);
    rt = AdapterRuntime.open(export, RuntimeOptions.defaults().withDevice(Device.CPU));
    server = AdapterServer.start(rt, ServerSettings.defaults().withPort(0).withMaxBatch(8).withMaxBody(4096)
        .withAdminToken(TOKEN).withAdapterDirs(List.of(export)));
    http = new RawHttp(server.port());
  }

  @AfterAll
  void stop() {
    server.close();
    rt.close();
  }

  @Test
  void servesTheWholeApi() throws Exception {
    Reply load = http.json("PUT", "/adapters/alpha", "{\"file\": \"alpha.onnx_adapter\"}", AUTH);
    assertEquals(200, load.status(), load.text());
    assertEquals("alpha", load.json().get("name").asText());
    assertEquals("alpha.onnx_adapter", load.json().get("source").asText(), "the source is shown without its directory");
    assertEquals(200, http.json("PUT", "/adapters/beta", "{}", AUTH).status(), "by name, from the export directory");

    Reply one = http.json("POST", "/predict", "{\"adapter\": \"alpha\", \"text\": \"a good movie\"}");
    assertEquals(200, one.status(), one.text());
    assertEquals(rt.predict("alpha", "a good movie").label(), one.json().get("label").asText());
    assertEquals(1.0, one.json().get("probabilities").get("label0").asDouble()
        + one.json().get("probabilities").get("label1").asDouble(), 1e-5);

    Reply batch = http.json("POST", "/predict", "{\"adapter\": \"alpha\", \"texts\": [\"dull\", \"fun\"]}");
    assertEquals(2, batch.json().get("predictions").size());
    Reply mixed = http.json("POST", "/predict",
        "{\"requests\": [{\"adapter\": \"alpha\", \"text\": \"dull\"}, {\"adapter\": \"beta\", \"text\": \"fun\"}]}");
    assertEquals(200, mixed.status(), mixed.text());
    assertEquals("beta", mixed.json().get("predictions").get(1).get("adapter").asText());

    Reply embed = http.json("POST", "/embed", "{\"texts\": [\"dull\"]}");
    assertEquals(32, embed.json().get("embeddings").get(0).size());
    assertEquals(2, http.call("GET", "/adapters").json().size());
    Reply health = http.call("GET", "/health");
    assertEquals("ok", health.json().get("status").asText());
    assertEquals("cpu", health.json().get("device").asText());
    Reply metrics = http.call("GET", "/metrics");
    assertTrue(metrics.json().get("requests").asLong() >= 6, metrics.text());
    assertTrue(metrics.json().get("latency_ms").has("p99"));

    assertEquals(200, http.call("DELETE", "/adapters/alpha", AUTH).status());
    assertEquals(200, http.call("DELETE", "/adapters/beta", AUTH).status());
    Reply gone = http.json("POST", "/predict", "{\"adapter\": \"alpha\", \"text\": \"dull\"}");
    assertEquals(404, gone.status());
    assertEquals("adapter 'alpha' is not loaded", gone.error());
  }

  @Test
  void badRequestsGetFourHundreds() throws Exception {
    assertEquals(400, http.json("POST", "/predict", "{not json").status());
    assertEquals(400, http.json("POST", "/predict", "[1, 2]").status());
    assertEquals("missing string field 'adapter'", http.json("POST", "/predict", "{\"text\": \"x\"}").error());
    assertEquals(404, http.json("POST", "/predict", "{\"adapter\": \"ghost\", \"text\": \"x\"}").status());
    Reply empty = http.json("POST", "/embed", "{\"texts\": [\"  \"]}");
    assertEquals(400, empty.status());
    assertEquals("text 0 is empty", empty.error());
    Reply tooMany = http.json("POST", "/embed", "{\"texts\": [\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]}");
    assertEquals(413, tooMany.status());
    assertEquals(413, http.json("POST", "/embed", "{\"texts\": [\"" + "x".repeat(5000) + "\"]}").status());
    assertEquals(405, http.call("GET", "/predict").status());
    assertEquals(404, http.call("GET", "/nowhere").status());
    Reply badName = http.json("PUT", "/adapters/x%2F..", "{}", AUTH);
    assertEquals(400, badName.status(), badName.text());
    assertEquals(200, http.call("GET", "/health").status(), "still serving");
  }
}
