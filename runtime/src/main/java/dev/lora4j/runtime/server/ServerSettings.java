package dev.lora4j.runtime.server;

import java.time.Duration;

/**
 * Limits and address of the local HTTP server.
 *
 * @param host interface to bind; 127.0.0.1 keeps the server private to this machine
 * @param port 0 picks a free port
 * @param maxBodyBytes larger request bodies are refused with 413 before they are read
 * @param maxBatch most texts in one request
 * @param timeout a request not answered within this gets 503
 * @param threads request-handling threads
 */
public record ServerSettings(String host, int port, int maxBodyBytes, int maxBatch, Duration timeout, int threads) {
  public ServerSettings {
    if (port < 0 || port > 65535 || maxBodyBytes < 1 || maxBatch < 1 || threads < 1 || timeout.isNegative()) {
      throw new IllegalArgumentException("invalid server settings");
    }
  }

  public static ServerSettings defaults() {
    return new ServerSettings("127.0.0.1", 8080, 1 << 20, 64, Duration.ofSeconds(30), 8);
  }

  public ServerSettings withPort(int p) {
    return new ServerSettings(host, p, maxBodyBytes, maxBatch, timeout, threads);
  }

  public ServerSettings withMaxBatch(int n) {
    return new ServerSettings(host, port, maxBodyBytes, n, timeout, threads);
  }

  public ServerSettings withMaxBody(int bytes) {
    return new ServerSettings(host, port, bytes, maxBatch, timeout, threads);
  }

  public ServerSettings withHost(String h) {
    return new ServerSettings(h, port, maxBodyBytes, maxBatch, timeout, threads);
  }
}
