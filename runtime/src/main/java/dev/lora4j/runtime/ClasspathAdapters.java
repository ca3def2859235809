package dev.lora4j.runtime;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.export.AdapterPackage;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.io.InputFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.JarURLConnection;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.TreeSet;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * Adapters packaged as jars ({@code lora4j package}) and found on a class path: the manifest
 * {@code META-INF/lora4j/adapters/<name>/lora4j-adapter.json} beside the adapter's two files.
 * Loading copies the two files to a private temporary directory and reads them exactly as files
 * ({@link dev.lora4j.models.export.AdapterFiles}), so a tampered or truncated resource is refused
 * with the same words as a tampered file, naming the resource instead of the copy.
 */
final class ClasspathAdapters {
  private ClasspathAdapters() {}

  /**
   * One packaged adapter: where its manifest was found (the adapter's files lie beside it), and
   * what the manifest says. It is the registry's source, so an evicted adapter reloads from it.
   */
  record Source(String name, URL manifestUrl, AdapterPackage manifest) {
    URL file(String file) {
      String m = manifestUrl.toString();
      try {
        return new URL(m.substring(0, m.length() - AdapterPackage.MANIFEST.length()) + file);
      } catch (IOException e) {
        throw new Lora4jException(manifestUrl + ": cannot name " + file + " beside it (" + e.getMessage() + ")", e);
      }
    }

    /** The class-path directory the adapter's files are in, as messages show it. */
    String where() {
      String m = manifestUrl.toString();
      return m.substring(0, m.length() - AdapterPackage.MANIFEST.length());
    }

    @Override
    public String toString() {
      return "classpath:" + name + " (" + where() + ")";
    }
  }

  /** Something loaded from a file; the registry's loader for a path. */
  @FunctionalInterface
  interface FileLoad<T> {
    T load(Path adapterFile);
  }

  /**
   * Finds the packaged adapter {@code name} in {@code loader}: refused when there is none (naming the
   * ones there are), or more than one (two jars package the same name, and which one a class loader
   * returns first is an accident of the class path order).
   */
  static Source find(String name, ClassLoader loader) {
    if (name == null || !ExportLayout.isValidAdapterName(name)) {
      throw new Lora4jException("'" + name + "' is not a valid adapter name (letters, digits, . _ -)");
    }
    List<URL> found;
    try {
      found = Collections.list(loader.getResources(AdapterPackage.directory(name) + AdapterPackage.MANIFEST));
    } catch (IOException e) {
      throw new Lora4jException("cannot search the class path for adapter '" + name + "': " + e.getMessage(), e);
    }
    if (found.isEmpty()) {
      List<String> there = names(loader);
      throw new Lora4jException("no adapter '" + name + "' on the class path (no " + AdapterPackage.directory(name)
          + AdapterPackage.MANIFEST + "); " + (there.isEmpty()
          ? "no packaged adapter is there at all: put the jar 'lora4j package' wrote on the class path (a Maven"
          + " dependency; for ./lora4j, LORA4J_CLASSPATH)"
          : "packaged adapters there: " + String.join(", ", there)));
    }
    List<String> distinct = found.stream().map(URL::toString).distinct().toList();
    if (distinct.size() > 1) {
      throw new Lora4jException("adapter '" + name + "' is on the class path " + distinct.size() + " times: "
          + String.join(", ", distinct) + "; keep one of those jars (which one loads would depend on class path"
          + " order)");
    }
    URL url = found.get(0);
    byte[] json = read(url, InputFiles.JSON_LIMIT, "adapter package manifest");
    return new Source(name, url, AdapterPackage.parse(json, url.toString(), name));
  }

