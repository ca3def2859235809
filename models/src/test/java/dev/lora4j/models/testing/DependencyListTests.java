package dev.lora4j.models.testing;

import org.junit.jupiter.api.Test;

/**
 * The two checks of {@link DependencyList}, for a module's dependency test to implement: {@code class
 * RuntimeDependenciesTest implements DependencyListTests {}}.
 */
public interface DependencyListTests {
  @Test
  default void classPathHoldsOnlyTheAllowedArtifacts() {
    DependencyList.requireExactlyTheAllowed();
  }

  @Test
  default void exactlyOneOnnxRuntimeJar() {
    DependencyList.requireOneOnnxRuntime();
  }
}
