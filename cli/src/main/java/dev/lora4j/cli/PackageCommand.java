package dev.lora4j.cli;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.export.AdapterFiles;
import dev.lora4j.models.export.AdapterPackage;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.io.InputFiles;
import dev.lora4j.runtime.AdapterRuntime;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.regex.Pattern;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code lora4j package}: an exported adapter as a jar with a pom, to ship as a Maven artifact. */
final class PackageCommand implements Command {
  /** Maven's own rule for group and artifact ids; versions get the same characters (they name files). */
  private static final Pattern COORDINATE = Pattern.compile("[A-Za-z0-9_.-]+");
  /** Every entry's time: the same adapter and coordinates give the same jar, byte for byte. */
  private static final LocalDateTime ENTRY_TIME = LocalDateTime.of(2000, 1, 1, 0, 0);
  /** How a pom this command wrote starts its name: an earlier one is replaced unasked. */
  private static final String POM_MARK = "lora4j adapter ";

  @Override
  public String name() {
    return "package";
  }

  @Override
  public String arguments() {
    return "";
  }

  @Override
  public String summary() {
    return "Package an exported adapter as a jar and pom, to ship it as a Maven artifact.";
  }

  @Override
  public String description() {
    return """
        Writes <artifact-id>-<version>.jar and .pom into --out. The jar holds the .onnx_adapter, its
        .adapter.json sidecar and a manifest (name, base model and its SHA-256, labels, ranks, bytes,
        provenance) under META-INF/lora4j/adapters/<name>/, and the pom under META-INF/maven/. An
        application that depends on the artifact loads it with AdapterRuntime.loadFromClasspath("<name>");
        serve and run take --adapter classpath:<name> (the ./lora4j launcher adds LORA4J_CLASSPATH).
        An earlier jar and pom of this command are replaced; other files only with --overwrite. Example:
          lora4j package --adapter export/sst2/sst2-sora.onnx_adapter --group-id com.example \\
            --version 1.0.0 --out export/maven
          mvn install:install-file -Dfile=export/maven/sst2-sora-1.0.0.jar \\
            -DpomFile=export/maven/sst2-sora-1.0.0.pom""";
  }

  @Override
  public Options options() {
    Options o = new Options();
    o.addOption(Option.builder().longOpt("adapter").hasArg().argName("file.onnx_adapter")
        .desc("The exported adapter (its .adapter.json sidecar beside it).").get());
    o.addOption(Option.builder().longOpt("name").hasArg().argName("name")
        .desc("Name it loads under (default: the file's name without .onnx_adapter).").get());
    o.addOption(Option.builder().longOpt("group-id").hasArg().argName("id").desc("Maven groupId (required).").get());
    o.addOption(Option.builder().longOpt("artifact-id").hasArg().argName("id")
        .desc("Maven artifactId (default: the name).").get());
    o.addOption(Option.builder().longOpt("version").hasArg().argName("v").desc("Maven version (required).").get());
    o.addOption(Option.builder().longOpt("out").hasArg().argName("dir")
        .desc("Directory to write the jar and pom into (default: the current directory).").get());
    o.addOption(Option.builder().longOpt("overwrite").desc("Replace a file of the jar's or pom's name that this command did not write.").get());
    return o;
  }

