package dev.lora4j.runtime;

import java.nio.file.Path;

/** Test exports for other packages' tests. */
public final class TestExports {
  private TestExports() {}

  /** A tiny base model exported with four adapters; returns the export directory. */
  public static Path tinyExport(Path tmp) throws Exception {
    return new ExportFixture(tmp, 21).dir;
  }
}
