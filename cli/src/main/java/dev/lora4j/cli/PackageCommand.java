package dev.lora4j.cli;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.export.AdapterFiles;
import dev.lora4j.models.export.AdapterPackage;
import dev.lora4j.models.export.BasePackage;
import dev.lora4j.models.export.ExportManifest;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.io.InputFiles;
import dev.lora4j.runtime.AdapterRuntime;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
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

/**
 * {@code lora4j package}: an exported adapter, or an export's base (its serving files), as a jar
 * with a pom, to ship as a Maven artifact.
 */
final class PackageCommand implements Command {
  /** Maven's own rule for group and artifact ids; versions get the same characters (they name files). */
  private static final Pattern COORDINATE = Pattern.compile("[A-Za-z0-9_.-]+");
  /** Every entry's time: the same adapter and coordinates give the same jar, byte for byte. */
  private static final LocalDateTime ENTRY_TIME = LocalDateTime.of(2000, 1, 1, 0, 0);
  /** How a pom this command wrote starts its name: an earlier one is replaced unasked. */
  private static final String POM_MARK = "lora4j adapter ";
  private static final String BASE_POM_MARK = "lora4j base ";

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
    return "Package an exported adapter, or an export's base, as a jar and pom, to ship it as a Maven artifact.";
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
            -DpomFile=export/maven/sst2-sora-1.0.0.pom
        With --base <export dir> instead, the jar holds the export's serving files (export.json,
        tokenizer, multi-adapter graph; the mixed-batch graph, int8 variants and external data where
        exported; no adapter files) under META-INF/lora4j/bases/<name>/, each checked against the
        SHA-256 export.json records. AdapterRuntime.openFromClasspath("<name>") opens it (extracted once
        into the cache, LORA4J_CACHE); serve and run take --base classpath:<name>. Example:
          lora4j package --base export/sst2 --name minilm-sst2 --group-id com.example --version 1.0.0 \\
            --out export/maven""";
  }

  @Override
  public Options options() {
    Options o = new Options();
    o.addOption(Option.builder().longOpt("adapter").hasArg().argName("file.onnx_adapter")
        .desc("The exported adapter (its .adapter.json sidecar beside it).").get());
    o.addOption(Option.builder().longOpt("base").hasArg().argName("export dir")
        .desc("Instead of --adapter: an export directory whose base (serving files, no adapters) to package.")
        .get());
    o.addOption(Option.builder().longOpt("name").hasArg().argName("name")
        .desc("Name it loads under (default: the file's name without .onnx_adapter; for --base, the directory's"
            + " name).").get());
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
    if (line.hasOption("adapter") == line.hasOption("base")) {
      throw new Lora4jException("give exactly one of --adapter <file.onnx_adapter> and --base <export dir> (see lora4j"
          + " package --help)");
    }
    for (String required : new String[] {"group-id", "version"}) {
      if (!line.hasOption(required)) {
        throw new Lora4jException("--" + required + " is required (see lora4j package --help)");
      }
    }
    if (line.hasOption("base")) {
      return packageBase(line, out);
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
    Path[] targets = targets(line, artifactId, version);
    Path jar = targets[0];
    Path pom = targets[1];

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

    Map<String, AtomicFiles.StreamWriter> entries = new LinkedHashMap<>();
    String at = AdapterPackage.directory(name);
    entries.put(AdapterPackage.ROOT, null);
    entries.put(at, null);
    entries.put(at + AdapterPackage.MANIFEST, bytes(manifest.toJson()));
    entries.put(at + manifest.adapterFile(), bytes(adapterBytes));
    entries.put(at + manifest.sidecarFile(), bytes(sidecarBytes));
    writeJar(jar, pom, pomXml, entries, groupId, artifactId, version, tool);
    out.printf(Locale.ROOT, "packaged adapter %s (%s, base %s, labels %s) as %s:%s:%s%n", name,
        ExportCommand.size(manifest.bytes()), manifest.baseId(), manifest.labels(), groupId, artifactId, version);
    out.printf(Locale.ROOT, "  %s%n  %s%n", jar, pom);
    out.printf(Locale.ROOT, "install it: mvn install:install-file -Dfile=%s -DpomFile=%s%n", jar, pom);
    out.printf(Locale.ROOT, "load it:    AdapterRuntime.loadFromClasspath(\"%s\"), or --adapter classpath:%s%n", name,
        name);
    return 0;
  }

  /**
   * {@code --base}: the export's serving files streamed into the jar (a MiniLM multi graph is about
   * 90 MB), each hashed on the way and refused unless it matches what the packaged export.json
   * records, so a damaged export never becomes an artifact.
   */
  private int packageBase(CommandLine line, PrintStream out) throws IOException {
    Path dir = InputFiles.requireDirectory(Path.of(line.getOptionValue("base")), "export directory");
    Path abs = dir.toAbsolutePath().normalize();
    String name = line.getOptionValue("name", abs.getFileName() == null ? "" : abs.getFileName().toString());
    if (!ExportLayout.isValidAdapterName(name)) {
      throw new Lora4jException("--name '" + name + "' is not a valid base name (letters, digits, . _ -)");
    }
    String groupId = coordinate(line, "group-id", null);
    String artifactId = coordinate(line, "artifact-id", name);
    String version = coordinate(line, "version", null);
    Path[] targets = targets(line, artifactId, version);

    // the export.json packaged is the one checked: read before parsing and again after it
    Path manifestFile = dir.resolve(ExportLayout.MANIFEST);
    byte[] exportJson = InputFiles.readAll(manifestFile, InputFiles.JSON_LIMIT, "export manifest");
    ExportManifest m = ExportManifest.read(dir);
    if (!Arrays.equals(exportJson, InputFiles.readAll(manifestFile, InputFiles.JSON_LIMIT, "export manifest"))) {
      throw new Lora4jException(manifestFile + ": changed while being packaged; package it again");
    }
    List<String> files = servingFiles(dir, m);
    long bytes = exportJson.length;
    for (String f : files) {
      bytes += Files.size(dir.resolve(f));
    }
    String tool = Provenance.toolName();
    BasePackage manifest = new BasePackage(BasePackage.FORMAT, name, AtomicFiles.sha256(exportJson), files,
        m.base().id(), m.base().onnxSha256(), bytes, tool.substring(tool.indexOf(' ') + 1), groupId, artifactId,
        version);
    byte[] pomXml = pom(groupId, artifactId, version, BASE_POM_MARK + name, "lora4j base '" + name + "': the"
        + " serving files of an export of base model " + m.base().id() + " (ONNX sha256 " + m.base().onnxSha256()
        + "); open it with AdapterRuntime.openFromClasspath(\"" + name + "\")").getBytes(StandardCharsets.UTF_8);

    Map<String, AtomicFiles.StreamWriter> entries = new LinkedHashMap<>();
    String at = BasePackage.directory(name);
    entries.put(BasePackage.ROOT, null);
    entries.put(at, null);
    entries.put(at + BasePackage.MANIFEST, bytes(manifest.toJson()));
    entries.put(at + ExportLayout.MANIFEST, bytes(exportJson));
    for (String f : files) {
      entries.put(at + f, o -> copyChecked(dir, f, m, o));
    }
    writeJar(targets[0], targets[1], pomXml, entries, groupId, artifactId, version, tool);
    out.printf(Locale.ROOT, "packaged base %s (%s: %s, %s) as %s:%s:%s%n", name, m.base().id(),
        String.join(", ", files), ExportCommand.size(bytes), groupId, artifactId, version);
    out.printf(Locale.ROOT, "  %s%n  %s%n", targets[0], targets[1]);
    out.printf(Locale.ROOT, "install it: mvn install:install-file -Dfile=%s -DpomFile=%s%n", targets[0], targets[1]);
    out.printf(Locale.ROOT, "open it:    AdapterRuntime.openFromClasspath(\"%s\"), or --base classpath:%s%n", name,
        name);
    return 0;
  }

  /**
   * What a runtime opens from an export, none of it per adapter: the tokenizer, the multi-adapter
   * graph and, where exported, the mixed-batch graph, their int8 variants and external data.
   */
  static List<String> servingFiles(Path dir, ExportManifest m) {
    if (m.multiGraph() == null) {
      throw new Lora4jException(dir + ": this export has no multi-adapter base graph, which a packaged base serves;"
          + " export with --format multi");
    }
    List<String> files = new ArrayList<>();
    String tokenizer = m.tokenizer() == null ? ExportLayout.TOKENIZER : m.tokenizer();
    if (!Files.isRegularFile(dir.resolve(tokenizer))) {
      throw new Lora4jException(dir + ": the export has no " + tokenizer + ", which a packaged base serves");
    }
    files.add(tokenizer);
    for (String graph : Arrays.asList(m.multiGraph(), m.mixedGraph())) {
      if (graph == null) {
        continue;
      }
      for (String g : Arrays.asList(graph, m.int8Graphs().get(graph))) {
        if (g == null) {
          continue;
        }
        files.add(g);
        if (Files.isRegularFile(dir.resolve(g + ".data"))) {
          files.add(g + ".data"); // external data, for graphs past protobuf's 2 GB
        }
      }
    }
    return files;
  }

  /** Streams {@code dir/name} into the jar entry, refused unless its SHA-256 is what export.json records. */
  private static void copyChecked(Path dir, String name, ExportManifest m, OutputStream out) throws IOException {
    Path file = dir.resolve(name);
    InputFiles.requireRegularFile(file, "export file");
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
        out.write(buf, 0, n);
      }
    }
    // external data has a recorded hash only where the exporter wrote one; every graph has one
    if (!name.endsWith(".data") || m.sha256().containsKey(name)) {
      m.requireRecordedHash(file, name, HexFormat.of().formatHex(md.digest()));
    }
  }

  /**
   * The jar and pom files, refused unless replaceable: as export and train treat their outputs,
   * nothing, or an earlier output of this command, is replaced unasked; anything else only with
   * --overwrite.
   */
  private static Path[] targets(CommandLine line, String artifactId, String version) {
    Path dir = Path.of(line.getOptionValue("out", "."));
    Path jar = dir.resolve(artifactId + "-" + version + ".jar");
    Path pom = dir.resolve(artifactId + "-" + version + ".pom");
    boolean overwrite = line.hasOption("overwrite");
    for (Path target : new Path[] {jar, pom}) {
      if (Files.exists(target, LinkOption.NOFOLLOW_LINKS) && !overwrite && !earlierPackage(target)) {
        throw new Lora4jException(target + " already exists and is not a jar or pom 'lora4j package' wrote; refusing"
            + " to replace it (--overwrite replaces it)");
      }
      if (Files.isDirectory(target)) {
        throw new Lora4jException(target + " is a directory; refusing to replace it, even with --overwrite");
      }
    }
    return new Path[] {jar, pom};
  }

  /** Writes the jar (the lora4j entries, then the Maven ones) and the pom, each atomically. */
  private static void writeJar(Path jar, Path pom, byte[] pomXml, Map<String, AtomicFiles.StreamWriter> lora4j,
      String groupId, String artifactId, String version, String tool) {
    Map<String, AtomicFiles.StreamWriter> entries = new LinkedHashMap<>();
    entries.put("META-INF/lora4j/", null);
    entries.putAll(lora4j);
    String maven = "META-INF/maven/" + groupId + "/" + artifactId + "/";
    entries.put("META-INF/maven/", null);
    entries.put("META-INF/maven/" + groupId + "/", null);
    entries.put(maven, null);
    entries.put(maven + "pom.xml", bytes(pomXml));
    entries.put(maven + "pom.properties", bytes(("groupId=" + groupId + "\nartifactId=" + artifactId + "\nversion="
        + version + "\n").getBytes(StandardCharsets.ISO_8859_1)));

    Manifest mf = new Manifest();
    mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
    mf.getMainAttributes().putValue("Created-By", tool);
    AtomicFiles.write(jar, os -> {
      JarOutputStream j = new JarOutputStream(os);
      put(j, "META-INF/", null);
      put(j, JarFile.MANIFEST_NAME, bytes(manifestBytes(mf)));
      for (Map.Entry<String, AtomicFiles.StreamWriter> e : entries.entrySet()) {
        put(j, e.getKey(), e.getValue());
      }
      j.finish();
    });
    AtomicFiles.write(pom, pomXml);
  }

  private static AtomicFiles.StreamWriter bytes(byte[] b) {
    return o -> o.write(b);
  }

  /** Whether {@code file} is a jar or pom this command wrote (a regular file, not a link). */
  private static boolean earlierPackage(Path file) {
    if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
      return false;
    }
    if (file.getFileName().toString().endsWith(".pom")) {
      try {
        String text = Files.size(file) < 64 * 1024 ? Files.readString(file) : "";
        return text.contains("<name>" + POM_MARK) || text.contains("<name>" + BASE_POM_MARK);
      } catch (IOException | java.io.UncheckedIOException e) {
        return false;
      }
    }
    try (JarFile j = new JarFile(file.toFile())) {
      return j.getEntry(AdapterPackage.ROOT) != null || j.getEntry(BasePackage.ROOT) != null;
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

  private static void put(JarOutputStream j, String entry, AtomicFiles.StreamWriter content) throws IOException {
    JarEntry e = new JarEntry(entry);
    e.setTimeLocal(ENTRY_TIME);
    j.putNextEntry(e);
    if (content != null) {
      // the jar stream stays open for the next entry, whatever the writer does with its stream
      content.write(new java.io.FilterOutputStream(j) {
        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          out.write(b, off, len);
        }

        @Override
        public void close() {}
      });
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
    return pom(m.groupId(), m.artifactId(), m.version(), POM_MARK + m.name(), "lora4j adapter '" + m.name()
        + "' for base model " + m.baseId() + " (ONNX sha256 " + m.baseOnnxSha256() + "), labels " + m.labels()
        + "; load it with AdapterRuntime.loadFromClasspath(\"" + m.name() + "\")");
  }

  private static String pom(String groupId, String artifactId, String version, String name, String description) {
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
          <name>%s</name>
          <description>%s</description>
        </project>
        """.formatted(groupId, artifactId, version, name, xml(description));
  }

  private static String xml(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
