package dev.lora4j.runtime.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Device;
import dev.lora4j.runtime.RuntimeOptions;
import dev.lora4j.runtime.TestExports;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** The JSON server on loopback: every route, and a 4xx for each kind of bad request. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdapterServerTest {
  static final ObjectMapper JSON = new ObjectMapper();
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  Path export;
  AdapterRuntime rt;
  AdapterServer server;

  record Reply(int status, JsonNode body) {}

  @BeforeAll
  void start(@TempDir Path tmp) throws Exception {
    export = TestExports.tinyExport(tmp);
    rt = AdapterRuntime.open(export, RuntimeOptions.defaults().withDevice(Device.CPU));
    server = AdapterServer.start(rt, ServerSettings.defaults().withPort(0).withMaxBatch(8).withMaxBody(4096));
  }

  @AfterAll
  void stop() {
    server.close();
    rt.close();
  }

  Reply call(String method, String path, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url() + path)).timeout(Duration.ofSeconds(30));
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    return new Reply(r.statusCode(), JSON.readTree(r.body()));
  }

  @Test
  void servesTheWholeApi() throws Exception {
    String file = JSON.writeValueAsString(export.resolve(ExportLayout.onnxAdapter("alpha")).toString());
    Reply load = call("PUT", "/adapters/alpha", "{\"path\": " + file + "}");
    assertEquals(200, load.status(), load.body().toString());
    assertEquals("alpha", load.body().get("name").asText());

    Reply one = call("POST", "/predict", "{\"adapter\": \"alpha\", \"text\": \"a good movie\"}");
    assertEquals(200, one.status(), one.body().toString());
    assertEquals(rt.predict("alpha", "a good movie").label(), one.body().get("label").asText());
    assertEquals(1.0, one.body().get("probabilities").get("label0").asDouble()
        + one.body().get("probabilities").get("label1").asDouble(), 1e-5);

    Reply batch = call("POST", "/predict", "{\"adapter\": \"alpha\", \"texts\": [\"dull\", \"fun\"]}");
    assertEquals(2, batch.body().get("predictions").size());
    Reply mixed = call("POST", "/predict",
        "{\"requests\": [{\"adapter\": \"alpha\", \"text\": \"dull\"}, {\"adapter\": \"alpha\", \"text\": \"fun\"}]}");
    assertEquals(200, mixed.status(), mixed.body().toString());

    Reply embed = call("POST", "/embed", "{\"texts\": [\"dull\"]}");
    assertEquals(32, embed.body().get("embeddings").get(0).size());
    assertEquals(1, call("GET", "/adapters", null).body().size());
    Reply health = call("GET", "/health", null);
    assertEquals("ok", health.body().get("status").asText());
    assertEquals("cpu", health.body().get("device").asText());
    Reply metrics = call("GET", "/metrics", null);
    assertTrue(metrics.body().get("requests").asLong() >= 6, metrics.body().toString());
    assertTrue(metrics.body().get("latency_ms").has("p99"));

    assertEquals(200, call("DELETE", "/adapters/alpha", null).status());
    Reply gone = call("POST", "/predict", "{\"adapter\": \"alpha\", \"text\": \"dull\"}");
    assertEquals(404, gone.status());
    assertEquals("adapter 'alpha' is not loaded", gone.body().get("error").asText());
  }

  @Test
  void badRequestsGetFourHundreds() throws Exception {
    assertEquals(400, call("POST", "/predict", "{not json").status());
    assertEquals(400, call("POST", "/predict", "[1, 2]").status());
    assertEquals("missing string field 'adapter'", call("POST", "/predict", "{\"text\": \"x\"}").body().get("error").asText());
    assertEquals(404, call("POST", "/predict", "{\"adapter\": \"ghost\", \"text\": \"x\"}").status());
    Reply empty = call("POST", "/embed", "{\"texts\": [\"  \"]}");
    assertEquals(400, empty.status());
    assertEquals("text 0 is empty", empty.body().get("error").asText());
    Reply tooMany = call("POST", "/embed", "{\"texts\": [\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]}");
    assertEquals(413, tooMany.status());
    assertEquals(413, call("POST", "/embed", "{\"texts\": [\"" + "x".repeat(5000) + "\"]}").status());
    assertEquals(405, call("GET", "/predict", null).status());
    assertEquals(404, call("GET", "/nowhere", null).status());
    Reply badFile = call("PUT", "/adapters/x", "{\"path\": \"/nonexistent/x.onnx_adapter\"}");
    assertEquals(400, badFile.status());
    assertEquals("/nonexistent/x.onnx_adapter: no such adapter file", badFile.body().get("error").asText());
    assertEquals(200, call("GET", "/health", null).status(), "still serving");
  }
}
