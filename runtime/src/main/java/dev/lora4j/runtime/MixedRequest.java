package dev.lora4j.runtime;

/** One row of a mixed-adapter batch: which adapter answers which text. */
public record MixedRequest(String adapter, String text) {}
