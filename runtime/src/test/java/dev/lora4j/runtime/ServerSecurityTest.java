package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.runtime.RawHttp.Reply;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a local process or a web page the user visits can do to the server: nothing beyond
 * predicting, unless it holds the admin token, and even then only with adapters from the
 * directories named at start. Two servers over one runtime: admin off, and admin on.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ServerSecurityTest {
  static final String TOKEN = "s3cret-admin-token-for-tests";
  static final String AUTH = "Authorization: Bearer " + TOKEN;
  /** An absolute path, or a Java exception's class name, anywhere in a body. */
  static final Pattern LEAK = Pattern.compile("(/tmp|/home|/root|/work|/private|/var)/|[A-Za-z]+(Exception|Error)\\b|\\bat [a-z]+\\.");

  Path export;
  Path outside;
  AdapterRuntime rt;
  AdapterServer closed;
  AdapterServer admin;
  RawHttp noAdmin;
  RawHttp http;

  @BeforeAll
  void start(@TempDir Path tmp) throws Exception {
    export = TestExports.tinyExport(tmp.resolve("fixture"));
    outside = Files.createDirectories(tmp.resolve("outside"));
    Files.copy(export.resolve("alpha.onnx_adapter"), outside.resolve("alpha.onnx_adapter"));
    rt = AdapterRuntime.open(export, RuntimeOptions.defaults().withDevice(Device.CPU));
    rt.load("alpha", export.resolve("alpha.onnx_adapter"));
    ServerSettings s = ServerSettings.defaults().withPort(0).withAdapterDirs(List.of(export));
    closed = AdapterServer.start(rt, s);
    admin = AdapterServer.start(rt, s.withAdminToken(TOKEN));
    noAdmin = new RawHttp(closed.port());
    http = new RawHttp(admin.port());
  }

  @AfterAll
  void stop() {
    closed.close();
    admin.close();
    rt.close();
  }

  static void assertNoLeak(Reply r) {
    assertFalse(LEAK.matcher(r.text()).find(), "the body reveals a path or an exception: " + r.text());
  }

  @Test
  void textPlainPostIsRefusedWith415() throws Exception {
    // text/plain is what a page may send cross-origin without a CORS preflight
    for (String type : new String[] {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}) {
      Reply r = http.send("POST", "/predict", "{\"adapter\": \"alpha\", \"text\": \"fun\"}", "Content-Type: " + type);
      assertEquals(415, r.status(), type);
      Reply load = http.send("PUT", "/adapters/beta", "{}", "Content-Type: " + type, AUTH);
      assertEquals(415, load.status(), type);
    }
    assertEquals(415, http.send("POST", "/predict", "{\"adapter\": \"alpha\", \"text\": \"fun\"}").status(),
        "no Content-Type");
    assertEquals(200, http.send("POST", "/predict", "{\"adapter\": \"alpha\", \"text\": \"fun\"}",
        "Content-Type: application/json; charset=utf-8").status());
    assertFalse(rt.adapters().stream().anyMatch(i -> i.name().equals("beta")));
  }

  @Test
  void foreignHostOrOriginIsRefusedWith403() throws Exception {
    int port = admin.port();
    String predict = "{\"adapter\": \"alpha\", \"text\": \"fun\"}";
    // DNS rebinding: evil.example resolves to 127.0.0.1, the browser still sends its own name
    assertEquals(403, http.json("POST", "/predict", predict, "Host: evil.example:" + port).status());
    assertEquals(403, http.call("GET", "/adapters", "Host: evil.example:" + port).status());
    assertEquals(403, http.call("GET", "/health", "Host: 127.0.0.1:" + (port + 1)).status(), "another port");
    assertEquals(403, http.send("GET", "/health", null, "Host:").status(), "empty Host");
    assertEquals(403, http.json("POST", "/predict", predict, "Origin: http://evil.example").status());
    assertEquals(403, http.json("POST", "/predict", predict, "Origin: null").status());
    assertEquals(403, http.json("PUT", "/adapters/beta", "{}", "Origin: https://evil.example", AUTH).status());
    assertFalse(rt.adapters().stream().anyMatch(i -> i.name().equals("beta")));

    assertEquals(200, http.json("POST", "/predict", predict, "Host: localhost:" + port).status());
    assertEquals(200, http.json("POST", "/predict", predict, "Origin: http://127.0.0.1:" + port).status());
    assertEquals(200, http.json("POST", "/predict", predict, "Origin: http://localhost:" + port).status());
  }

  @Test
  void adminRoutesAreOffWithoutAToken() throws Exception {
    Reply load = noAdmin.json("PUT", "/adapters/beta", "{}");
    assertEquals(403, load.status(), load.text());
    assertEquals(403, noAdmin.json("PUT", "/adapters/beta", "{}", AUTH).status(), "no token is configured to match");
    assertEquals(403, noAdmin.call("DELETE", "/adapters/alpha").status());
    assertTrue(rt.adapters().stream().anyMatch(i -> i.name().equals("alpha")), "alpha is still loaded");
    assertFalse(rt.adapters().stream().anyMatch(i -> i.name().equals("beta")));
  }

  @Test
  void adminRoutesNeedTheToken() throws Exception {
    Reply none = http.json("PUT", "/adapters/gamma", "{}");
    assertEquals(401, none.status());
    assertEquals("Bearer", none.headers().get("www-authenticate"));
    assertEquals(401, http.json("PUT", "/adapters/gamma", "{}", "Authorization: Bearer " + TOKEN + "x").status());
    assertEquals(401, http.json("PUT", "/adapters/gamma", "{}", "Authorization: Bearer " + TOKEN.substring(1)).status());
    assertEquals(401, http.json("PUT", "/adapters/gamma", "{}", "Authorization: Basic " + TOKEN).status());
    assertEquals(401, http.call("DELETE", "/adapters/alpha", "Authorization: Bearer wrong").status());
    assertFalse(rt.adapters().stream().anyMatch(i -> i.name().equals("gamma")));

    Reply ok = http.json("PUT", "/adapters/gamma", "{}", AUTH);
    assertEquals(200, ok.status(), ok.text());
    assertEquals(200, http.json("POST", "/predict", "{\"adapter\": \"gamma\", \"text\": \"fun\"}").status());
    assertEquals(200, http.call("DELETE", "/adapters/gamma", AUTH).status());
    assertFalse(rt.adapters().stream().anyMatch(i -> i.name().equals("gamma")));
  }

  @Test
  void loadFromOutsideTheAdapterDirectoriesIsRefusedWithoutRevealingWhatExists() throws Exception {
    Files.createSymbolicLink(export.resolve("escape.onnx_adapter"), outside.resolve("alpha.onnx_adapter"));
    Files.createSymbolicLink(export.resolve("outside-dir"), outside);
    String real = outside.resolve("alpha.onnx_adapter").toString();
    // absolute paths and '..' are refused by their form alone, whether the file exists or not
    for (String file : new String[] {real, "/nonexistent/x.onnx_adapter", "../outside/alpha.onnx_adapter",
        "../outside/ghost.onnx_adapter", "a/../../outside/alpha.onnx_adapter"}) {
      Reply r = http.json("PUT", "/adapters/stolen", "{\"file\": \"" + file + "\"}", AUTH);
      assertEquals(400, r.status(), file + ": " + r.text());
      assertEquals("'file' must be a relative file name ending in .onnx_adapter", r.error().replace(
          "'file' must be a relative file name without '.', '..' or empty parts",
          "'file' must be a relative file name ending in .onnx_adapter"), file);
      assertNoLeak(r);
    }
    // links out of the directory answer exactly like a file that does not exist
    Reply escape = http.json("PUT", "/adapters/stolen", "{\"file\": \"escape.onnx_adapter\"}", AUTH);
    Reply viaDir = http.json("PUT", "/adapters/stolen", "{\"file\": \"outside-dir/alpha.onnx_adapter\"}", AUTH);
    Reply missing = http.json("PUT", "/adapters/stolen", "{\"file\": \"ghost.onnx_adapter\"}", AUTH);
    assertEquals(404, missing.status(), missing.text());
    assertEquals(404, escape.status(), escape.text());
    assertEquals(404, viaDir.status(), viaDir.text());
    assertEquals(missing.error().replace("ghost", "X"), escape.error().replace("escape", "X"));
    assertEquals("adapter file 'ghost.onnx_adapter' is not in the server's adapter directories", missing.error());
    Reply byPath = http.json("PUT", "/adapters/stolen", "{\"path\": \"" + real + "\"}", AUTH);
    assertEquals(400, byPath.status(), "the old absolute 'path' field is gone");
    assertFalse(rt.adapters().stream().anyMatch(i -> i.name().equals("stolen")));
  }

  @Test
  void errorBodiesHoldNoAbsolutePathNorExceptionText() throws Exception {
    // a file inside the directory that is not an adapter: the message names the relative file only
    Files.writeString(export.resolve("junk.onnx_adapter"), "{\"secret\": \"file content\"}\n");
    Reply junk = http.json("PUT", "/adapters/junk", "{\"file\": \"junk.onnx_adapter\"}", AUTH);
    assertEquals(422, junk.status(), junk.text());
    assertTrue(junk.error().contains("'junk.onnx_adapter'"), junk.text());
    assertFalse(junk.text().contains("secret") || junk.text().contains("file content"), junk.text());
    assertNoLeak(junk);
    // a sidecar beside a damaged adapter file: the runtime's message names the absolute path
    Files.copy(export.resolve("alpha.adapter.json"), export.resolve("broken.adapter.json"));
    Files.write(export.resolve("broken.onnx_adapter"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
    Reply broken = http.json("PUT", "/adapters/broken", "{}", AUTH);
    assertEquals(422, broken.status(), broken.text());
    assertNoLeak(broken);

    for (Reply r : List.of(
        http.json("POST", "/predict", "{not json"),
        http.json("POST", "/predict", "{\"adapter\": \"ghost\", \"text\": \"x\"}"),
        http.json("POST", "/predict", "{\"adapter\": \"alpha\", \"texts\": [1]}"),
        http.json("POST", "/predict", "{\"requests\": [1]}"),
        http.json("PUT", "/adapters/a", "{\"file\": \"" + "a/".repeat(200) + "x.onnx_adapter\"}", AUTH),
        http.json("POST", "/embed", "{\"adapter\": \"ghost\", \"texts\": [\"x\"]}"))) {
      assertTrue(r.status() >= 400 && r.status() < 500, r.status() + " " + r.text());
      assertNoLeak(r);
    }
  }

  @Test
  void settingsNeverPrintTheToken() {
    String shown = ServerSettings.defaults().withAdminToken(TOKEN).toString();
    assertFalse(shown.contains(TOKEN), shown);
    assertTrue(shown.contains("admin=token"), shown);
  }

  @Test
  void runtimeMessagesAreCutToFileNames() {
    assertEquals("x.onnx_adapter: not a valid adapter (bad header)",
        AdapterServer.redact("/home/me/private/x.onnx_adapter: not a valid adapter (bad header)"));
    assertEquals("cannot read 'y.json' here", AdapterServer.redact("cannot read '/a/b/y.json' here"));
  }
}
