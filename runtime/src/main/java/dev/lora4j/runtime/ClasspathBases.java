package dev.lora4j.runtime;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.export.BasePackage;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.io.InputFiles;
import dev.lora4j.models.io.OutputKind;
import java.io.IOException;
import java.io.InputStream;
import java.net.MalformedURLException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;

/**
 * Bases packaged as jars ({@code lora4j package --base}) and found on a class path: the manifest
 * {@code META-INF/lora4j/bases/<name>/lora4j-base.json} beside {@code export.json} and the serving
 * files. ONNX Runtime and the tokenizer read files, so a base is extracted once into
 * {@code <cache>/bases/<SHA-256 of its export.json>/} and opened there like any export directory;
 * {@link AdapterRuntime#open(Path, RuntimeOptions)} then checks every file against the hashes that
 * export.json records, and export.json itself is checked against the key, so a changed cache is
 * refused, never served.
 */
final class ClasspathBases {
  /** One JVM extracts one base at a time: a second thread finds the first one's directory. */
  private static final Object EXTRACTION = new Object();
  /**
   * The cache directory as an output no existing directory counts as: an extraction never
   * replaces one, another process's or a damaged one, which a reader may be opening right now.
   */
  private static final OutputKind CACHE_ENTRY = new OutputKind("an extracted base being written",
      ExportLayout.MANIFEST, file -> false, n -> false);

  private ClasspathBases() {}

  /** One packaged base: where its manifest was found (its files lie beside it), and what it says. */
  record Source(String name, URL manifestUrl, BasePackage manifest) {
    URL file(String file) {
      String m = manifestUrl.toString();
      try {
        return new URL(m.substring(0, m.length() - BasePackage.MANIFEST.length()) + file);
      } catch (MalformedURLException e) {
        throw new Lora4jException(manifestUrl + ": cannot name " + file + " beside it (" + e.getMessage() + ")", e);
      }
    }

    @Override
    public String toString() {
      String m = manifestUrl.toString();
      return "classpath:" + name + " (" + m.substring(0, m.length() - BasePackage.MANIFEST.length()) + ")";
    }
  }

  /** An extracted base: its directory, and whether this call extracted it (false: it was there). */
  record Extracted(Path dir, boolean fresh) {}

  /**
   * Finds the packaged base {@code name} in {@code loader}: refused when there is none (naming the
   * ones there are) or more than one (which a class loader returns first is class path order).
   */
  static Source find(String name, ClassLoader loader) {
    if (name == null || !ExportLayout.isValidAdapterName(name)) {
      throw new Lora4jException("'" + name + "' is not a valid base name (letters, digits, . _ -)");
    }
    String manifest = BasePackage.directory(name) + BasePackage.MANIFEST;
    List<URL> found;
    try {
      found = Collections.list(loader.getResources(manifest));
    } catch (IOException e) {
      throw new Lora4jException("cannot search the class path for base '" + name + "': " + e.getMessage(), e);
    }
    if (found.isEmpty()) {
      List<String> there = ClasspathAdapters.names(loader, BasePackage.ROOT, BasePackage.MANIFEST);
      throw new Lora4jException("no base '" + name + "' on the class path (no " + manifest + "); " + (there.isEmpty()
          ? "no packaged base is there at all: put the jar 'lora4j package --base' wrote on the class path (a Maven"
          + " dependency; for ./lora4j, LORA4J_CLASSPATH)"
          : "packaged bases there: " + String.join(", ", there)));
    }
    List<String> distinct = found.stream().map(URL::toString).distinct().toList();
    if (distinct.size() > 1) {
      throw new Lora4jException("base '" + name + "' is on the class path " + distinct.size() + " times: "
          + String.join(", ", distinct) + "; keep one of those jars (which one opens would depend on class path"
          + " order)");
    }
    URL url = found.get(0);
    byte[] json = ClasspathAdapters.read(url, InputFiles.JSON_LIMIT, "base package manifest");
    return new Source(name, url, BasePackage.parse(json, url.toString(), name));
  }

  /**
   * The source's files in {@code <cacheRoot>/bases/<SHA-256 of its export.json>/}, extracted unless
   * there already. The directory appears whole or not at all (built beside it and renamed), so a
   * second JVM extracting at the same time never sees half of one; the one that renames second
   * drops its copy and uses the first one's.
   */
  static Extracted extract(Source source, Path cacheRoot) {
    URL exportUrl = source.file(ExportLayout.MANIFEST);
    byte[] exportJson = ClasspathAdapters.read(exportUrl, InputFiles.JSON_LIMIT, "export manifest");
    String key = AtomicFiles.sha256(exportJson);
    Path dir = cacheRoot.toAbsolutePath().normalize().resolve("bases").resolve(key);
    boolean fresh = false;
    synchronized (EXTRACTION) {
      if (!Files.isDirectory(dir)) {
        try {
          AtomicFiles.writeDirectory(dir, CACHE_ENTRY, false, tmp -> {
            Files.write(tmp.resolve(ExportLayout.MANIFEST), exportJson);
            for (String f : source.manifest().files()) {
              copy(source.file(f), tmp.resolve(f));
            }
          });
          fresh = true;
        } catch (Lora4jException e) {
          if (!Files.isDirectory(dir)) {
            throw new Lora4jException("cannot extract " + source + " into " + dir + ": " + e.getMessage(), e);
          }
          // another process renamed its complete copy into place first: that one is used
        }
      }
    }
    // open() trusts export.json for every other file's hash, so export.json must be the packaged one
    Path cached = dir.resolve(ExportLayout.MANIFEST);
    String actual = Files.isRegularFile(cached) ? AtomicFiles.sha256(cached) : "(missing)";
    if (!actual.equals(key)) {
      throw new Lora4jException(cached + ": " + (actual.equals("(missing)") ? "missing" : "its SHA-256 "
          + actual.substring(0, 12) + "… is not the " + key.substring(0, 12) + "… of the packaged one")
          + ": the cache of " + source + " was changed; " + deleteHint(dir));
    }
    return new Extracted(dir, fresh);
  }

  static String deleteHint(Path dir) {
    return "delete " + dir + " and it is extracted again";
  }

  private static void copy(URL from, Path to) {
    try (InputStream in = ClasspathAdapters.open(from)) {
      Files.copy(in, to);
    } catch (IOException e) {
      throw new Lora4jException(from + ": cannot read it (" + InputFiles.describe(e) + ")", e);
    }
  }
}
