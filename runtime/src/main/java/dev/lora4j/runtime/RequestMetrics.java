package dev.lora4j.runtime;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Requests answered, by route and status, and a latency histogram per route, for the Prometheus
 * view of /metrics. Routes are the server's fixed endpoints (adapter names folded into
 * {@code {name}}, unknown paths into "other"), so a client cannot grow the number of series.
 */
final class RequestMetrics {
  /** Bucket upper bounds in seconds: from a cached listing (sub-ms) to the default 30 s deadline. */
  static final double[] BUCKETS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

  private record Key(String route, int status) {}

  private static final class Histogram {
    final LongAdder[] counts = new LongAdder[BUCKETS.length + 1]; // the last one: above every bound
    final LongAdder nanos = new LongAdder();

    Histogram() {
      for (int i = 0; i < counts.length; i++) {
        counts[i] = new LongAdder();
      }
    }
  }

  private final Map<Key, LongAdder> requests = new ConcurrentHashMap<>();
  private final Map<String, Histogram> latency = new ConcurrentHashMap<>();

  /** The route label of a request path. */
  static String route(String path) {
    if (path == null) {
      return "other";
    }
    return switch (path) {
      case "/health", "/metrics", "/adapters", "/predict", "/embed" -> path;
      default -> !path.startsWith("/adapters/") ? "other"
          : path.endsWith("/pin") ? "/adapters/{name}/pin" : "/adapters/{name}";
    };
  }

  void record(String route, int status, long nanos) {
    requests.computeIfAbsent(new Key(route, status), k -> new LongAdder()).increment();
    Histogram h = latency.computeIfAbsent(route, k -> new Histogram());
    double s = nanos / 1e9;
    int b = 0;
    while (b < BUCKETS.length && s > BUCKETS[b]) {
      b++;
    }
    h.counts[b].increment();
    h.nanos.add(nanos);
  }

  /** Writes both families, series sorted so that scrapes compare line by line. */
  void write(PrometheusText out) {
    out.family("lora4j_http_requests_total", "counter", "HTTP requests answered, by route and status code.");
    Map<Key, LongAdder> sorted = new TreeMap<>((a, b) -> a.route().equals(b.route())
        ? Integer.compare(a.status(), b.status()) : a.route().compareTo(b.route()));
    sorted.putAll(requests);
    sorted.forEach((k, n) -> out.sample("lora4j_http_requests_total", n.sum(), "route", k.route(), "status",
        Integer.toString(k.status())));
    out.family("lora4j_http_request_duration_seconds", "histogram",
        "Time from a request's arrival to its answer being ready, by route.");
    new TreeMap<>(latency).forEach((route, h) -> {
      long cumulative = 0;
      for (int i = 0; i < h.counts.length; i++) {
        cumulative += h.counts[i].sum();
        String le = i < BUCKETS.length ? PrometheusText.number(BUCKETS[i]) : "+Inf";
        out.sample("lora4j_http_request_duration_seconds_bucket", cumulative, "route", route, "le", le);
      }
      out.sample("lora4j_http_request_duration_seconds_sum", h.nanos.sum() / 1e9, "route", route);
      // the count is the +Inf bucket as read above, so the two agree even while requests arrive
      out.sample("lora4j_http_request_duration_seconds_count", cumulative, "route", route);
    });
  }
}
