package dev.lora4j.runtime;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Limits, address and access rules of the local HTTP server.
 *
 * @param host interface to bind; 127.0.0.1 keeps the server private to this machine
 * @param port 0 picks a free port
 * @param maxBodyBytes larger request bodies are refused with 413 before they are read
 * @param maxBatch most texts in one request
 * @param timeout deadline of every request, from its body being read to its answer: later gets 503
 * @param threads threads that run requests on the runtime (predict, embed, load, unload)
 * @param queue requests waiting for those threads beyond this are answered 503 with Retry-After
 * @param ioThreads threads that read requests and write answers; each is held at most {@code ioTimeout}
 *     by one connection, so a few stalled or slow clients cannot take them all
 * @param ioTimeout most time a connection may take to send its request (headers and body) and most
 *     time writing its answer may take; past it the connection is closed
 * @param adminToken bearer token that load and unload require; null turns those routes off
 * @param adapterDirs the only directories adapters may be loaded from (by name or by a file name
 *     relative to one of them)
 */
public record ServerSettings(
    String host, int port, int maxBodyBytes, int maxBatch, Duration timeout, int threads, int queue, int ioThreads,
    Duration ioTimeout, String adminToken, List<Path> adapterDirs) {

  public ServerSettings {
    adapterDirs = List.copyOf(adapterDirs);
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("server settings: a host to listen on is required");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("server settings: port must be between 0 (any free port) and 65535, not "
          + port);
    }
    atLeastOne("most request bytes", maxBodyBytes);
    atLeastOne("most texts in one request", maxBatch);
    atLeastOne("request threads", threads);
    atLeastOne("queued requests", queue);
    atLeastOne("connection threads", ioThreads);
    positive("request timeout", timeout);
    positive("connection timeout", ioTimeout);
    if (adminToken != null && adminToken.isBlank()) {
      throw new IllegalArgumentException("server settings: a blank admin token (give none to turn admin routes off)");
    }
  }

  private static void atLeastOne(String what, int n) {
    if (n < 1) {
      throw new IllegalArgumentException("server settings: " + what + " must be at least 1, not " + n);
    }
  }

  private static void positive(String what, Duration d) {
    if (d == null || d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException("server settings: " + what + " must be positive, not " + d);
    }
  }

  public static ServerSettings defaults() {
    return new ServerSettings("127.0.0.1", 8080, 1 << 20, 64, Duration.ofSeconds(30), 8, 64, 32,
        Duration.ofSeconds(10), null, List.of());
  }

  public ServerSettings withPort(int p) {
    return new ServerSettings(host, p, maxBodyBytes, maxBatch, timeout, threads, queue, ioThreads, ioTimeout,
        adminToken, adapterDirs);
  }

  public ServerSettings withMaxBatch(int n) {
    return new ServerSettings(host, port, maxBodyBytes, n, timeout, threads, queue, ioThreads, ioTimeout, adminToken,
        adapterDirs);
  }

  public ServerSettings withMaxBody(int bytes) {
    return new ServerSettings(host, port, bytes, maxBatch, timeout, threads, queue, ioThreads, ioTimeout, adminToken,
        adapterDirs);
  }

  public ServerSettings withHost(String h) {
    return new ServerSettings(h, port, maxBodyBytes, maxBatch, timeout, threads, queue, ioThreads, ioTimeout,
        adminToken, adapterDirs);
  }

  /** Request deadline, runtime threads and the queue in front of them. */
  public ServerSettings withWork(Duration deadline, int workThreads, int queueCapacity) {
    return new ServerSettings(host, port, maxBodyBytes, maxBatch, deadline, workThreads, queueCapacity, ioThreads,
        ioTimeout, adminToken, adapterDirs);
  }

  /** Connection threads and the time one connection may hold one for reading or writing. */
  public ServerSettings withIo(int connectionThreads, Duration connectionTimeout) {
    return new ServerSettings(host, port, maxBodyBytes, maxBatch, timeout, threads, queue, connectionThreads,
        connectionTimeout, adminToken, adapterDirs);
  }

  /** Turns load and unload on, behind {@code Authorization: Bearer <token>}. */
  public ServerSettings withAdminToken(String token) {
    return new ServerSettings(host, port, maxBodyBytes, maxBatch, timeout, threads, queue, ioThreads, ioTimeout,
        token, adapterDirs);
  }

  public ServerSettings withAdapterDirs(List<Path> dirs) {
    return new ServerSettings(host, port, maxBodyBytes, maxBatch, timeout, threads, queue, ioThreads, ioTimeout,
        adminToken, dirs);
  }

  /** Never prints the token (settings end up in logs and error messages). */
  @Override
  public String toString() {
    return "ServerSettings[host=" + host + ", port=" + port + ", maxBodyBytes=" + maxBodyBytes + ", maxBatch="
        + maxBatch + ", timeout=" + timeout + ", threads=" + threads + ", queue=" + queue + ", ioThreads=" + ioThreads
        + ", ioTimeout=" + ioTimeout + ", admin=" + (adminToken == null ? "off" : "token") + ", adapterDirs="
        + adapterDirs + "]";
  }
}
