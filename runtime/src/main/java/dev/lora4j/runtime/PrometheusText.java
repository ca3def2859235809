package dev.lora4j.runtime;

import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Writes Prometheus's text exposition format (version 0.0.4): each metric family once, its HELP and
 * TYPE lines before its samples, label values escaped. Names are checked here so that a typo in a
 * metric name fails the first scrape in a test, not a dashboard later.
 */
final class PrometheusText {
  static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
  private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
  private static final Pattern LABEL = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");

  private final StringBuilder out = new StringBuilder();
  private final Set<String> families = new HashSet<>();

  /** Starts a family; {@code type} is counter, gauge, histogram or summary. */
  PrometheusText family(String name, String type, String help) {
    if (!NAME.matcher(name).matches() || !families.add(name)) {
      throw new IllegalArgumentException("bad or repeated metric name " + name);
    }
    out.append("# HELP ").append(name).append(' ').append(escapeHelp(help)).append('\n');
    out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    return this;
  }

  /** One sample; {@code labels} alternate name, value. */
  PrometheusText sample(String name, double value, String... labels) {
    out.append(name);
    if (labels.length > 0) {
      out.append('{');
      for (int i = 0; i < labels.length; i += 2) {
        if (!LABEL.matcher(labels[i]).matches()) {
          throw new IllegalArgumentException("bad label name " + labels[i]);
        }
        out.append(i == 0 ? "" : ",").append(labels[i]).append("=\"").append(escapeLabel(labels[i + 1])).append('"');
      }
      out.append('}');
    }
    return this.append(' ').append(number(value)).append('\n');
  }

  private PrometheusText append(Object o) {
    out.append(o);
    return this;
  }

  /** Integers without a fraction (counts, bytes), others in Java's shortest round-trip form. */
  static String number(double v) {
    if (Double.isNaN(v)) {
      return "NaN";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "+Inf" : "-Inf";
    }
    if (v == Math.rint(v) && Math.abs(v) < 1e15) {
      return Long.toString((long) v);
    }
    return Double.toString(v).toLowerCase(Locale.ROOT); // 1.0E-4 -> 1.0e-4, which Prometheus parses
  }

  /** Label values: backslash, double quote and line feed are escaped. */
  static String escapeLabel(String v) {
    return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }

  /** HELP text: backslash and line feed are escaped (quotes are not). */
  static String escapeHelp(String v) {
    return v.replace("\\", "\\\\").replace("\n", "\\n");
  }

  @Override
  public String toString() {
    return out.toString();
  }
}
