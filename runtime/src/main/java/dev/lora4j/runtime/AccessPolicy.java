package dev.lora4j.runtime;

import com.sun.net.httpserver.Headers;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

/**
 * Who may call the server: the checks every request passes before anything else is read.
 *
 * <ul>
 *   <li>Host must name this server (loopback or the bound address, with its port): a web page whose
 *       domain was rebound to 127.0.0.1 (DNS rebinding) sends its own name and is refused.
 *   <li>Origin, when a browser sends one, must be this server too: other pages may not call it.
 *   <li>Requests with a body must be {@code application/json}: a browser sends that cross-origin only
 *       after a CORS preflight, which this server never grants, while {@code text/plain} forms and
 *       fetches go out without asking.
 *   <li>Load and unload need the admin token; without one configured they do not exist.
 * </ul>
 */
final class AccessPolicy {
  private final Set<String> hosts = new HashSet<>();
  private final byte[] tokenDigest;

  AccessPolicy(String boundHost, int port, String adminToken) {
    for (String h : new String[] {boundHost, "localhost", "127.0.0.1", "[::1]"}) {
      String name = h.contains(":") && !h.startsWith("[") ? "[" + h + "]" : h; // bare IPv6 literal
      hosts.add(name.toLowerCase(Locale.ROOT) + ":" + port);
      if (port == 80) {
        hosts.add(name.toLowerCase(Locale.ROOT));
      }
    }
    this.tokenDigest = adminToken == null ? null : sha256(adminToken);
  }

  boolean adminEnabled() {
    return tokenDigest != null;
  }

  /** Host and Origin; throws 403 naming the header (not echoing it). */
  void checkCaller(Headers h) {
    String host = h.getFirst("Host");
    if (host == null || !hosts.contains(host.trim().toLowerCase(Locale.ROOT))) {
      throw new HttpError(403, "the Host header must name this server (localhost or its address, with the port)");
    }
    String origin = h.getFirst("Origin");
    if (origin != null) {
      String o = origin.trim().toLowerCase(Locale.ROOT);
      if (!o.startsWith("http://") || !hosts.contains(o.substring("http://".length()))) {
        throw new HttpError(403, "cross-origin requests are not allowed");
      }
    }
  }

  /** Bodies must be JSON; 415 otherwise. */
  static void checkJson(Headers h) {
    String type = h.getFirst("Content-Type");
    String mime = type == null ? "" : type.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
    if (!mime.equals("application/json")) {
      throw new HttpError(415, "the request body must be sent as Content-Type: application/json");
    }
  }

  /** 403 when admin routes are off, 401 without the right bearer token. */
  void checkAdmin(Headers h) {
    if (tokenDigest == null) {
      throw new HttpError(403, "loading and unloading adapters is off; start the server with an admin token");
    }
    String auth = h.getFirst("Authorization");
    String prefix = "Bearer ";
    boolean ok = auth != null && auth.regionMatches(true, 0, prefix, 0, prefix.length())
        // digests have one length, so the comparison time says nothing about the token
        && MessageDigest.isEqual(tokenDigest, sha256(auth.substring(prefix.length()).trim()));
    if (!ok) {
      throw new HttpError(401, "this route needs Authorization: Bearer <admin token>");
    }
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
