package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** A settings value out of range is refused with a message naming that value, not a blanket one. */
class ServerSettingsTest {
  private static void refused(String message, Supplier<ServerSettings> make) {
    assertEquals(message, assertThrows(IllegalArgumentException.class, make::get).getMessage());
  }

  @Test
  void eachOutOfRangeValueNamesItself() {
    ServerSettings d = ServerSettings.defaults();
    refused("server settings: port must be between 0 (any free port) and 65535, not 65536", () -> d.withPort(65536));
    refused("server settings: port must be between 0 (any free port) and 65535, not -1", () -> d.withPort(-1));
    refused("server settings: a host to listen on is required", () -> d.withHost(" "));
    refused("server settings: most request bytes must be at least 1, not 0", () -> d.withMaxBody(0));
    refused("server settings: most texts in one request must be at least 1, not 0", () -> d.withMaxBatch(0));
    refused("server settings: request threads must be at least 1, not 0",
        () -> d.withWork(Duration.ofSeconds(1), 0, 1));
    refused("server settings: queued requests must be at least 1, not 0", () -> d.withWork(Duration.ofSeconds(1), 1, 0));
    refused("server settings: request timeout must be positive, not PT0S", () -> d.withWork(Duration.ZERO, 1, 1));
    refused("server settings: connection threads must be at least 1, not 0", () -> d.withIo(0, Duration.ofSeconds(1)));
    refused("server settings: connection timeout must be positive, not PT-1S", () -> d.withIo(1, Duration.ofSeconds(-1)));
    refused("server settings: a blank admin token (give none to turn admin routes off)", () -> d.withAdminToken(" "));
    assertEquals(65535, d.withPort(65535).port());
    assertEquals(0, d.withPort(0).port());
  }
}