  /**
   * Copies the source's two files into a fresh temporary directory under their packaged names,
   * hands the adapter file to {@code load}, and deletes the copies whatever happens. A refusal names
   * the resource, not the copy.
   */
  static <T> T load(Source source, FileLoad<T> load) {
    Path dir;
    try {
      dir = Files.createTempDirectory("lora4j-classpath-");
    } catch (IOException e) {
      throw new Lora4jException("cannot make a temporary directory to load " + source + ": " + e.getMessage(), e);
    }
    try {
      AdapterPackage m = source.manifest();
      copy(source.file(m.sidecarFile()), dir.resolve(m.sidecarFile()), InputFiles.JSON_LIMIT);
      Path adapterFile = dir.resolve(m.adapterFile());
      copy(source.file(m.adapterFile()), adapterFile, InputFiles.ARRAY_LIMIT);
      try {
        return load.load(adapterFile);
      } catch (Lora4jException e) {
        String copyDir = dir.toAbsolutePath() + dir.getFileSystem().getSeparator();
        throw new Lora4jException(e.getMessage().replace(copyDir, source.where()), e);
      }
    } finally {
      AtomicFiles.deleteRecursively(dir);
    }
  }

  /**
   * Copies at most {@code limit + 1} bytes: one more than the file reader accepts, so an oversized
   * resource is refused by it (with its words) without first filling the disk.
   */
  private static void copy(URL from, Path to, long limit) {
    try (InputStream in = open(from); OutputStream out = Files.newOutputStream(to)) {
      byte[] buf = new byte[1 << 16];
      long left = limit + 1;
      int n;
      while (left > 0 && (n = in.read(buf, 0, (int) Math.min(buf.length, left))) > 0) {
        out.write(buf, 0, n);
        left -= n;
      }
    } catch (IOException e) {
      throw new Lora4jException(from + ": cannot read it (" + InputFiles.describe(e) + ")", e);
    }
  }

  static byte[] read(URL url, long limit, String what) {
    try (InputStream in = open(url)) {
      byte[] bytes = in.readNBytes((int) limit);
      if (in.read() >= 0) {
        throw new Lora4jException(url + ": over the " + limit + "-byte limit for an " + what);
      }
      return bytes;
    } catch (IOException e) {
      throw new Lora4jException(url + ": cannot read the " + what + " (" + InputFiles.describe(e) + ")", e);
    }
  }

  /** Uncached: a jar replaced on disk must not be read through a stale cached handle. */
  static InputStream open(URL url) throws IOException {
    var c = url.openConnection();
    c.setUseCaches(false);
    return c.getInputStream();
  }

  /** The packaged adapter names {@code loader} can see, sorted: for the message that one is not there. */
  static List<String> names(ClassLoader loader) {
    return names(loader, AdapterPackage.ROOT, AdapterPackage.MANIFEST);
  }

  /** The names of packages under {@code rootDir} (each a directory holding {@code manifest}), sorted. */
  static List<String> names(ClassLoader loader, String rootDir, String manifest) {
    TreeSet<String> names = new TreeSet<>();
    try {
      for (URL root : Collections.list(loader.getResources(rootDir))) {
        if (root.getProtocol().equals("jar")) {
          JarURLConnection c = (JarURLConnection) root.openConnection();
          c.setUseCaches(false);
          try (JarFile jar = c.getJarFile()) {
            jar.stream().map(e -> e.getName()).forEach(n -> addName(names, n, rootDir, manifest));
          }
        } else if (root.getProtocol().equals("file")) {
          Path dir = Path.of(root.toURI());
          try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> Files.isRegularFile(p.resolve(manifest)))
                .forEach(p -> names.add(p.getFileName().toString()));
          }
        }
      }
    } catch (IOException | URISyntaxException | RuntimeException e) {
      names.add("(the class path could not be listed: " + e.getMessage() + ")");
    }
    return new ArrayList<>(names);
  }

  private static void addName(TreeSet<String> names, String entry, String rootDir, String manifest) {
    if (entry.startsWith(rootDir) && entry.endsWith("/" + manifest)) {
      String rest = entry.substring(rootDir.length(), entry.length() - manifest.length() - 1);
      if (!rest.contains("/")) {
        names.add(rest);
      }
    }
  }
}
