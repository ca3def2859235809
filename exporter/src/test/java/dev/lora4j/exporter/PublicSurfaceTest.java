package dev.lora4j.exporter;

import dev.lora4j.models.testing.PublicTypes;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The module's public API fits on one screen and cannot grow silently (PublicTypes scans the
 * sources). ExportBundle and what it takes and gives, plus the two operations the cli runs before
 * an export (Combination, RankBudget); the graph writers are package-private.
 */
class PublicSurfaceTest {
  @Test
  void thePublicTypesAreExactlyTheListedOnes() {
    PublicTypes.requireExactly(Set.of(
        "dev.lora4j.exporter.Combination",
        "dev.lora4j.exporter.ExportBundle",
        "dev.lora4j.exporter.ExportFormat",
        "dev.lora4j.exporter.ExportRequest",
        "dev.lora4j.exporter.ExportResult",
        "dev.lora4j.exporter.RankBudget"));
  }
}
