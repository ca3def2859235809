package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.runtime.AdapterDescription;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Device;
import dev.lora4j.runtime.RuntimeOptions;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin token comes from a file or the environment, never the command line, and must be strong
 * enough; --preload and --pin make adapters resident before the server listens.
 */
class ServeCommandTest {
  static CommandLine parse(String... args) throws Exception {
    return new DefaultParser().parse(new ServeCommand().options(), args);
  }

  /**
   * A server started inside a JVM where ONNX Runtime already runs (here: this test JVM) cannot share
   * one pool; its sessions then keep their own, with the --threads they were given. (In its own
   * process, serve shares the pool: readme-check's serve runs that way.)
   */
  @Test
  void insideAJvmWhereOnnxRuntimeRunsTheSessionsKeepTheirOwnPoolsAndThreads() throws Exception {
    dev.lora4j.runtime.ExecutionProviders.environment();
    RuntimeOptions asked = RuntimeOptions.defaults().withSession(RuntimeOptions.defaults().session().withThreads(1));
    RuntimeOptions used = ServeCommand.sharedThreadPool(asked);
    assertEquals(1, used.session().intraOpThreads());
    assertEquals(asked, used);
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

  @Test
  void preloadAndPinNamesAreCheckedAndDeduplicated() throws Exception {
    assertEquals(List.of("a", "b"), ServeCommand.adapterNames(parse("--pin", "a, b,a"), "pin"));
    assertEquals(List.of(), ServeCommand.adapterNames(parse(), "preload"));
    Lora4jException empty = assertThrows(Lora4jException.class,
        () -> ServeCommand.adapterNames(parse("--preload", "a,,b"), "preload"));
    assertEquals("--preload: '' is not a valid adapter name (letters, digits, . _ -)", empty.getMessage());
    Lora4jException path = assertThrows(Lora4jException.class,
        () -> ServeCommand.adapterNames(parse("--pin", "../x"), "pin"));
    assertEquals("--pin: '../x' is not a valid adapter name (letters, digits, . _ -)", path.getMessage());
    Lora4jException base = assertThrows(Lora4jException.class,
        () -> ServeCommand.adapterNames(parse("--pin", "__base__"), "pin"));
    assertEquals("--pin: '__base__' is the base model itself, not an adapter", base.getMessage());
  }

  /** A tiny export (multi graph) holding adapter {@code movies}. */
  static Path export(Path dir) throws Exception {
    Path base = TinyBert.writeBaseModel(dir.resolve("tiny"), 1);
    Path adapter = ExportCommandTest.writeAdapter(dir.resolve("in"), "movies",
        AtomicFiles.sha256(base.resolve("model.onnx")));
    Path out = dir.resolve("export");
    MainTest.Run r = MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(),
        "--out", out.toString(), "--format", "multi");
    assertEquals(0, r.code(), r.err());
    return out;
  }

  @Test
  void pinnedAdaptersAreResidentAndPinnedBeforeTheServerStarts(@TempDir Path dir) throws Exception {
    Path export = export(dir);
    Path none = Files.createDirectories(dir.resolve("no-adapters"));
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    try (AdapterRuntime rt = AdapterRuntime.open(export, RuntimeOptions.defaults().withDevice(Device.CPU));
        PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
      ServeCommand.loadAdapters(rt, none, List.of(), List.of("movies"), out); // by name, from the export
      AdapterDescription d = rt.describe("movies");
      assertTrue(d.resident());
      assertTrue(d.pinned());
    }
    assertEquals("resident movies; pinned movies\n", buf.toString(StandardCharsets.UTF_8));
  }

  @Test
  void aPreloadThatCannotBeLoadedStopsServeBeforeItListens(@TempDir Path dir) throws Exception {
    Path export = export(dir);
    MainTest.Run r = MainTest.run("serve", "--base", export.toString(), "--device", "cpu", "--port", "0",
        "--preload", "movies,ghost");
    assertEquals(Main.USAGE, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("--preload: ") && r.err().contains("ghost.onnx_adapter: no such adapter file"),
        r.err());
    assertFalse(r.out().contains("serving"), "it never listened: " + r.out());
    MainTest.Run budget = MainTest.run("serve", "--base", export.toString(), "--adapter-budget", "0");
    assertEquals(Main.USAGE, budget.code());
    assertTrue(budget.err().contains("--adapter-budget must be at least 1 MiB, not 0"), budget.err());
  }

  /** Each bad server flag gets its own message naming it (it was one "invalid server settings" for all). */
  @Test
  void aPortOrBatchOutOfRangeNamesTheFlag(@TempDir Path dir) throws Exception {
    Path export = export(dir);
    String[][] cases = {{"--port", "99999", "--port must be between 0 (any free port) and 65535, not 99999"},
        {"--max-batch", "0", "--max-batch must be at least 1, not 0"}};
    for (String[] c : cases) {
      MainTest.Run r = MainTest.run("serve", "--base", export.toString(), "--device", "cpu", c[0], c[1]);
      assertEquals(Main.USAGE, r.code(), r.out() + r.err());
      assertEquals("lora4j serve: " + c[2], r.err().strip());
      assertFalse(r.out().contains("serving"), r.out());
    }
  }
}
