package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * docs/CLI.md is the real --help of every command; the README's commands exist and CI runs each. Run with
 * {@code -Dlora4j.updateDocs=true} to rewrite docs/CLI.md after changing a command's help.
 */
class CliReferenceTest {
  static final Path ROOT = Path.of("..");

  @Test
  void docsCliEqualsTheHelp() throws Exception {
    Path doc = ROOT.resolve("docs/CLI.md");
    String expected = Main.standard().reference();
    if (Boolean.getBoolean("lora4j.updateDocs")) {
      Files.writeString(doc, expected, StandardCharsets.UTF_8);
    }
    assertEquals(expected, Files.readString(doc, StandardCharsets.UTF_8),
        "docs/CLI.md is out of date: mvn -pl cli -am test -Dtest=CliReferenceTest -Dlora4j.updateDocs=true "
            + "-Dsurefire.failIfNoSpecifiedTests=false");
  }

  @Test
  void everyCommandTheReadmeShowsExists() throws Exception {
    String readme = Files.readString(ROOT.resolve("README.md"), StandardCharsets.UTF_8);
    String check = Files.readString(ROOT.resolve("scripts/readme-check.sh"), StandardCharsets.UTF_8);
    readme.lines().filter(l -> l.startsWith("./lora4j ")).forEach(l -> {
      String command = l.split("\\s+")[1];
      assertTrue(command.startsWith("-") || Main.standard().commands().containsKey(command),
          "README runs unknown command: " + l);
      assertTrue(check.contains(l.strip()), "scripts/readme-check.sh (run by CI) does not run: " + l);
    });
    assertTrue(readme.contains("mvn -B -ntp verify"), "README names the CI test command");
    assertTrue(Files.readString(ROOT.resolve(".ci/run")).contains("mvn -B -ntp verify"));
  }
}
