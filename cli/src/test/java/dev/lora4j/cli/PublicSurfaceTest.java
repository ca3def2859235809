package dev.lora4j.cli;

import dev.lora4j.models.testing.PublicTypes;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The module's public API fits on one screen and cannot grow silently (PublicTypes scans the
 * sources). The command line's entry point (Main) and the two report generators the scripts run as
 * main classes; the commands are package-private.
 */
class PublicSurfaceTest {
  @Test
  void thePublicTypesAreExactlyTheListedOnes() {
    PublicTypes.requireExactly(Set.of(
        "dev.lora4j.cli.FrontierReport",
        "dev.lora4j.cli.Main",
        "dev.lora4j.cli.TrainResults"));
  }
}