  @Override
  public int run(CommandLine line, PrintStream out) throws IOException {
    // checked here, not declared required, so that 'package --help' works without them
    for (String required : new String[] {"adapter", "group-id", "version"}) {
      if (!line.hasOption(required)) {
        throw new Lora4jException("--" + required + " is required (see lora4j package --help)");
      }
    }
    Path file = Path.of(line.getOptionValue("adapter"));
    String fileName = file.getFileName() == null ? "" : file.getFileName().toString();
    if (!fileName.endsWith(OrtAdapterFile.EXTENSION) || Files.isDirectory(file)) {
      throw new Lora4jException("--adapter " + file + ": not an .onnx_adapter file; package takes an exported adapter"
          + " (lora4j export writes <name>.onnx_adapter with its .adapter.json)");
    }
    String name = line.getOptionValue("name",
        fileName.substring(0, fileName.length() - OrtAdapterFile.EXTENSION.length()));
    if (!ExportLayout.isValidAdapterName(name) || name.equals(AdapterRuntime.BASE)) {
      throw new Lora4jException("--name '" + name + "' is not a valid adapter name (letters, digits, . _ -; not "
          + AdapterRuntime.BASE + ")");
    }
    String groupId = coordinate(line, "group-id", null);
    String artifactId = coordinate(line, "artifact-id", name);
    String version = coordinate(line, "version", null);
    Path dir = Path.of(line.getOptionValue("out", "."));
    Path jar = dir.resolve(artifactId + "-" + version + ".jar");
    Path pom = dir.resolve(artifactId + "-" + version + ".pom");
    boolean overwrite = line.hasOption("overwrite");
    // as export and train treat their outputs: nothing, or an earlier output of this command, is
    // replaced unasked; anything else only with --overwrite
    for (Path target : new Path[] {jar, pom}) {
      if (Files.exists(target, LinkOption.NOFOLLOW_LINKS) && !overwrite && !earlierPackage(target)) {
        throw new Lora4jException(target + " already exists and is not a jar or pom 'lora4j package' wrote; refusing"
            + " to replace it (--overwrite replaces it)");
      }
      if (Files.isDirectory(target)) {
        throw new Lora4jException(target + " is a directory; refusing to replace it, even with --overwrite");
      }
    }

    // The bytes packaged are the bytes checked (sidecar tied to the file, base recorded, finite
    // weights): read before the check and again after it, and refused if they differ.
    Path sidecar = AdapterFiles.sidecarOf(file);
    byte[] adapterBytes = raw(file, InputFiles.ARRAY_LIMIT, "ONNX Runtime adapter file");
    byte[] sidecarBytes = raw(sidecar, InputFiles.JSON_LIMIT, "adapter sidecar");
    Adapter adapter = AdapterFiles.read(file);
    if (!Arrays.equals(adapterBytes, raw(file, InputFiles.ARRAY_LIMIT, "ONNX Runtime adapter file"))
        || !Arrays.equals(sidecarBytes, raw(sidecar, InputFiles.JSON_LIMIT, "adapter sidecar"))) {
      throw new Lora4jException(file + ": changed while being packaged; package it again");
    }
    String tool = Provenance.toolName();
    AdapterPackage manifest = new AdapterPackage(AdapterPackage.FORMAT, name, ExportLayout.onnxAdapter(name),
        ExportLayout.sidecar(name), adapter.base().id(), adapter.base().onnxSha256(), adapter.head().labels(),
        adapter.ranks(), adapterBytes.length + (long) sidecarBytes.length, tool.substring(tool.indexOf(' ') + 1),
        adapter.provenance(), groupId, artifactId, version);
    byte[] pomXml = pom(manifest).getBytes(StandardCharsets.UTF_8);

    Map<String, byte[]> entries = new LinkedHashMap<>();
    String at = AdapterPackage.directory(name);
    entries.put("META-INF/lora4j/", null);
    entries.put(AdapterPackage.ROOT, null);
    entries.put(at, null);
    entries.put(at + AdapterPackage.MANIFEST, manifest.toJson());
    entries.put(at + manifest.adapterFile(), adapterBytes);
    entries.put(at + manifest.sidecarFile(), sidecarBytes);
    String maven = "META-INF/maven/" + groupId + "/" + artifactId + "/";
    entries.put("META-INF/maven/", null);
    entries.put("META-INF/maven/" + groupId + "/", null);
    entries.put(maven, null);
    entries.put(maven + "pom.xml", pomXml);
    entries.put(maven + "pom.properties", ("groupId=" + groupId + "\nartifactId=" + artifactId + "\nversion=" + version
        + "\n").getBytes(StandardCharsets.ISO_8859_1));

    Manifest mf = new Manifest();
    mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
    mf.getMainAttributes().putValue("Created-By", tool);
    AtomicFiles.write(jar, os -> {
      JarOutputStream j = new JarOutputStream(os);
      put(j, "META-INF/", null);
      put(j, JarFile.MANIFEST_NAME, manifestBytes(mf));
      for (Map.Entry<String, byte[]> e : entries.entrySet()) {
        put(j, e.getKey(), e.getValue());
      }
      j.finish();
    });
    AtomicFiles.write(pom, pomXml);
    out.printf(Locale.ROOT, "packaged adapter %s (%s, base %s, labels %s) as %s:%s:%s%n", name,
        ExportCommand.size(manifest.bytes()), manifest.baseId(), manifest.labels(), groupId, artifactId, version);
    out.printf(Locale.ROOT, "  %s%n  %s%n", jar, pom);
    out.printf(Locale.ROOT, "install it: mvn install:install-file -Dfile=%s -DpomFile=%s%n", jar, pom);
    out.printf(Locale.ROOT, "load it:    AdapterRuntime.loadFromClasspath(\"%s\"), or --adapter classpath:%s%n", name,
        name);
    return 0;
  }

