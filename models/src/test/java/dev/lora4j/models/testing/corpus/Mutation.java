package dev.lora4j.models.testing.corpus;

import java.io.IOException;
import java.nio.file.Path;

/**
 * One way to damage one input: applied to a fresh copy of the valid input in its own directory.
 *
 * @param name what was done, for failure reports ({@code adapter_config.json: delete lora4j.modules})
 * @param apply changes the copy in place; {@code dir} is the case's copy of the input
 */
public record Mutation(String name, Action apply) {
  /** The change itself. */
  @FunctionalInterface
  public interface Action {
    void apply(Path dir) throws IOException;
  }
}
