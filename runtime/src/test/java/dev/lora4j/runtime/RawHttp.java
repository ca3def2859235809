package dev.lora4j.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * HTTP/1.1 over a plain socket, one request per connection: tests need headers a browser or an
 * attacker sends (Host, Origin, any Content-Type) that java.net.http will not let them set.
 */
final class RawHttp {
  static final ObjectMapper JSON = new ObjectMapper();

  record Reply(int status, Map<String, String> headers, String text) {
    JsonNode json() {
      try {
        return JSON.readTree(text);
      } catch (IOException e) {
        throw new AssertionError("not JSON: " + text, e);
      }
    }

    String error() {
      return json().path("error").asText();
    }
  }

  private final int port;
  private final Map<String, String> defaults = new LinkedHashMap<>();

  RawHttp(int port) {
    this.port = port;
    defaults.put("Host", "127.0.0.1:" + port);
  }

  /** A GET or DELETE with the default headers plus {@code extra} ("Name: value" lines). */
  Reply call(String method, String path, String... extra) throws IOException {
    return send(method, path, null, extra);
  }

  /** A request with a JSON body. */
  Reply json(String method, String path, String body, String... extra) throws IOException {
    String[] all = new String[extra.length + 1];
    all[0] = "Content-Type: application/json";
    System.arraycopy(extra, 0, all, 1, extra.length);
    return send(method, path, body, all);
  }

  /** Any request; a header in {@code extra} replaces the default of the same name. */
  Reply send(String method, String path, String body, String... extra) throws IOException {
    Map<String, String> h = new LinkedHashMap<>(defaults);
    for (String line : extra) {
      int c = line.indexOf(':');
      String name = line.substring(0, c).trim();
      h.keySet().removeIf(k -> k.equalsIgnoreCase(name));
      h.put(name, line.substring(c + 1).trim());
    }
    byte[] payload = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
    StringBuilder req = new StringBuilder(method + " " + path + " HTTP/1.1\r\n");
    h.forEach((k, v) -> req.append(k).append(": ").append(v).append("\r\n"));
    req.append("Content-Length: ").append(payload.length).append("\r\nConnection: close\r\n\r\n");
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
      s.setSoTimeout(60_000);
      OutputStream out = s.getOutputStream();
      out.write(req.toString().getBytes(StandardCharsets.ISO_8859_1));
      out.write(payload);
      out.flush();
      return parse(s.getInputStream());
    }
  }

  static Reply parse(InputStream in) throws IOException {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    in.transferTo(all);
    String raw = all.toString(StandardCharsets.UTF_8);
    int end = raw.indexOf("\r\n\r\n");
    if (end < 0) {
      throw new IOException("no complete HTTP response: '" + raw + "'");
    }
    String[] lines = raw.substring(0, end).split("\r\n");
    int status = Integer.parseInt(lines[0].split(" ")[1]);
    Map<String, String> headers = new LinkedHashMap<>();
    for (int i = 1; i < lines.length; i++) {
      int c = lines[i].indexOf(':');
      headers.put(lines[i].substring(0, c).trim().toLowerCase(Locale.ROOT), lines[i].substring(c + 1).trim());
    }
    return new Reply(status, headers, raw.substring(end + 4));
  }

  /**
   * A client that sends its headers promising 100 body bytes, sends 10, and then waits: it holds
   * whatever thread reads its request. The caller closes it.
   */
  Socket stall() throws IOException {
    Socket s = new Socket();
    s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    String head = "POST /predict HTTP/1.1\r\nHost: 127.0.0.1:" + port
        + "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"adapter\"";
    s.getOutputStream().write(head.getBytes(StandardCharsets.ISO_8859_1));
    s.getOutputStream().flush();
    return s;
  }

  /** A client that sends half its headers and then waits (slowloris). */
  Socket stallInHeaders() throws IOException {
    Socket s = new Socket();
    s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    s.getOutputStream().write(("GET /health HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nX-Slow: ")
        .getBytes(StandardCharsets.ISO_8859_1));
    s.getOutputStream().flush();
    return s;
  }

  /** Whether the server has closed {@code s} (read gives end of stream or a reset) within {@code ms}. */
  static boolean closedByServer(Socket s, int ms) {
    try {
      s.setSoTimeout(ms);
      InputStream in = s.getInputStream();
      while (true) {
        if (in.read() < 0) {
          return true;
        }
      }
    } catch (java.net.SocketTimeoutException e) {
      return false;
    } catch (IOException reset) {
      return true;
    }
  }
}
