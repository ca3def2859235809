package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Device;
import dev.lora4j.runtime.Prediction;
import dev.lora4j.runtime.RuntimeOptions;
import dev.lora4j.runtime.AdapterServer;
import dev.lora4j.runtime.ServerSettings;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** {@code lora4j package}: the jar and pom it writes, what it refuses, and loading the jar back. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PackageCommandTest {
  static final List<String> TEXTS = List.of("a good movie", "boring", "the plot was dull", "i loved the characters");

  Path tmp;
  /** A tiny export (multi format) holding the adapter sst2. */
  Path export;
  String baseSha;

  @BeforeAll
  void export(@TempDir Path tmp) throws Exception {
    this.tmp = tmp;
    export = exportTiny(tmp);
    baseSha = AtomicFiles.sha256(tmp.resolve("tiny/model.onnx"));
  }

  /** The tiny base exported with one adapter, sst2, whose head answers both labels on {@link #TEXTS}. */
  static Path exportTiny(Path tmp) throws IOException {
    Path base = TinyBert.writeBaseModel(tmp.resolve("tiny"), 1);
    Path adapter = ExportCommandTest.writeAdapter(tmp.resolve("in"), "sst2", AtomicFiles.sha256(base.resolve("model.onnx")),
        new float[] {0.45f, -0.1f});
    Path out = tmp.resolve("export");
    MainTest.Run r = MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(), "--out",
        out.toString(), "--format", "multi");
    assertEquals(0, r.code(), r.err());
    return out;
  }

  Path adapterFile() {
    return export.resolve("sst2.onnx_adapter");
  }

  MainTest.Run pack(Path out, String... more) {
    List<String> args = new ArrayList<>(List.of("package", "--adapter", adapterFile().toString(), "--group-id",
        "com.example.adapters", "--version", "1.2.0", "--out", out.toString()));
    args.addAll(List.of(more));
    return MainTest.run(args.toArray(String[]::new));
  }

  @Test
  void theJarHoldsTheAdapterItsSidecarAManifestAndThePom() throws Exception {
    Path out = tmp.resolve("dist1");
    MainTest.Run r = pack(out, "--name", "movies", "--artifact-id", "movie-sentiment");
    assertEquals(0, r.code(), r.err());
    Path jarFile = out.resolve("movie-sentiment-1.2.0.jar");
    Path pomFile = out.resolve("movie-sentiment-1.2.0.pom");
    try (var s = Files.list(out)) {
      assertEquals(List.of(jarFile, pomFile), s.sorted().toList(), "exactly the jar and the pom, no temporary left");
    }
    byte[] adapter = Files.readAllBytes(adapterFile());
    byte[] sidecar = Files.readAllBytes(export.resolve("sst2.adapter.json"));
    String dir = "META-INF/lora4j/adapters/movies/";
    String maven = "META-INF/maven/com.example.adapters/movie-sentiment/";
    try (JarFile jar = new JarFile(jarFile.toFile())) {
      List<String> names = Collections.list(jar.entries()).stream().map(JarEntry::getName).toList();
      assertEquals(List.of("META-INF/", "META-INF/MANIFEST.MF", "META-INF/lora4j/", "META-INF/lora4j/adapters/", dir,
          dir + "lora4j-adapter.json", dir + "movies.onnx_adapter", dir + "movies.adapter.json", "META-INF/maven/",
          "META-INF/maven/com.example.adapters/", maven, maven + "pom.xml", maven + "pom.properties"), names);
      assertArrayEquals(adapter, bytes(jar, dir + "movies.onnx_adapter"), "the adapter file, byte for byte");
      assertArrayEquals(sidecar, bytes(jar, dir + "movies.adapter.json"), "the sidecar, byte for byte");
      assertArrayEquals(Files.readAllBytes(pomFile), bytes(jar, maven + "pom.xml"), "the pom beside the jar");
      Properties props = new Properties();
      props.load(jar.getInputStream(jar.getEntry(maven + "pom.properties")));
      assertEquals(Map.of("groupId", "com.example.adapters", "artifactId", "movie-sentiment", "version", "1.2.0"),
          props);

      JsonNode m = new ObjectMapper().readTree(bytes(jar, dir + "lora4j-adapter.json"));
      assertEquals(1, m.get("format").asInt());
      assertEquals("movies", m.get("name").asText());
      assertEquals("movies.onnx_adapter", m.get("adapter_file").asText());
      assertEquals("movies.adapter.json", m.get("sidecar_file").asText());
      assertEquals("tiny", m.get("base_id").asText());
      assertEquals(baseSha, m.get("base_onnx_sha256").asText());
      assertEquals("[\"neg\",\"pos\"]", m.get("labels").toString());
      // the ranks ExportCommandTest.writeAdapter gave its two modules
      assertEquals("{\"encoder.layer.0.attention.self.query\":3,\"encoder.layer.1.intermediate.dense\":5}",
          m.get("ranks").toString());
      assertEquals(adapter.length + sidecar.length, m.get("bytes").asLong());
      assertEquals("lora", m.get("provenance").get("method").asText());
      assertEquals("movie-sentiment", m.get("artifact_id").asText());
    }
    String pom = Files.readString(pomFile);
    for (String tag : List.of("<groupId>com.example.adapters</groupId>", "<artifactId>movie-sentiment</artifactId>",
        "<version>1.2.0</version>", "<packaging>jar</packaging>")) {
      assertTrue(pom.contains(tag), tag + " missing from\n" + pom);
    }
    assertFalse(pom.contains("<dependencies>"), "the adapter artifact must not pin a lora4j-runtime version:\n" + pom);
    assertTrue(r.out().contains("mvn install:install-file -Dfile=" + jarFile + " -DpomFile=" + pomFile), r.out());

    // the same input packages to the same bytes (fixed entry times): a rebuild is not a new artifact
    byte[] first = Files.readAllBytes(jarFile);
    assertEquals(0, pack(out, "--name", "movies", "--artifact-id", "movie-sentiment", "--overwrite").code());
    assertArrayEquals(first, Files.readAllBytes(jarFile));
  }

  @Test
  void aPackagedJarPredictsExactlyWhatTheAdapterFilePredicts() throws Exception {
    Path out = tmp.resolve("dist2");
    assertEquals(0, pack(out).code());
    try (AdapterRuntime rt = AdapterRuntime.open(export, RuntimeOptions.defaults().withDevice(Device.CPU));
        URLClassLoader cl = new URLClassLoader(new URL[] {out.resolve("sst2-1.2.0.jar").toUri().toURL()}, null)) {
      assertTrue(rt.loadFromClasspath("sst2", cl).source().contains("sst2-1.2.0.jar!/META-INF/lora4j/adapters/sst2/"));
      rt.load("sst2-file", adapterFile());
      List<Prediction> fromJar = rt.predict("sst2", TEXTS);
      List<Prediction> fromFile = rt.predict("sst2-file", TEXTS);
      for (int i = 0; i < TEXTS.size(); i++) {
        assertArrayEquals(fromFile.get(i).logits(), fromJar.get(i).logits(), TEXTS.get(i)); // same bytes: exact
        assertEquals(fromFile.get(i).label(), fromJar.get(i).label());
      }
      // not a constant answer: the comparison above would pass for any adapter that always says one label
      assertEquals(2, fromJar.stream().map(Prediction::label).distinct().count());
    }
  }

  @Test
  void runTakesAClasspathAdapter() throws Exception {
    Path out = tmp.resolve("dist3");
    assertEquals(0, pack(out).code());
    MainTest.Run fromFile = MainTest.run("run", "--base", export.toString(), "--device", "cpu", "--adapter",
        adapterFile().toString(), TEXTS.get(0), TEXTS.get(1));
    assertEquals(0, fromFile.code(), fromFile.err());
    ClassLoader before = Thread.currentThread().getContextClassLoader();
    try (URLClassLoader cl = new URLClassLoader(new URL[] {out.resolve("sst2-1.2.0.jar").toUri().toURL()}, before)) {
      Thread.currentThread().setContextClassLoader(cl); // what LORA4J_CLASSPATH gives the launcher's JVM
      MainTest.Run fromJar = MainTest.run("run", "--base", export.toString(), "--device", "cpu", "--adapter",
          "classpath:sst2", TEXTS.get(0), TEXTS.get(1));
      assertEquals(0, fromJar.code(), fromJar.err());
      assertEquals(fromFile.out(), fromJar.out());
      MainTest.Run missing = MainTest.run("run", "--base", export.toString(), "--device", "cpu", "--adapter",
          "classpath:nope", "x");
      assertEquals(2, missing.code());
      assertTrue(missing.err().startsWith("lora4j run: no adapter 'nope' on the class path"), missing.err());
      assertTrue(missing.err().strip().endsWith("packaged adapters there: sst2"), missing.err());
    } finally {
      Thread.currentThread().setContextClassLoader(before);
    }
  }

  @Test
  void serveLoadsAClasspathAdapterBeforeItListens() throws Exception {
    Path out = tmp.resolve("dist4");
    assertEquals(0, pack(out).code());
    try (AdapterRuntime rt = AdapterRuntime.open(export, RuntimeOptions.defaults().withDevice(Device.CPU));
        URLClassLoader cl = new URLClassLoader(new URL[] {out.resolve("sst2-1.2.0.jar").toUri().toURL()}, null)) {
      ClassLoader before = Thread.currentThread().getContextClassLoader();
      Thread.currentThread().setContextClassLoader(cl);
      var buf = new java.io.ByteArrayOutputStream();
      try {
        ServeCommand.loadAdapters(rt, Files.createDirectories(tmp.resolve("no-adapters")), List.of("classpath:sst2"), List.of(), List.of("sst2"),
            new java.io.PrintStream(buf, true, StandardCharsets.UTF_8));
      } finally {
        Thread.currentThread().setContextClassLoader(before);
      }
      assertTrue(rt.describe("sst2").pinned());
      assertTrue(rt.describe("sst2").info().source().startsWith("classpath:sst2 ("), rt.describe("sst2").info().source());
      assertTrue(buf.toString(StandardCharsets.UTF_8).contains("loaded sst2 "), buf.toString(StandardCharsets.UTF_8));
      // the listing names the packaged adapter, not where its jar lies (as it shows a file's name only)
      try (AdapterServer server = AdapterServer.start(rt, ServerSettings.defaults().withPort(0))) {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
            URI.create(server.url() + "/adapters/sst2")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("classpath:sst2", new ObjectMapper().readTree(r.body()).get("source").asText(), r.body());
      }
    }
  }

  @Test
  void aRunningServerLoadsAClasspathAdapterOnAdminRequest() throws Exception {
    Path out = tmp.resolve("dist-put");
    assertEquals(0, pack(out).code());
    String token = "put-classpath-token-0123456789";
    try (AdapterRuntime rt = AdapterRuntime.open(export, RuntimeOptions.defaults().withDevice(Device.CPU));
        URLClassLoader cl = new URLClassLoader(new URL[] {out.resolve("sst2-1.2.0.jar").toUri().toURL()}, null)) {
      ClassLoader before = Thread.currentThread().getContextClassLoader();
      AdapterServer server;
      Thread.currentThread().setContextClassLoader(cl); // the class path the server starts with (LORA4J_CLASSPATH)
      try {
        server = AdapterServer.start(rt, ServerSettings.defaults().withPort(0).withAdminToken(token)
            .withAdapterDirs(List.of(Files.createDirectories(tmp.resolve("no-adapters-put")))));
      } finally {
        Thread.currentThread().setContextClassLoader(before);
      }
      try (server) {
        HttpClient http = HttpClient.newHttpClient();
        java.util.function.BiFunction<String, String, HttpResponse<String>> put = (path, body) -> {
          try {
            return http.send(HttpRequest.newBuilder(URI.create(server.url() + path))
                .header("Content-Type", "application/json").header("Authorization", "Bearer " + token)
                .PUT(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
          } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
          }
        };
        HttpResponse<String> loaded = put.apply("/adapters/sst2", "{\"classpath\": true}");
        assertEquals(200, loaded.statusCode(), loaded.body());
        assertEquals("classpath:sst2", new ObjectMapper().readTree(loaded.body()).get("source").asText(), loaded.body());
        // and it answers as the adapter file does
        try (AdapterRuntime fromFile = AdapterRuntime.open(export, RuntimeOptions.defaults().withDevice(Device.CPU))) {
          fromFile.load("sst2", adapterFile());
          assertArrayEquals(fromFile.predict("sst2", TEXTS.get(0)).logits(), rt.predict("sst2", TEXTS.get(0)).logits());
        }
        HttpResponse<String> missing = put.apply("/adapters/nope", "{\"classpath\": true}");
        assertEquals(404, missing.statusCode(), missing.body());
        assertFalse(missing.body().contains(out.toString()), "the client is not told where jars lie: " + missing.body());
        assertEquals(400, put.apply("/adapters/sst2", "{\"classpath\": true, \"file\": \"x.onnx_adapter\"}").statusCode());
        assertEquals(400, put.apply("/adapters/sst2", "{\"classpath\": \"sst2\"}").statusCode());
        assertFalse(rt.adapters().stream().anyMatch(a -> a.name().equals("nope")));
      }
    }
  }

  @Test
  void badInputIsRefusedWithOneMessageAndWritesNothing() throws Exception {
    Path out = tmp.resolve("dist5");
    Path peft = tmp.resolve("peft-dir");
    Files.createDirectories(peft);
    Path tampered = tmp.resolve("tampered/sst2.onnx_adapter");
    Files.createDirectories(tampered.getParent());
    byte[] b = Files.readAllBytes(adapterFile());
    b[b.length / 2] ^= 1;
    Files.write(tampered, b);
    Files.copy(export.resolve("sst2.adapter.json"), tampered.resolveSibling("sst2.adapter.json"));
    String[][] cases = {
        {"--group-id", "g", "--version", "1", "--out", out.toString()},
        {"--adapter", tmp.resolve("nowhere.onnx_adapter").toString(), "--group-id", "g", "--version", "1", "--out",
            out.toString()},
        {"--adapter", peft.toString(), "--group-id", "g", "--version", "1", "--out", out.toString()},
        {"--adapter", adapterFile().toString(), "--group-id", "com example", "--version", "1", "--out", out.toString()},
        {"--adapter", adapterFile().toString(), "--group-id", "g", "--version", "1/../../x", "--out", out.toString()},
        {"--adapter", adapterFile().toString(), "--group-id", "g", "--out", out.toString()},
        {"--adapter", adapterFile().toString(), "--group-id", "g", "--version", "1", "--name", "__base__", "--out",
            out.toString()},
        {"--adapter", tampered.toString(), "--group-id", "g", "--version", "1", "--out", out.toString()},
    };
    String[] want = {
        "lora4j package: give exactly one of --adapter <file.onnx_adapter> and --base <export dir> (see lora4j package"
            + " --help)",
        "lora4j package: " + tmp.resolve("nowhere.onnx_adapter")
            + ": no such adapter (expected a PEFT directory or an .onnx_adapter file)",
        "lora4j package: --adapter " + peft + ": not an .onnx_adapter file; package takes an exported adapter (lora4j"
            + " export writes <name>.onnx_adapter with its .adapter.json)",
        "lora4j package: --group-id 'com example' is not a Maven coordinate (letters, digits, . _ -)",
        "lora4j package: --version '1/../../x' is not a Maven coordinate (letters, digits, . _ -)",
        "lora4j package: --version is required (see lora4j package --help)",
        "lora4j package: --name '__base__' is not a valid adapter name (letters, digits, . _ -; not __base__)",
        "lora4j package: " + tampered + ": its SHA-256 ",
    };
    for (int i = 0; i < cases.length; i++) {
      List<String> args = new ArrayList<>(List.of("package"));
      args.addAll(List.of(cases[i]));
      MainTest.Run r = MainTest.run(args.toArray(String[]::new));
      assertEquals(2, r.code(), String.join(" ", args));
      assertEquals(1, r.err().lines().count(), r.err());
      assertTrue(r.err().startsWith(want[i]), "case " + i + ": " + r.err());
      assertFalse(Files.exists(out) && Files.list(out).findAny().isPresent(), "case " + i + " wrote into " + out);
    }

    // an earlier package is replaced unasked (as export and train replace their earlier outputs);
    // a file this command did not write is kept unless --overwrite
    assertEquals(0, pack(out).code());
    MainTest.Run again = pack(out);
    assertEquals(0, again.code(), again.err());
    Path jar = out.resolve("sst2-1.2.0.jar");
    Path pom = out.resolve("sst2-1.2.0.pom");
    for (Path mine : List.of(jar, pom)) {
      byte[] was = Files.readAllBytes(mine);
      Files.writeString(mine, "mine");
      MainTest.Run r = pack(out);
      assertEquals(2, r.code());
      assertEquals("lora4j package: " + mine + " already exists and is not a jar or pom 'lora4j package' wrote;"
          + " refusing to replace it (--overwrite replaces it)", r.err().strip());
      assertEquals("mine", Files.readString(mine));
      assertEquals(0, pack(out, "--overwrite").code());
      assertArrayEquals(was, Files.readAllBytes(mine));
    }
  }

  MainTest.Run packBase(Path exportDir, Path out, String... more) {
    List<String> args = new ArrayList<>(List.of("package", "--base", exportDir.toString(), "--name", "tiny-sst2",
        "--group-id", "com.example.bases", "--version", "2.0.0", "--out", out.toString()));
    args.addAll(List.of(more));
    return MainTest.run(args.toArray(String[]::new));
  }

  /** Runs {@code body} with the base-model cache in {@code cache} (as -Dlora4j.cache), restoring it after. */
  static <T> T withCache(Path cache, java.util.concurrent.Callable<T> body) throws Exception {
    String before = System.getProperty("lora4j.cache");
    System.setProperty("lora4j.cache", cache.toString());
    try {
      return body.call();
    } finally {
      if (before == null) {
        System.clearProperty("lora4j.cache");
      } else {
        System.setProperty("lora4j.cache", before);
      }
    }
  }

  @Test
  void aBaseJarHoldsTheServingFilesButNoAdapterAndOpensLikeTheExport() throws Exception {
    Path out = tmp.resolve("dist6");
    MainTest.Run r = packBase(export, out);
    assertEquals(0, r.code(), r.err());
    Path jarFile = out.resolve("tiny-sst2-2.0.0.jar");
    String dir = "META-INF/lora4j/bases/tiny-sst2/";
    String maven = "META-INF/maven/com.example.bases/tiny-sst2/";
    List<String> serving = List.of("tokenizer.json", "base.multi.onnx"); // exportTiny wrote --format multi only
    try (JarFile jar = new JarFile(jarFile.toFile())) {
      List<String> names = Collections.list(jar.entries()).stream().map(JarEntry::getName).toList();
      assertEquals(List.of("META-INF/", "META-INF/MANIFEST.MF", "META-INF/lora4j/", "META-INF/lora4j/bases/", dir,
          dir + "lora4j-base.json", dir + "export.json", dir + "tokenizer.json", dir + "base.multi.onnx",
          "META-INF/maven/", "META-INF/maven/com.example.bases/", maven, maven + "pom.xml", maven + "pom.properties"),
          names, "the serving files only: no sst2.* adapter file");
      long total = 0;
      for (String f : List.of("export.json", "tokenizer.json", "base.multi.onnx")) {
        assertArrayEquals(Files.readAllBytes(export.resolve(f)), bytes(jar, dir + f), f + ", byte for byte");
        total += Files.size(export.resolve(f));
      }
      JsonNode m = new ObjectMapper().readTree(bytes(jar, dir + "lora4j-base.json"));
      assertEquals(1, m.get("format").asInt());
      assertEquals("tiny-sst2", m.get("name").asText());
      assertEquals(AtomicFiles.sha256(export.resolve("export.json")), m.get("export_sha256").asText());
      assertEquals("[\"tokenizer.json\",\"base.multi.onnx\"]", m.get("files").toString());
      assertEquals(baseSha, m.get("base_onnx_sha256").asText());
      assertEquals(total, m.get("bytes").asLong());
      assertTrue(serving.stream().allMatch(f -> m.get("files").toString().contains(f)));
    }
    assertTrue(Files.readString(out.resolve("tiny-sst2-2.0.0.pom")).contains("<name>lora4j base tiny-sst2</name>"));
    assertTrue(r.out().contains("AdapterRuntime.openFromClasspath(\"tiny-sst2\"), or --base classpath:tiny-sst2"),
        r.out());
    // the same export packages to the same bytes, and an earlier base jar is replaced unasked
    byte[] first = Files.readAllBytes(jarFile);
    assertEquals(0, packBase(export, out).code());
    assertArrayEquals(first, Files.readAllBytes(jarFile));

    Path cache = tmp.resolve("cache6");
    try (URLClassLoader cl = new URLClassLoader(new URL[] {jarFile.toUri().toURL()}, null);
        AdapterRuntime fromJar = withCache(cache, () -> AdapterRuntime.openFromClasspath("tiny-sst2",
            RuntimeOptions.defaults().withDevice(Device.CPU), cl));
        AdapterRuntime fromDir = AdapterRuntime.open(export, RuntimeOptions.defaults().withDevice(Device.CPU))) {
      fromJar.load("sst2", adapterFile());
      fromDir.load("sst2", adapterFile());
      List<Prediction> got = fromJar.predict("sst2", TEXTS);
      List<Prediction> want = fromDir.predict("sst2", TEXTS);
      for (int i = 0; i < TEXTS.size(); i++) {
        assertArrayEquals(want.get(i).logits(), got.get(i).logits(), TEXTS.get(i)); // same graph bytes: exact
      }
      assertEquals(2, got.stream().map(Prediction::label).distinct().count(), "a constant answer proves little");
    }
    try (var s = Files.list(cache.resolve("bases"))) {
      assertEquals(List.of(cache.resolve("bases").resolve(AtomicFiles.sha256(export.resolve("export.json")))),
          s.toList(), "extracted under its export.json's hash, in the configured cache");
    }
  }

  @Test
  void runTakesAClasspathBase() throws Exception {
    Path out = tmp.resolve("dist7");
    assertEquals(0, packBase(export, out).code());
    MainTest.Run fromDir = MainTest.run("run", "--base", export.toString(), "--device", "cpu", "--adapter",
        adapterFile().toString(), TEXTS.get(0), TEXTS.get(1));
    assertEquals(0, fromDir.code(), fromDir.err());
    ClassLoader before = Thread.currentThread().getContextClassLoader();
    try (URLClassLoader cl = new URLClassLoader(new URL[] {out.resolve("tiny-sst2-2.0.0.jar").toUri().toURL()},
        before)) {
      Thread.currentThread().setContextClassLoader(cl); // what LORA4J_CLASSPATH gives the launcher's JVM
      MainTest.Run fromJar = withCache(tmp.resolve("cache7"), () -> MainTest.run("run", "--base",
          "classpath:tiny-sst2", "--device", "cpu", "--adapter", adapterFile().toString(), TEXTS.get(0), TEXTS.get(1)));
      assertEquals(0, fromJar.code(), fromJar.err());
      assertEquals(fromDir.out(), fromJar.out());
      MainTest.Run missing = withCache(tmp.resolve("cache7"), () -> MainTest.run("run", "--base", "classpath:nope",
          "--device", "cpu", "--adapter", adapterFile().toString(), "x"));
      assertEquals(2, missing.code());
      assertEquals("lora4j run: --base classpath:nope: no base 'nope' on the class path (no"
          + " META-INF/lora4j/bases/nope/lora4j-base.json); packaged bases there: tiny-sst2", missing.err().strip());
    } finally {
      Thread.currentThread().setContextClassLoader(before);
    }
  }

  /** Every serving file of a fuller export goes in: the mixed-batch graph and both int8 variants. */
  @Test
  void aBaseJarOfAMixedInt8ExportHoldsEveryGraphAndServesTheInt8Base() throws Exception {
    Path base = TinyBert.writeBaseModel(tmp.resolve("tiny8"), 3);
    Path adapter = ExportCommandTest.writeAdapter(tmp.resolve("in8"), "sst2",
        AtomicFiles.sha256(base.resolve("model.onnx")), new float[] {0.45f, -0.1f});
    Path full = tmp.resolve("export8");
    MainTest.Run e = MainTest.run("export", "--base", base.toString(), "--adapter", adapter.toString(), "--out",
        full.toString(), "--format", "multi,mixed", "--quantize", "int8");
    assertEquals(0, e.code(), e.err());
    Path out = tmp.resolve("dist10");
    assertEquals(0, packBase(full, out).code());
    try (JarFile jar = new JarFile(out.resolve("tiny-sst2-2.0.0.jar").toFile())) {
      assertEquals("[\"tokenizer.json\",\"base.multi.onnx\",\"base.multi.int8.onnx\",\"base.mixed.onnx\","
          + "\"base.mixed.int8.onnx\"]", new ObjectMapper().readTree(bytes(jar,
          "META-INF/lora4j/bases/tiny-sst2/lora4j-base.json")).get("files").toString());
    }
    RuntimeOptions int8 = RuntimeOptions.defaults().withDevice(Device.CPU).withInt8Base(true);
    try (URLClassLoader cl = new URLClassLoader(new URL[] {out.resolve("tiny-sst2-2.0.0.jar").toUri().toURL()}, null);
        AdapterRuntime fromJar = withCache(tmp.resolve("cache10"), () -> AdapterRuntime.openFromClasspath("tiny-sst2",
            int8, cl));
        AdapterRuntime fromDir = AdapterRuntime.open(full, int8)) {
      assertEquals("base.multi.int8.onnx", fromJar.baseGraph());
      fromJar.load("sst2", full.resolve("sst2.onnx_adapter"));
      fromDir.load("sst2", full.resolve("sst2.onnx_adapter"));
      for (String t : TEXTS) {
        assertArrayEquals(fromDir.predict("sst2", t).logits(), fromJar.predict("sst2", t).logits(), t);
      }
    }
  }

  /**
   * serve on a packaged base: it opens from the class path and loads the --adapter files (a packaged
   * base holds no adapters, so there is no directory of them to default to); the failing preload
   * stops it before it listens, so the test need not stop a server.
   */
  @Test
  void serveOpensAClasspathBaseAndLoadsItsAdaptersBeforeItListens() throws Exception {
    Path out = tmp.resolve("dist9");
    assertEquals(0, packBase(export, out).code());
    ClassLoader before = Thread.currentThread().getContextClassLoader();
    try (URLClassLoader cl = new URLClassLoader(new URL[] {out.resolve("tiny-sst2-2.0.0.jar").toUri().toURL()},
        before)) {
      Thread.currentThread().setContextClassLoader(cl);
      MainTest.Run r = withCache(tmp.resolve("cache9"), () -> MainTest.run("serve", "--base", "classpath:tiny-sst2",
          "--device", "cpu", "--port", "0", "--adapter", adapterFile().toString(), "--preload", "sst2,ghost"));
      assertEquals(Main.USAGE, r.code(), r.out() + r.err());
      assertTrue(r.out().contains("loaded sst2 "), r.out());
      assertTrue(r.err().contains("--preload: ") && r.err().contains("ghost.onnx_adapter: no such adapter file"),
          r.err());
      assertFalse(r.out().contains("serving"), "it never listened: " + r.out());
    } finally {
      Thread.currentThread().setContextClassLoader(before);
    }
  }

  @Test
  void aDamagedOrAdapterlessExportIsNotPackaged() throws Exception {
    Path out = tmp.resolve("dist8");
    Path damaged = tmp.resolve("damaged-export");
    Files.createDirectories(damaged);
    for (String f : List.of("export.json", "tokenizer.json", "base.multi.onnx")) {
      Files.copy(export.resolve(f), damaged.resolve(f));
    }
    byte[] g = Files.readAllBytes(damaged.resolve("base.multi.onnx"));
    g[g.length - 50] ^= 0x10;
    Files.write(damaged.resolve("base.multi.onnx"), g);
    MainTest.Run r = packBase(damaged, out);
    assertEquals(2, r.code());
    assertTrue(r.err().startsWith("lora4j package: " + damaged.resolve("base.multi.onnx") + ": its SHA-256 "), r.err());
    assertFalse(Files.exists(out) && Files.list(out).findAny().isPresent(), "a damaged export wrote into " + out);

    Files.delete(damaged.resolve("tokenizer.json"));
    r = packBase(damaged, out);
    assertEquals("lora4j package: " + damaged + ": the export has no tokenizer.json, which a packaged base serves",
        r.err().strip());
    MainTest.Run both = packBase(export, out, "--adapter", adapterFile().toString());
    assertEquals(2, both.code());
    assertTrue(both.err().startsWith("lora4j package: give exactly one of --adapter"), both.err());
  }

  static byte[] bytes(JarFile jar, String entry) throws IOException {
    try (InputStream in = jar.getInputStream(jar.getEntry(entry))) {
      return in.readAllBytes();
    }
  }
}
