package dev.lora4j.djl;

import dev.lora4j.models.testing.DependencyListTests;

/**
 * lora4j-djl is a plain Maven dependency of an application, so its class path is a promise (README,
 * "Dependencies"), compared with {@code djl/dependencies.allowed}.
 */
class DjlDependenciesTest implements DependencyListTests {}
