package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.export.AdapterPackage;
import dev.lora4j.models.export.ExportLayout;
import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Packaged adapters found on a class path (here a directory class path; jars written by
 * {@code lora4j package} are tested in the cli module): found by name, refused with the file
 * reader's own words when damaged, and reloaded from the class path after an eviction.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClasspathAdapterTest {
  ExportFixture fx;
  Path tmp;

  @BeforeAll
  void export(@TempDir Path tmp) throws Exception {
    this.tmp = tmp;
    fx = new ExportFixture(tmp.resolve("fx"), 21);
  }

  AdapterRuntime open() {
    return AdapterRuntime.open(fx.dir, RuntimeOptions.defaults().withDevice(Device.CPU));
  }

  /** Lays out {@code name} as the packager does, under a class-path root; returns the root. */
  Path packaged(Path root, String name, UnaryOperator<byte[]> adapterEdit) throws IOException {
    Path dir = root.resolve(AdapterPackage.directory(name));
    Files.createDirectories(dir);
    byte[] adapter = Files.readAllBytes(fx.adapterFile(name));
    Files.write(dir.resolve(ExportLayout.onnxAdapter(name)), adapterEdit.apply(adapter));
    Files.copy(fx.dir.resolve(ExportLayout.sidecar(name)), dir.resolve(ExportLayout.sidecar(name)));
    AdapterPackage m = new AdapterPackage(AdapterPackage.FORMAT, name, ExportLayout.onnxAdapter(name),
        ExportLayout.sidecar(name), "tiny", null, List.of(), java.util.Map.of(), adapter.length, "test", null, "g", name,
        "1");
    Files.write(dir.resolve(AdapterPackage.MANIFEST), m.toJson());
    return root;
  }

  static URLClassLoader loader(Path... roots) throws IOException {
    URL[] urls = new URL[roots.length];
    for (int i = 0; i < roots.length; i++) {
      urls[i] = roots[i].toUri().toURL();
    }
    return new URLClassLoader(urls, null); // no parent: only these roots are searched
  }

  @Test
  void aPackagedAdapterPredictsExactlyWhatItsFilePredicts() throws Exception {
    Path root = packaged(tmp.resolve("cp1"), "beta", b -> b);
    try (AdapterRuntime rt = open(); URLClassLoader cl = loader(root)) {
      AdapterInfo i = rt.loadFromClasspath("beta", cl);
      rt.load("beta-file", fx.adapterFile("beta"));
      assertTrue(i.source().startsWith("classpath:beta ("), i.source());
      assertEquals(rt.describe("beta-file").info().labels(), i.labels());
      List<Prediction> packaged = rt.predict("beta", ExportFixture.TEXTS);
      List<Prediction> file = rt.predict("beta-file", ExportFixture.TEXTS);
      for (int t = 0; t < ExportFixture.TEXTS.size(); t++) {
        // the same bytes through the same session: bit-identical, no tolerance
        assertArrayEquals(file.get(t).logits(), packaged.get(t).logits(), ExportFixture.TEXTS.get(t));
        // and the merged graph's answer, which neither load path computed (1e-4: float noise
        // between the merged and the multi-adapter graph, as in AdapterRuntimeTest)
        float[] want = fx.expected.get("beta").get(ExportFixture.TEXTS.get(t));
        assertTrue(ExportFixture.maxAbsDiff(want, packaged.get(t).logits()) < 1e-4, ExportFixture.TEXTS.get(t));
      }
    }
  }

  @Test
  void anUnknownNameListsThePackagedAdaptersThatAreThere() throws Exception {
    Path root = packaged(tmp.resolve("cp2"), "alpha", b -> b);
    packaged(root, "gamma", b -> b);
    try (AdapterRuntime rt = open(); URLClassLoader cl = loader(root)) {
      Lora4jException e = assertThrows(Lora4jException.class, () -> rt.loadFromClasspath("sentiment", cl));
      assertEquals("no adapter 'sentiment' on the class path (no META-INF/lora4j/adapters/sentiment/"
          + "lora4j-adapter.json); packaged adapters there: alpha, gamma", e.getMessage());
      assertTrue(rt.adapters().isEmpty());
    }
    try (AdapterRuntime rt = open(); URLClassLoader cl = loader(tmp.resolve("fx"))) {
      assertTrue(assertThrows(Lora4jException.class, () -> rt.loadFromClasspath("alpha", cl)).getMessage()
          .endsWith("no packaged adapter is there at all: put the jar 'lora4j package' wrote on the class path (a Maven"
              + " dependency; for ./lora4j, LORA4J_CLASSPATH)"));
    }
  }

  @Test
  void theSameNameInTwoClassPathRootsIsRefusedNamingBoth() throws Exception {
    Path a = packaged(tmp.resolve("cp3a"), "alpha", b -> b);
    Path b = packaged(tmp.resolve("cp3b"), "alpha", x -> x);
    try (AdapterRuntime rt = open(); URLClassLoader cl = loader(a, b)) {
      String m = assertThrows(Lora4jException.class, () -> rt.loadFromClasspath("alpha", cl)).getMessage();
      assertTrue(m.startsWith("adapter 'alpha' is on the class path 2 times: "), m);
      assertTrue(m.contains(url(a) + "META-INF") && m.contains(url(b) + "META-INF"), m);
      assertTrue(rt.adapters().isEmpty());
    }
  }

  /**
   * A damaged resource gets the words a damaged file gets: the same message, with the resource's
   * class-path location where the file's directory was.
   */
  @Test
  void aTamperedOrTruncatedResourceIsRefusedWithTheFileReadersWords() throws Exception {
    List<UnaryOperator<byte[]>> damages = List.of(
        b -> { byte[] c = b.clone(); c[c.length / 2] ^= 0x40; return c; },
        b -> Arrays.copyOf(b, b.length / 3),
        b -> new byte[0]);
    for (int d = 0; d < damages.size(); d++) {
      Path root = packaged(tmp.resolve("cp4-" + d), "gamma", damages.get(d));
      Path resourceDir = root.resolve(AdapterPackage.directory("gamma"));
      try (AdapterRuntime rt = open(); URLClassLoader cl = loader(root)) {
        String fromFile = assertThrows(Lora4jException.class,
            () -> rt.load("gamma", resourceDir.resolve(ExportLayout.onnxAdapter("gamma")))).getMessage();
        String fromClasspath = assertThrows(Lora4jException.class, () -> rt.loadFromClasspath("gamma", cl))
            .getMessage();
        assertEquals(fromFile.replace(resourceDir.toAbsolutePath() + "/", url(resourceDir)),
            fromClasspath, "damage " + d);
        assertFalse(fromClasspath.contains("lora4j-classpath-"), "names the temporary copy: " + fromClasspath);
        assertTrue(rt.adapters().isEmpty());
      }
    }
  }

  @Test
  void aManifestThatNamesAnotherAdapterOrLeavesItsDirectoryIsRefused() throws Exception {
    Path root = packaged(tmp.resolve("cp5"), "delta", b -> b);
    Path manifest = root.resolve(AdapterPackage.directory("delta")).resolve(AdapterPackage.MANIFEST);
    String good = Files.readString(manifest);
    try (AdapterRuntime rt = open(); URLClassLoader cl = loader(root)) {
      Files.writeString(manifest, good.replace("\"name\" : \"delta\"", "\"name\" : \"alpha\""));
      assertEquals(url(manifest) + ": the manifest names adapter 'alpha', but it lies in the directory of 'delta'",
          assertThrows(Lora4jException.class, () -> rt.loadFromClasspath("delta", cl)).getMessage());
      Files.writeString(manifest, good.replace("\"adapter_file\" : \"delta.onnx_adapter\"",
          "\"adapter_file\" : \"../alpha/alpha.onnx_adapter\""));
      assertEquals(url(manifest) + ": field 'adapter_file' is '../alpha/alpha.onnx_adapter', not a file name in the"
          + " adapter's directory", assertThrows(Lora4jException.class, () -> rt.loadFromClasspath("delta", cl))
          .getMessage());
      Files.writeString(manifest, good.replace("\"format\" : 1", "\"format\" : 9"));
      assertTrue(assertThrows(Lora4jException.class, () -> rt.loadFromClasspath("delta", cl)).getMessage()
          .startsWith(url(manifest) + ": package format 9 is not one this lora4j reads"));
      Files.writeString(manifest, "[1, 2]");
      assertEquals(url(manifest) + ": not an adapter package manifest (expected a JSON object)",
          assertThrows(Lora4jException.class, () -> rt.loadFromClasspath("delta", cl)).getMessage());
      assertTrue(rt.adapters().isEmpty());
    } finally {
      Files.writeString(manifest, good);
    }
  }

  @Test
  void anEvictedPackagedAdapterReloadsFromTheClassPathAndLeavesNoCopies() throws Exception {
    Path root = packaged(tmp.resolve("cp6"), "alpha", b -> b);
    packaged(root, "beta", b -> b);
    Path temp = Path.of(System.getProperty("java.io.tmpdir"));
    long copiesBefore = copies(temp);
    try (URLClassLoader cl = loader(root);
        AdapterRuntime rt = AdapterRuntime.open(fx.dir, RuntimeOptions.defaults().withDevice(Device.CPU)
            .withAdapterBudget(1))) { // 1 byte: each load evicts the one before
      rt.loadFromClasspath("alpha", cl);
      float[] first = rt.predict("alpha", "a good movie").logits();
      rt.loadFromClasspath("beta", cl);
      assertTrue(rt.evictions() >= 1, "nothing was evicted: " + rt.residency());
      assertArrayEquals(first, rt.predict("alpha", "a good movie").logits(), "reloaded from the class path");
      assertTrue(rt.describe("alpha").info().source().startsWith("classpath:alpha"));
    }
    assertEquals(copiesBefore, copies(temp), "temporary copies left in " + temp);
  }

  private static long copies(Path temp) throws IOException {
    try (Stream<Path> s = Files.list(temp)) {
      return s.filter(p -> p.getFileName().toString().startsWith("lora4j-classpath-")).count();
    }
  }

  /** How a class loader's URLs spell a path ({@code file:/x}, where a URI says {@code file:///x}). */
  static String url(Path p) throws IOException {
    return p.toUri().toURL().toString();
  }
}
