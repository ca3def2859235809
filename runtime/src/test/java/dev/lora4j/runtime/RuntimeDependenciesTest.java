package dev.lora4j.runtime;

import dev.lora4j.models.testing.DependencyListTests;

/**
 * The runtime is what a JVM application adds to its build, so its class path is a promise (README,
 * "Dependencies"): ONNX Runtime, Jackson, the SLF4J API and lora4j's own code (with the FlatBuffers
 * runtime its adapter files need), compared with {@code runtime/dependencies.allowed}.
 */
class RuntimeDependenciesTest implements DependencyListTests {}
