package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.PeftAdapters;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.export.AdapterFiles;
import dev.lora4j.runtime.RawHttp.Reply;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The routes adapter-serving users expect (DJL Serving, vLLM): describe, pin / unpin, the
 * {@code __base__} name, and /metrics in Prometheus's text format. A fresh server per test, so
 * request counts in /metrics are exact.
 */
class ServingApiTest {
  static final String TOKEN = "serving-admin-token-0123456789";
  static final String AUTH = "Authorization: Bearer " + TOKEN;

  Path export;
  AdapterRuntime rt;
  AdapterServer server;
  RawHttp http;

  @BeforeEach
  void start(@TempDir Path tmp) throws Exception {
    export = TestExports.tinyExport(tmp);
    rt = AdapterRuntime.open(export, RuntimeOptions.defaults().withDevice(Device.CPU));
    rt.load("alpha", export.resolve("alpha.onnx_adapter"));
    server = AdapterServer.start(rt, ServerSettings.defaults().withPort(0).withAdminToken(TOKEN)
        .withAdapterDirs(List.of(export)));
    http = new RawHttp(server.port());
  }

  @AfterEach
  void stop() {
    server.close();
    rt.close();
  }

  @Test
  void describeAnswersWithoutTheTokenAndLoadsNothing() throws Exception {
    var before = rt.residency();
    Reply r = http.call("GET", "/adapters/alpha");
    assertEquals(200, r.status(), r.text());
    JsonNode d = r.json();
    assertEquals("alpha", d.get("name").asText());
    assertEquals("alpha.onnx_adapter", d.get("source").asText());
    assertTrue(d.get("resident").asBoolean());
    assertFalse(d.get("pinned").asBoolean());
    assertEquals(8, d.get("ranks").get("encoder.layer.0.attention.self.query").asInt());
    assertEquals("tiny", d.get("base").get("id").asText());
    assertEquals(rt.describe("alpha").base().onnxSha256(), d.get("base").get("onnx_sha256").asText());
    assertEquals(64, d.get("base").get("onnx_sha256").asText().length());
    assertEquals("lora", d.get("provenance").get("method").asText());
    assertEquals(before, rt.residency(), "describing touched the registry");
    Reply ghost = http.call("GET", "/adapters/beta");
    assertEquals(404, ghost.status());
    assertEquals("adapter 'beta' is not loaded", ghost.error());
    assertFalse(rt.adapters().stream().anyMatch(i -> i.name().equals("beta")), "a GET never loads");
  }

  @Test
  void describeShowsRecordedHyperParametersWithPathsCutToFileNames(@TempDir Path tmp) throws Exception {
    Adapter alpha = AdapterFiles.read(export.resolve("alpha.onnx_adapter"));
    Map<String, Object> hyper = new LinkedHashMap<>();
    hyper.put("rank", 8);
    hyper.put("train", "/home/someone/data/sst2/train.tsv");
    Provenance made = new Provenance("sora", hyper, Map.of(), 7, Map.of("dev_accuracy", 0.91),
        "2026-01-02T03:04:05Z", "lora4j 0.1.0");
    Path peft = tmp.resolve("traced");
    PeftAdapters.write(new Adapter("traced", alpha.base(), alpha.modules(), alpha.head(), made), peft);
    rt.load("traced", peft);
    Reply r = http.call("GET", "/adapters/traced");
    assertEquals(200, r.status(), r.text());
    JsonNode p = r.json().get("provenance");
    assertEquals("sora", p.get("method").asText());
    assertEquals(8, p.get("hyper_parameters").get("rank").asInt());
    assertEquals("train.tsv", p.get("hyper_parameters").get("train").asText(), "no path of the training machine");
    assertEquals(7, p.get("seed").asLong());
    assertEquals(0.91, p.get("metrics").get("dev_accuracy").asDouble(), 0);
    assertEquals("2026-01-02T03:04:05Z", p.get("created").asText());
    assertEquals("lora4j 0.1.0", p.get("tool").asText());
    ServerSecurityTest.assertNoLeak(r);
  }

