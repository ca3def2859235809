package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.runtime.AdapterRuntime;
import dev.lora4j.runtime.Device;
import dev.lora4j.runtime.Prediction;
import dev.lora4j.runtime.RuntimeOptions;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The issue's "done when": a JVM project adds lora4j-runtime, a base artifact and an adapter
 * artifact as plain Maven dependencies and predicts, naming no file. The base and adapter jars from
 * {@code lora4j package} are installed with the command README gives into a temporary local repository, with this build's own lora4j jars (made
 * from the reactor's classes: they are in no repository), and a tiny consumer project is built
 * against it by a real Maven and run.
 *
 * <p>Nothing is installed into the user's repository: the temporary one is {@code maven.repo.local},
 * and third-party artifacts (ONNX Runtime, Jackson, the plugins) are copied into it from the user's
 * repository, read as a file:// remote repository ahead of Central, so the test needs no network
 * where the build already fetched them.
 */
class MavenConsumerTest {
  private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();
  private static final long MAVEN_TIMEOUT_S = 240;

  @Test
  void aConsumerProjectResolvesThePackagedBaseAndAdapterAndPredictsLikeTheFiles(@TempDir Path tmp)
      throws Exception {
    Path export = PackageCommandTest.exportTiny(tmp);
    Path dist = tmp.resolve("dist");
    MainTest.Run packed = MainTest.run("package", "--adapter", export.resolve("sst2.onnx_adapter").toString(),
        "--group-id", "com.example.adapters", "--artifact-id", "sst2-adapter", "--version", "1.0.0", "--out",
        dist.toString());
    assertEquals(0, packed.code(), packed.err());
    MainTest.Run packedBase = MainTest.run("package", "--base", export.toString(), "--name", "tiny-sst2",
        "--group-id", "com.example.bases", "--artifact-id", "tiny-base", "--version", "1.0.0", "--out",
        dist.toString());
    assertEquals(0, packedBase.code(), packedBase.err());

    String rootPom = Files.readString(ROOT.resolve("pom.xml"));
    String version = group(rootPom, "<artifactId>lora4j-parent</artifactId>\\s*<version>([^<]+)</version>");
    Path repo = tmp.resolve("repo");
    installReactor(repo, version);
    Path settings = tmp.resolve("settings.xml");
    // the user's repository first, as a remote one (read, never written); Central after it, for a
    // plugin a fresh machine's `mvn verify` never fetched (the install plugin). Snapshots only from
    // the temporary repository: a stale lora4j snapshot in the user's must not stand in for this build.
    String repository = """
          <id>user-repository</id>
          <url>%s</url>
          <releases><enabled>true</enabled><checksumPolicy>ignore</checksumPolicy></releases>
          <snapshots><enabled>false</enabled></snapshots>
        """.formatted(userRepository().toUri());
    Files.writeString(settings, """
        <settings>
          <profiles>
            <profile>
              <id>user-repository</id>
              <repositories><repository>%s</repository></repositories>
              <pluginRepositories><pluginRepository>%s</pluginRepository></pluginRepositories>
            </profile>
          </profiles>
          <activeProfiles><activeProfile>user-repository</activeProfile></activeProfiles>
        </settings>
        """.formatted(repository, repository));
    List<String> maven = List.of("mvn", "-B", "-q", "-s", settings.toString(), "-Dmaven.repo.local=" + repo);

    // the install command README gives, with the plugin named in full (no plugin-prefix lookup)
    mvn(tmp, maven, "org.apache.maven.plugins:maven-install-plugin:" + property(rootPom, "install-plugin.version")
        + ":install-file", "-Dfile=" + dist.resolve("sst2-adapter-1.0.0.jar"),
        "-DpomFile=" + dist.resolve("sst2-adapter-1.0.0.pom"));
    mvn(tmp, maven, "org.apache.maven.plugins:maven-install-plugin:" + property(rootPom, "install-plugin.version")
        + ":install-file", "-Dfile=" + dist.resolve("tiny-base-1.0.0.jar"),
        "-DpomFile=" + dist.resolve("tiny-base-1.0.0.pom"));

    Path consumer = tmp.resolve("consumer");
    copyTree(Path.of(getClass().getResource("/consumer").toURI()), consumer);
    Path pom = consumer.resolve("pom.xml");
    Files.writeString(pom, Files.readString(pom).replace("@LORA4J_VERSION@", version)
        .replace("@ADAPTER_GROUP@", "com.example.adapters").replace("@ADAPTER_ARTIFACT@", "sst2-adapter")
        .replace("@ADAPTER_VERSION@", "1.0.0").replace("@BASE_GROUP@", "com.example.bases")
        .replace("@BASE_ARTIFACT@", "tiny-base").replace("@BASE_VERSION@", "1.0.0").replace("@COMPILER_PLUGIN@", property(rootPom, "compiler-plugin.version"))
        .replace("@RESOURCES_PLUGIN@", property(rootPom, "resources-plugin.version")));
    Path cpFile = tmp.resolve("consumer.classpath");
    mvn(consumer, maven, "compile", "org.apache.maven.plugins:maven-dependency-plugin:"
        + property(rootPom, "dependency-plugin.version") + ":build-classpath", "-Dmdep.outputFile=" + cpFile);

    // everything on the consumer's class path came through the temporary repository
    List<String> cp = Arrays.asList(Files.readString(cpFile).strip().split(java.io.File.pathSeparator));
    assertTrue(cp.stream().allMatch(e -> Path.of(e).startsWith(repo)), "not from " + repo + ": " + cp);
    assertTrue(cp.contains(repo.resolve("com/example/adapters/sst2-adapter/1.0.0/sst2-adapter-1.0.0.jar").toString()),
        cp.toString());
    assertTrue(cp.contains(repo.resolve("com/example/bases/tiny-base/1.0.0/tiny-base-1.0.0.jar").toString()),
        cp.toString());
    assertTrue(cp.stream().anyMatch(e -> e.endsWith("lora4j-runtime-" + version + ".jar")), cp.toString());

    List<String> texts = PackageCommandTest.TEXTS;
    // the base is extracted into a cache of the test's own, not the user's
    Path cache = tmp.resolve("cache");
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dlora4j.cache=" + cache, "-cp", consumer.resolve("target/classes") + java.io.File.pathSeparator
            + String.join(java.io.File.pathSeparator, cp), "consumer.Main", "tiny-sst2", "sst2"));
    command.addAll(texts);
    String out = run(tmp, command);
    List<String> lines = out.lines().filter(l -> !l.isBlank()).toList();
    assertEquals(texts.size(), lines.size(), out);
    assertTrue(Files.isRegularFile(cache.resolve("bases").resolve(AtomicFiles.sha256(export.resolve("export.json")))
        .resolve("base.multi.onnx")), "the base was not extracted into " + cache);

    // the reference: the same adapter loaded from its file, in this JVM
    try (AdapterRuntime rt = AdapterRuntime.open(export, RuntimeOptions.defaults().withDevice(Device.CPU))) {
      rt.load("sst2", export.resolve("sst2.onnx_adapter"));
      List<Prediction> want = rt.predict("sst2", texts);
      for (int i = 0; i < texts.size(); i++) {
        String[] parts = lines.get(i).split(" ", 2);
        assertEquals(want.get(i).label(), parts[0], lines.get(i));
        String[] logits = parts[1].replaceAll("[\\[\\]]", "").split(", ");
        assertEquals(want.get(i).logits().length, logits.length, lines.get(i));
        for (int k = 0; k < logits.length; k++) {
          // 1e-5: another process, whose ONNX Runtime may split a reduction over threads differently
          assertEquals(want.get(i).logits()[k], Float.parseFloat(logits[k]), 1e-5, lines.get(i));
        }
      }
      assertEquals(2, want.stream().map(Prediction::label).distinct().count(), "a constant answer proves little");
    }
  }

  /**
   * This build's lora4j artifacts, laid out as an install would: the parent pom, and each module
   * built so far (the ones the runtime needs come before cli in the reactor) as a jar of its classes
   * plus its pom.
   */
  private static void installReactor(Path repo, String version) throws IOException {
    Path parent = repo.resolve("dev/lora4j/lora4j-parent/" + version);
    Files.createDirectories(parent);
    Files.copy(ROOT.resolve("pom.xml"), parent.resolve("lora4j-parent-" + version + ".pom"));
    Matcher modules = Pattern.compile("<module>([^<]+)</module>").matcher(Files.readString(ROOT.resolve("pom.xml")));
    while (modules.find()) {
      Path module = ROOT.resolve(modules.group(1));
      Path classes = module.resolve("target/classes");
      if (modules.group(1).equals("cli") || !Files.isDirectory(classes)) {
        continue;
      }
      String pom = Files.readString(module.resolve("pom.xml"));
      String artifact = group(pom, "</parent>\\s*<artifactId>([^<]+)</artifactId>");
      Path dir = repo.resolve("dev/lora4j/" + artifact + "/" + version);
      Files.createDirectories(dir);
      Files.copy(module.resolve("pom.xml"), dir.resolve(artifact + "-" + version + ".pom"));
      jar(classes, dir.resolve(artifact + "-" + version + ".jar"));
    }
  }

  private static void jar(Path classes, Path jar) throws IOException {
    try (OutputStream os = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(os);
        Stream<Path> files = Files.walk(classes)) {
      for (Path f : files.sorted().toList()) {
        String name = classes.relativize(f).toString().replace(java.io.File.separatorChar, '/');
        if (name.isEmpty()) {
          continue;
        }
        boolean dir = Files.isDirectory(f);
        j.putNextEntry(new JarEntry(dir ? name + "/" : name));
        if (!dir) {
          Files.copy(f, j);
        }
        j.closeEntry();
      }
    }
  }

  private static Path userRepository() {
    String configured = System.getProperty("lora4j.localRepository");
    return configured != null && !configured.isBlank() && !configured.contains("${")
        ? Path.of(configured) : Path.of(System.getProperty("user.home"), ".m2", "repository");
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target);
        }
      }
    }
  }

  private static void mvn(Path dir, List<String> maven, String... args) throws Exception {
    List<String> command = new ArrayList<>(maven);
    command.addAll(List.of(args));
    run(dir, command);
  }

  /** Runs a process in {@code dir}; its standard output, or a failure that shows both outputs. */
  private static String run(Path dir, List<String> command) throws Exception {
    Path out = Files.createTempFile(dir, "process", ".out");
    Path err = Files.createTempFile(dir, "process", ".err");
    Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectOutput(out.toFile())
        .redirectError(err.toFile()).start();
    if (!p.waitFor(MAVEN_TIMEOUT_S, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor();
      fail("timed out after " + MAVEN_TIMEOUT_S + " s: " + String.join(" ", command) + "\n" + Files.readString(out)
          + Files.readString(err));
    }
    if (p.exitValue() != 0) {
      fail("exit " + p.exitValue() + ": " + String.join(" ", command) + "\n" + Files.readString(out)
          + Files.readString(err));
    }
    return Files.readString(out, StandardCharsets.UTF_8);
  }

  private static String property(String pom, String name) {
    return group(pom, "<" + Pattern.quote(name) + ">([^<]+)</" + Pattern.quote(name) + ">");
  }

  private static String group(String text, String regex) {
    Matcher m = Pattern.compile(regex).matcher(text);
    if (!m.find()) {
      fail("no match for " + regex);
    }
    return m.group(1).strip();
  }
}
