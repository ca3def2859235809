package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The admin token comes from a file or the environment, never the command line, and must be strong enough. */
class ServeCommandTest {
  static CommandLine parse(String... args) throws Exception {
    return new DefaultParser().parse(new ServeCommand().options(), args);
  }

  @Test
  void adminTokenIsReadFromAFileOrTheEnvironmentOnly(@TempDir Path dir) throws Exception {
    assertNull(ServeCommand.adminToken(parse(), null), "no token: admin routes stay off");
    assertEquals("from-the-environment-123", ServeCommand.adminToken(parse(), " from-the-environment-123\n"));
    Path f = dir.resolve("token");
    Files.writeString(f, "from-a-file-0123456789\n");
    assertEquals("from-a-file-0123456789",
        ServeCommand.adminToken(parse("--admin-token-file", f.toString()), "from-the-environment-123"));
    assertTrue(new ServeCommand().options().getOptions().stream().noneMatch(o -> "admin-token".equals(o.getLongOpt())),
        "no option takes the token itself");
  }

  @Test
  void aShortOrMissingAdminTokenIsRefused(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("token");
    Files.writeString(f, "short\n");
    Lora4jException e = assertThrows(Lora4jException.class,
        () -> ServeCommand.adminToken(parse("--admin-token-file", f.toString()), null));
    assertEquals("--admin-token-file " + f + ": the admin token must be at least 16 characters without spaces"
        + " or control characters", e.getMessage());
    assertThrows(Lora4jException.class, () -> ServeCommand.adminToken(parse(), "has a space in it, long enough"));
    Lora4jException missing = assertThrows(Lora4jException.class,
        () -> ServeCommand.adminToken(parse("--admin-token-file", dir.resolve("none").toString()), null));
    assertEquals("--admin-token-file " + dir.resolve("none") + ": not a readable file", missing.getMessage());
  }
}