  @Test
  void pinAndUnpinNeedTheAdminToken() throws Exception {
    assertEquals(401, http.call("PUT", "/adapters/alpha/pin").status());
    assertEquals(401, http.call("DELETE", "/adapters/alpha/pin").status());
    assertFalse(rt.describe("alpha").pinned());
    Reply pin = http.call("PUT", "/adapters/alpha/pin", AUTH);
    assertEquals(200, pin.status(), pin.text());
    assertTrue(pin.json().get("pinned").asBoolean());
    assertTrue(rt.describe("alpha").pinned());
    assertTrue(http.call("GET", "/adapters/alpha").json().get("pinned").asBoolean());
    assertEquals(404, http.call("PUT", "/adapters/ghost/pin", AUTH).status());
    assertEquals(405, http.call("GET", "/adapters/alpha/pin").status());
    Reply unpin = http.call("DELETE", "/adapters/alpha/pin", AUTH);
    assertEquals(200, unpin.status(), unpin.text());
    assertTrue(unpin.json().get("was_pinned").asBoolean());
    assertFalse(rt.describe("alpha").pinned());
  }

  @Test
  void baseHasNoClassifierButEmbeds() throws Exception {
    Reply predict = http.json("POST", "/predict", "{\"adapter\": \"__base__\", \"text\": \"fun\"}");
    assertEquals(400, predict.status());
    assertEquals("__base__ has no classifier; use /embed", predict.error());
    Reply mixed = http.json("POST", "/predict",
        "{\"requests\": [{\"adapter\": \"alpha\", \"text\": \"a\"}, {\"adapter\": \"__base__\", \"text\": \"b\"}]}");
    assertEquals(400, mixed.status());
    assertEquals("__base__ has no classifier; use /embed", mixed.error());
    Reply embed = http.json("POST", "/embed", "{\"adapter\": \"__base__\", \"texts\": [\"fun\"]}");
    assertEquals(200, embed.status(), embed.text());
    float[] want = rt.embed(null, List.of("fun")).get(0);
    JsonNode got = embed.json().get("embeddings").get(0);
    assertEquals(want.length, got.size());
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i], got.get(i).floatValue(), 0f, "the JSON float round-trips exactly");
    }
    Reply reserved = http.json("PUT", "/adapters/__base__", "{\"file\": \"beta.onnx_adapter\"}", AUTH);
    assertEquals(400, reserved.status());
    assertEquals("'__base__' is reserved for the plain base model (no adapter)", reserved.error());
  }

  @Test
  void metricsAreValidPrometheusTextWithExactCounts() throws Exception {
    assertEquals(200, http.json("POST", "/predict", "{\"adapter\": \"alpha\", \"text\": \"fun\"}").status());
    assertEquals(200, http.json("POST", "/predict", "{\"adapter\": \"alpha\", \"texts\": [\"a\", \"b\"]}").status());
    assertEquals(404, http.json("POST", "/predict", "{\"adapter\": \"ghost\", \"text\": \"fun\"}").status());
    assertEquals(200, http.call("PUT", "/adapters/alpha/pin", AUTH).status());
    assertEquals(404, http.call("GET", "/nowhere/secret-name").status());

    Reply json = http.call("GET", "/metrics");
    assertEquals("application/json; charset=utf-8", json.headers().get("content-type"), "JSON stays the default");
    assertEquals(1, json.json().get("adapters_pinned").asInt());

    Reply byQuery = http.call("GET", "/metrics?format=prometheus");
    assertEquals(200, byQuery.status());
    assertEquals("text/plain; version=0.0.4; charset=utf-8", byQuery.headers().get("content-type"));
    assertEquals(400, http.call("GET", "/metrics?format=xml").status());
    assertEquals("application/json; charset=utf-8", http.call("GET", "/metrics",
        "Accept: application/json, text/plain, */*").headers().get("content-type"), "a client that takes JSON gets it");
    Reply scraper = http.call("GET", "/metrics",
        "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1");
    assertEquals("text/plain; version=0.0.4; charset=utf-8", scraper.headers().get("content-type"));

    Map<String, Double> m = parse(scraper.text());
    assertEquals(2.0, m.get("lora4j_http_requests_total{route=\"/predict\",status=\"200\"}"));
    assertEquals(1.0, m.get("lora4j_http_requests_total{route=\"/predict\",status=\"404\"}"));
    assertEquals(1.0, m.get("lora4j_http_requests_total{route=\"/adapters/{name}/pin\",status=\"200\"}"));
    assertEquals(1.0, m.get("lora4j_http_requests_total{route=\"other\",status=\"404\"}"), "unknown paths fold");
    assertEquals(3.0, m.get("lora4j_http_requests_total{route=\"/metrics\",status=\"200\"}"),
        "the JSON ones and ?format=prometheus; the scrape being answered is counted after it");
    assertEquals(1.0, m.get("lora4j_http_requests_total{route=\"/metrics\",status=\"400\"}"));
    assertEquals(3.0, m.get("lora4j_http_request_duration_seconds_count{route=\"/predict\"}"));
    assertEquals(3.0, m.get("lora4j_http_request_duration_seconds_bucket{route=\"/predict\",le=\"+Inf\"}"));
    assertEquals(1.0, m.get("lora4j_adapters_loaded"));
    assertEquals(1.0, m.get("lora4j_adapters_resident"));
    assertEquals(1.0, m.get("lora4j_adapters_pinned"));
    assertEquals((double) rt.describe("alpha").info().bytes(), m.get("lora4j_adapter_bytes_resident"));
    assertEquals((double) RuntimeOptions.defaults().adapterBudgetBytes(), m.get("lora4j_adapter_budget_bytes"));
    assertEquals(0.0, m.get("lora4j_adapter_evictions_total"));
    assertFalse(scraper.text().contains("secret-name"), "a client's path never becomes a label");
  }

  @Test
  void labelValuesAndHelpAreEscapedAsTheFormatRequires() {
    assertEquals("a\\\\b\\\"c\\nd", PrometheusText.escapeLabel("a\\b\"c\nd"));
    assertEquals("say \"x\" \\\\ y\\nz", PrometheusText.escapeHelp("say \"x\" \\ y\nz"));
    String text = new PrometheusText().family("lora4j_x_total", "counter", "x")
        .sample("lora4j_x_total", 3, "route", "/a\"b\\c\nd").toString();
    assertEquals("# HELP lora4j_x_total x\n# TYPE lora4j_x_total counter\nlora4j_x_total{route=\"/a\\\"b\\\\c\\nd\"} 3\n",
        text);
    assertEquals(3.0, parse(text).get("lora4j_x_total{route=\"/a\\\"b\\\\c\\nd\"}"));
    assertEquals("0.0025", PrometheusText.number(0.0025));
    assertEquals("1.0e-4", PrometheusText.number(1e-4));
    assertEquals("+Inf", PrometheusText.number(Double.POSITIVE_INFINITY));
  }

  // ---- a strict parser of the text exposition format (0.0.4), written from its specification ----

  static final Pattern HELP = Pattern.compile("# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)");
  static final Pattern TYPE = Pattern.compile("# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)");
  static final Pattern SAMPLE = Pattern.compile(
      "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(?:[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\""
          + "(?:,[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\")*)?\\})? "
          + "([-+]?(?:[0-9]+(?:\\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|Inf|NaN))");

  /**
   * Series (name plus labels as written) to value. Fails on any line that is not HELP, TYPE or a
   * sample; on a family typed twice, or whose samples come before its TYPE or after another family
   * began; on a repeated series; on a histogram whose buckets are not cumulative, lack +Inf, or
   * disagree with its count.
   */
  static Map<String, Double> parse(String text) {
    assertTrue(text.endsWith("\n"), "the last line ends with a line feed");
    Map<String, Double> series = new LinkedHashMap<>();
    Map<String, String> types = new HashMap<>();
    Set<String> helped = new HashSet<>();
    Set<String> closed = new HashSet<>();
    String current = null;
    Map<String, List<double[]>> buckets = new LinkedHashMap<>(); // histogram labels -> (le, count)
    for (String line : text.split("\n", -1)) {
      if (line.isEmpty()) {
        continue;
      }
      Matcher h = HELP.matcher(line);
      Matcher t = TYPE.matcher(line);
      Matcher s = SAMPLE.matcher(line);
      if (h.matches()) {
        assertTrue(helped.add(h.group(1)), "HELP twice: " + line);
      } else if (t.matches()) {
        String family = t.group(1);
        assertFalse(types.containsKey(family), "TYPE twice: " + line);
        assertTrue(helped.contains(family), "HELP before TYPE: " + line);
        assertTrue(family.startsWith("lora4j_"), line);
        types.put(family, t.group(2));
        if (current != null) {
          closed.add(current);
        }
        current = family;
      } else if (s.matches()) {
        String name = s.group(1);
        String family = family(name, types);
        assertEquals(current, family, "a sample outside its family's block: " + line);
        assertFalse(closed.contains(family), line);
        String key = name + (s.group(2) == null ? "" : s.group(2));
        double v = s.group(3).endsWith("Inf") ? (s.group(3).startsWith("-") ? Double.NEGATIVE_INFINITY
            : Double.POSITIVE_INFINITY) : Double.parseDouble(s.group(3));
        assertFalse(series.containsKey(key), "repeated series: " + line);
        series.put(key, v);
        if (types.get(family).equals("counter")) {
          assertTrue(name.endsWith("_total") && v >= 0, "counters end in _total and never go negative: " + line);
        }
        if (name.endsWith("_bucket")) {
          Matcher le = Pattern.compile(",?le=\"([^\"]*)\"").matcher(s.group(2));
          assertTrue(le.find(), "a bucket without le: " + line);
          String rest = new StringBuilder(s.group(2)).delete(le.start(), le.end()).toString();
          double bound = le.group(1).equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(le.group(1));
          buckets.computeIfAbsent(family + rest, k -> new ArrayList<>()).add(new double[] {bound, v});
        }
      } else {
        throw new AssertionError("not a line of the text format: '" + line + "'");
      }
    }
    buckets.forEach((k, bs) -> {
      for (int i = 1; i < bs.size(); i++) {
        assertTrue(bs.get(i)[0] > bs.get(i - 1)[0] && bs.get(i)[1] >= bs.get(i - 1)[1], "buckets of " + k);
      }
      double[] last = bs.get(bs.size() - 1);
      assertEquals(Double.POSITIVE_INFINITY, last[0], "the last bucket of " + k + " is +Inf");
      String family = k.substring(0, k.indexOf('{'));
      String labels = k.substring(k.indexOf('{')).replace("{}", "");
      assertEquals(last[1], series.get(family + "_count" + labels), "+Inf bucket equals the count for " + k);
      assertTrue(series.containsKey(family + "_sum" + labels), "no sum for " + k);
    });
    return series;
  }

  /** The family a sample belongs to: histogram samples carry _bucket, _sum or _count after it. */
  private static String family(String name, Map<String, String> types) {
    if (types.containsKey(name)) {
      return name;
    }
    for (String suffix : List.of("_bucket", "_sum", "_count")) {
      if (name.endsWith(suffix)) {
        String f = name.substring(0, name.length() - suffix.length());
        if ("histogram".equals(types.get(f)) || "summary".equals(types.get(f))) {
          return f;
        }
      }
    }
    throw new AssertionError("sample " + name + " has no TYPE line before it");
  }
}
