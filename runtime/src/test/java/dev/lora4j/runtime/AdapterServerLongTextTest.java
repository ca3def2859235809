package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.models.testing.TinyBert;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12: a text far beyond the model's maximum length, sent to the server, is truncated and
 * answered like the same text through the library (the server's handler threads do no native work
 * themselves).
 */
class AdapterServerLongTextTest {
  @Test
  void aTextBeyondTheMaximumLengthIsAnsweredOverHttp(@TempDir Path tmp) throws Exception {
    Path export = TestExports.tinyExport(tmp);
    RuntimeOptions o = RuntimeOptions.defaults().withDevice(Device.CPU);
    RuntimeOptions options = new RuntimeOptions(o.session(), o.adapterBudgetBytes(), TinyBert.MAX_POSITIONS,
        o.maxTextChars(), o.maxBatch(), o.batchWindow(), o.batchRows(), o.queueCapacity());
    String text = "a good movie but the plot is dull ".repeat(250).strip(); // 8,499 chars, ~2,000 words
    try (AdapterRuntime rt = AdapterRuntime.open(export, options)) {
      rt.load("alpha");
      Prediction expected = rt.predict("alpha", text);
      try (AdapterServer server = AdapterServer.start(rt, ServerSettings.defaults().withPort(0))) {
        ObjectMapper json = new ObjectMapper();
        String body = json.writeValueAsString(json.createObjectNode().put("adapter", "alpha").put("text", text));
        HttpRequest req = HttpRequest.newBuilder(URI.create(server.url() + "/predict"))
            .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        HttpResponse<String> r = HttpClient.newHttpClient().send(req, HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        JsonNode n = json.readTree(r.body());
        assertEquals(expected.label(), n.get("label").asText());
        for (int i = 0; i < expected.labels().size(); i++) {
          // the server answers single texts through the micro-batcher (mixed-batch graph), the
          // library call above used the multi-adapter graph: same maths, other float order
          assertEquals(expected.probabilities()[i], n.get("probabilities").get(expected.labels().get(i)).asDouble(),
              1e-4);
        }
      }
    }
  }
}
