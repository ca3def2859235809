package dev.lora4j.runtime;

import dev.lora4j.models.testing.PublicTypes;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The module's public API fits on one screen and cannot grow silently (PublicTypes scans the
 * sources). What an application calls (README, ARCHITECTURE): the runtime, its options and answers,
 * the HTTP server. The registry, batcher, loader and server plumbing are package-private.
 */
class PublicSurfaceTest {
  @Test
  void thePublicTypesAreExactlyTheListedOnes() {
    PublicTypes.requireExactly(Set.of(
        "dev.lora4j.runtime.AdapterDescription",
        "dev.lora4j.runtime.AdapterInfo",
        "dev.lora4j.runtime.AdapterRuntime",
        "dev.lora4j.runtime.AdapterServer",
        "dev.lora4j.runtime.Device",
        "dev.lora4j.runtime.ExecutionProviders",
        "dev.lora4j.runtime.MixedRequest",
        "dev.lora4j.runtime.Prediction",
        "dev.lora4j.runtime.RuntimeOptions",
        "dev.lora4j.runtime.ServerSettings",
        "dev.lora4j.runtime.SessionSettings"));
  }
}
