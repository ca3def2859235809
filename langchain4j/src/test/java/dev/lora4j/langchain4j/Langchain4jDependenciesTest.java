package dev.lora4j.langchain4j;

import dev.lora4j.models.testing.DependencyListTests;

/**
 * lora4j-langchain4j is a plain Maven dependency of an application, so its class path is a promise (README,
 * "Dependencies"), compared with {@code langchain4j/dependencies.allowed}.
 */
class Langchain4jDependenciesTest implements DependencyListTests {}
