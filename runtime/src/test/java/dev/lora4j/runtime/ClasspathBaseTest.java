package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.export.BasePackage;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.io.AtomicFiles;
import java.io.IOException;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bases packaged as jars ({@code lora4j package --base}; the jars themselves are tested in the cli
 * module, here a directory class path laid out the same way): extracted once into the cache, opened
 * there exactly like the export directory, and refused when the cache was changed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClasspathBaseTest {
  /** What the packager puts beside export.json for this export (multi and mixed graphs, no int8). */
  static final List<String> SERVING = List.of(ExportLayout.TOKENIZER, ExportLayout.MULTI_GRAPH,
      ExportLayout.MIXED_GRAPH);

  ExportFixture fx;
  Path tmp;
  Path root;
  String exportSha;

  @BeforeAll
  void export(@TempDir Path tmp) throws Exception {
    this.tmp = tmp;
    fx = new ExportFixture(tmp.resolve("fx"), 23);
    root = packaged(tmp.resolve("cp"), "tiny-base");
    exportSha = AtomicFiles.sha256(fx.dir.resolve(ExportLayout.MANIFEST));
  }

  static RuntimeOptions cpu() {
    return RuntimeOptions.defaults().withDevice(Device.CPU);
  }

  /** Lays out the fixture's base as {@code name}, as the packager does, under a class-path root. */
  Path packaged(Path root, String name) throws IOException {
    Path dir = root.resolve(BasePackage.directory(name));
    Files.createDirectories(dir);
    long bytes = 0;
    for (String f : Stream.concat(Stream.of(ExportLayout.MANIFEST), SERVING.stream()).toList()) {
      Files.copy(fx.dir.resolve(f), dir.resolve(f));
      bytes += Files.size(dir.resolve(f));
    }
    BasePackage m = new BasePackage(BasePackage.FORMAT, name, AtomicFiles.sha256(fx.dir.resolve(ExportLayout.MANIFEST)),
        SERVING, "tiny", null, bytes, "test", "g", name, "1");
    Files.write(dir.resolve(BasePackage.MANIFEST), m.toJson());
    return root;
  }

  @Test
  void aPackagedBasePredictsAndEmbedsExactlyWhatItsExportDirectoryDoes() throws Exception {
    Path cache = tmp.resolve("cache1");
    try (URLClassLoader cl = ClasspathAdapterTest.loader(root);
        AdapterRuntime packaged = AdapterRuntime.openFromClasspath("tiny-base", cpu(), cl, cache);
        AdapterRuntime direct = AdapterRuntime.open(fx.dir, cpu())) {
      for (String name : List.of("beta", "delta")) {
        packaged.load(name, fx.adapterFile(name));
        direct.load(name, fx.adapterFile(name));
        List<Prediction> got = packaged.predict(name, ExportFixture.TEXTS);
        List<Prediction> want = direct.predict(name, ExportFixture.TEXTS);
        for (int t = 0; t < ExportFixture.TEXTS.size(); t++) {
          // the same graph bytes in the same kind of session: bit-identical, no tolerance
          assertArrayEquals(want.get(t).logits(), got.get(t).logits(), name + ": " + ExportFixture.TEXTS.get(t));
        }
      }
      List<float[]> got = packaged.embed(AdapterRuntime.BASE, ExportFixture.TEXTS);
      List<float[]> want = direct.embed(AdapterRuntime.BASE, ExportFixture.TEXTS);
      for (int t = 0; t < want.size(); t++) {
        assertArrayEquals(want.get(t), got.get(t), ExportFixture.TEXTS.get(t));
      }
      assertEquals(direct.base(), packaged.base());
    }
    // extracted under the hash of export.json, exactly the packaged files, no temporary beside them
    Path dir = cache.resolve("bases").resolve(exportSha);
    assertEquals(List.of(dir), list(cache.resolve("bases")));
    List<Path> files = new ArrayList<>(SERVING.stream().map(dir::resolve).toList());
    files.add(dir.resolve(ExportLayout.MANIFEST));
    assertEquals(files.stream().sorted().toList(), list(dir));
    for (Path f : files) {
      assertArrayEquals(Files.readAllBytes(fx.dir.resolve(f.getFileName().toString())), Files.readAllBytes(f));
    }
  }

  @Test
  void aTamperedCacheIsRefusedNamingTheDirectoryToDelete() throws Exception {
    Path cache = tmp.resolve("cache2");
    Path dir = cache.resolve("bases").resolve(exportSha);
    try (URLClassLoader cl = ClasspathAdapterTest.loader(root)) {
      AdapterRuntime.openFromClasspath("tiny-base", cpu(), cl, cache).close();
      Path graph = dir.resolve(ExportLayout.MULTI_GRAPH);
      byte[] good = Files.readAllBytes(graph);
      byte[] bad = good.clone();
      bad[bad.length - 100] ^= 0x40; // one weight bit: the graph still parses, and would answer differently
      Files.write(graph, bad);
      String m = assertThrows(Lora4jException.class,
          () -> AdapterRuntime.openFromClasspath("tiny-base", cpu(), cl, cache)).getMessage();
      assertTrue(m.startsWith("classpath:tiny-base (" + ClasspathAdapterTest.url(root) + "META-INF/lora4j/bases/"
          + "tiny-base/), extracted to " + dir + ": " + graph + ": its SHA-256 "), m);
      assertTrue(m.endsWith("; delete " + dir + " and it is extracted again"), m);

      // export.json edited to record the tampered graph's hash: refused too, by the key it is cached under
      Path exportJson = dir.resolve(ExportLayout.MANIFEST);
      String json = Files.readString(exportJson);
      Files.writeString(exportJson, json.replace(AtomicFiles.sha256(good), AtomicFiles.sha256(bad)));
      assertFalse(json.equals(Files.readString(exportJson)), "the edit did not apply");
      m = assertThrows(Lora4jException.class,
          () -> AdapterRuntime.openFromClasspath("tiny-base", cpu(), cl, cache)).getMessage();
      assertTrue(m.startsWith(exportJson + ": its SHA-256 "), m);
      assertTrue(m.endsWith(": the cache of classpath:tiny-base (" + ClasspathAdapterTest.url(root)
          + "META-INF/lora4j/bases/tiny-base/) was changed; delete " + dir + " and it is extracted again"), m);

      // as the message says: deleted, it is extracted again and opens
      AtomicFiles.deleteRecursively(dir);
      try (AdapterRuntime rt = AdapterRuntime.openFromClasspath("tiny-base", cpu(), cl, cache)) {
        assertEquals("tiny", rt.base().id());
      }
      assertArrayEquals(good, Files.readAllBytes(graph));
    }
  }

  @Test
  void anUnknownNameListsThePackagedBasesThatAreThere() throws Exception {
    Path two = packaged(tmp.resolve("cp-two"), "other");
    Path cache = tmp.resolve("cache3");
    try (URLClassLoader cl = ClasspathAdapterTest.loader(root, two)) {
      assertEquals("no base 'minilm' on the class path (no META-INF/lora4j/bases/minilm/lora4j-base.json); packaged"
          + " bases there: other, tiny-base", assertThrows(Lora4jException.class,
          () -> AdapterRuntime.openFromClasspath("minilm", cpu(), cl, cache)).getMessage());
    }
    try (URLClassLoader cl = ClasspathAdapterTest.loader(fx.dir)) {
      assertTrue(assertThrows(Lora4jException.class, () -> AdapterRuntime.openFromClasspath("tiny-base", cpu(), cl,
          cache)).getMessage().endsWith("no packaged base is there at all: put the jar 'lora4j package --base' wrote"
          + " on the class path (a Maven dependency; for ./lora4j, LORA4J_CLASSPATH)"));
    }
    assertFalse(Files.exists(cache), "nothing extracted for a refused name");
  }

  @Test
  void theSameNameInTwoClassPathRootsIsRefusedNamingBoth() throws Exception {
    Path again = packaged(tmp.resolve("cp-again"), "tiny-base");
    try (URLClassLoader cl = ClasspathAdapterTest.loader(root, again)) {
      String m = assertThrows(Lora4jException.class,
          () -> AdapterRuntime.openFromClasspath("tiny-base", cpu(), cl, tmp.resolve("cache4"))).getMessage();
      assertTrue(m.startsWith("base 'tiny-base' is on the class path 2 times: "), m);
      assertTrue(m.contains(ClasspathAdapterTest.url(root) + "META-INF")
          && m.contains(ClasspathAdapterTest.url(again) + "META-INF"), m);
    }
  }

  @Test
  void aManifestWhoseFilesLeaveItsDirectoryIsRefused() throws Exception {
    Path bad = packaged(tmp.resolve("cp-bad"), "escape");
    Path manifest = bad.resolve(BasePackage.directory("escape")).resolve(BasePackage.MANIFEST);
    Files.writeString(manifest, Files.readString(manifest).replace("\"tokenizer.json\"", "\"../tiny-base/x\""));
    try (URLClassLoader cl = ClasspathAdapterTest.loader(bad)) {
      assertEquals(ClasspathAdapterTest.url(manifest) + ": field 'files' is '../tiny-base/x', not a file name in the"
          + " base's directory", assertThrows(Lora4jException.class,
          () -> AdapterRuntime.openFromClasspath("escape", cpu(), cl, tmp.resolve("cache5"))).getMessage());
    }
  }

  @Test
  void concurrentFirstOpensFromTwoThreadsExtractOnceAndBothWork() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try (URLClassLoader cl = ClasspathAdapterTest.loader(root);
        AdapterRuntime direct = AdapterRuntime.open(fx.dir, cpu())) {
      direct.load("gamma", fx.adapterFile("gamma"));
      float[] want = direct.predict("gamma", "a good movie").logits();

      // through the public path: both open, both predict what the directory predicts
      Path cache = tmp.resolve("cache6");
      CyclicBarrier start = new CyclicBarrier(2);
      List<Future<float[]>> opens = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        opens.add(pool.submit(() -> {
          start.await();
          try (AdapterRuntime rt = AdapterRuntime.openFromClasspath("tiny-base", cpu(), cl, cache)) {
            rt.load("gamma", fx.adapterFile("gamma"));
            return rt.predict("gamma", "a good movie").logits();
          }
        }));
      }
      for (Future<float[]> f : opens) {
        assertArrayEquals(want, f.get());
      }
      assertEquals(List.of(cache.resolve("bases").resolve(exportSha)), list(cache.resolve("bases")),
          "one directory, no temporary left");

      // and the extraction itself: exactly one of two racing calls writes the directory
      ClasspathBases.Source source = ClasspathBases.find("tiny-base", cl);
      Path cache2 = tmp.resolve("cache7");
      CyclicBarrier again = new CyclicBarrier(2);
      List<Future<ClasspathBases.Extracted>> extracts = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        extracts.add(pool.submit(() -> {
          again.await();
          return ClasspathBases.extract(source, cache2);
        }));
      }
      ClasspathBases.Extracted a = extracts.get(0).get();
      ClasspathBases.Extracted b = extracts.get(1).get();
      assertEquals(a.dir(), b.dir());
      assertTrue(a.fresh() ^ b.fresh(), "fresh: " + a.fresh() + ", " + b.fresh());
      assertFalse(ClasspathBases.extract(source, cache2).fresh(), "a third call extracts nothing");
    } finally {
      pool.shutdownNow();
    }
  }

  private static List<Path> list(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.sorted().toList();
    }
  }
}