  /** Whether {@code file} is a jar or pom this command wrote (a regular file, not a link). */
  private static boolean earlierPackage(Path file) {
    if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
      return false;
    }
    if (file.getFileName().toString().endsWith(".pom")) {
      try {
        return Files.size(file) < 64 * 1024 && Files.readString(file).contains("<name>" + POM_MARK);
      } catch (IOException | java.io.UncheckedIOException e) {
        return false;
      }
    }
    try (JarFile j = new JarFile(file.toFile())) {
      return j.getEntry(AdapterPackage.ROOT) != null;
    } catch (IOException e) {
      return false;
    }
  }

  /** A file's bytes; a missing one is left to AdapterFiles.read, which says what it is for. */
  private static byte[] raw(Path file, long limit, String what) {
    return Files.isRegularFile(file) ? InputFiles.readAll(file, limit, what) : new byte[0];
  }

  private static byte[] manifestBytes(Manifest mf) throws IOException {
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    mf.write(b);
    return b.toByteArray();
  }

  private static void put(JarOutputStream j, String entry, byte[] bytes) throws IOException {
    JarEntry e = new JarEntry(entry);
    e.setTimeLocal(ENTRY_TIME);
    j.putNextEntry(e);
    if (bytes != null) {
      j.write(bytes);
    }
    j.closeEntry();
  }

  private static String coordinate(CommandLine line, String option, String fallback) {
    String v = line.getOptionValue(option, fallback);
    if (v == null || !COORDINATE.matcher(v).matches()) {
      throw new Lora4jException("--" + option + " '" + v + "' is not a Maven coordinate (letters, digits, . _ -)");
    }
    return v;
  }

  /** A pom with the coordinates and no dependencies: the jar is data, read by whichever lora4j-runtime the user has. */
  static String pom(AdapterPackage m) {
    return """
        <?xml version="1.0" encoding="UTF-8"?>
        <project xmlns="http://maven.apache.org/POM/4.0.0"
                 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                 xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
          <modelVersion>4.0.0</modelVersion>
          <groupId>%s</groupId>
          <artifactId>%s</artifactId>
          <version>%s</version>
          <packaging>jar</packaging>
          <name>%s%s</name>
          <description>%s</description>
        </project>
        """.formatted(m.groupId(), m.artifactId(), m.version(), POM_MARK, m.name(), xml("lora4j adapter '" + m.name()
        + "' for base model " + m.baseId() + " (ONNX sha256 " + m.baseOnnxSha256() + "), labels " + m.labels()
        + "; load it with AdapterRuntime.loadFromClasspath(\"" + m.name() + "\")"));
  }

  private static String xml(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
