package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.export.ExportLayout;
import dev.lora4j.models.export.ExportManifest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runtime takes the modules and shapes adapters are checked against from export.json's
 * {@code adapter_layout}, never by parsing a graph, so it runs without the ONNX protobuf classes
 * (protobuf-java is an optional dependency of models, absent from lora4j-runtime's class path).
 */
class LayoutFromManifestTest {
  private static final RuntimeOptions CPU = RuntimeOptions.defaults().withDevice(Device.CPU);
  /** Between the merged model's answer and the runtime's adapter graphs (as in AdapterRuntimeTest). */
  private static final double TOLERANCE = 1e-4;

  @TempDir static Path tmp;
  static ExportFixture fx;

  @BeforeAll
  static void export() throws Exception {
    fx = new ExportFixture(tmp, 31);
  }

  @Test
  void anExportThatRecordsNoAdapterLayoutIsRefusedWithExportAgain(@TempDir Path t) throws Exception {
    Path dir = SilentWrongAnswersTest.copy(fx.dir, t.resolve("export"));
    ExportManifest m = ExportManifest.read(dir);
    new ExportManifest(m.formatVersion(), m.tool(), m.created(), m.base(), m.tokenizer(), m.multiGraph(), null, null,
        m.adapters(), m.sha256()).write(dir.resolve(ExportLayout.MANIFEST));
    Lora4jException e = assertThrows(Lora4jException.class, () -> AdapterRuntime.open(dir, CPU).close());
    assertEquals(dir.resolve(ExportLayout.MANIFEST) + ": records no adapter_layout (the modules and shapes the "
        + "multi-adapter graph takes adapters for; exports written before the field record it only with the mixed "
        + "graph, as mixed_layout); export again with this lora4j", e.getMessage());
  }

  /** Exports written before adapter_layout hold the same layout as mixed_layout when they have a mixed graph. */
  @Test
  void anOlderExportWithMixedLayoutStillServes(@TempDir Path t) throws Exception {
    Path dir = SilentWrongAnswersTest.copy(fx.dir, t.resolve("export"));
    Path json = dir.resolve(ExportLayout.MANIFEST);
    String text = Files.readString(json);
    assertTrue(text.contains("\"adapter_layout\""), text);
    Files.writeString(json, text.replace("\"adapter_layout\"", "\"mixed_layout\""));
    try (AdapterRuntime rt = AdapterRuntime.open(dir, CPU)) {
      rt.load("alpha");
      String text0 = ExportFixture.TEXTS.get(0);
      assertTrue(ExportFixture.maxAbsDiff(fx.expected.get("alpha").get(text0), rt.predict("alpha", text0).logits())
          <= TOLERANCE);
    }
  }

  @Test
  void aLayoutWhoseHiddenSizeDisagreesWithTheBaseIsRefusedOnRead(@TempDir Path t) throws Exception {
    Path dir = SilentWrongAnswersTest.copy(fx.dir, t.resolve("export"));
    ExportManifest m = ExportManifest.read(dir);
    var layout = new dev.lora4j.models.adapter.MixedBatchStacks.Layout(m.adapterLayout().hidden() + 1,
        m.adapterLayout().modules());
    new ExportManifest(m.formatVersion(), m.tool(), m.created(), m.base(), m.tokenizer(), m.multiGraph(),
        m.mixedGraph(), layout, m.adapters(), m.sha256()).write(dir.resolve(ExportLayout.MANIFEST));
    Lora4jException e = assertThrows(Lora4jException.class, () -> AdapterRuntime.open(dir, CPU).close());
    assertTrue(e.getMessage().startsWith(dir.resolve(ExportLayout.MANIFEST) + ": adapter_layout gives hidden size"),
        e.getMessage());
  }

  /**
   * The promise behind dropping protobuf-java from the runtime's dependencies: a JVM whose class
   * path lacks it opens an export, loads an adapter and answers through every entry point
   * (SmallStackMain: predict, submit, predictMixed) as this JVM does.
   */
  @Test
  void theRuntimeServesWithoutProtobufOnTheClassPath() throws Exception {
    List<String> kept = new ArrayList<>();
    List<String> dropped = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
      (Path.of(entry).getFileName().toString().startsWith("protobuf-java") ? dropped : kept).add(entry);
    }
    assertEquals(1, dropped.size(), "expected one protobuf-java jar on the test class path: " + dropped);
    String text = ExportFixture.TEXTS.get(1);
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", String.join(java.io.File.pathSeparator, kept), SmallStackMain.class.getName(), fx.dir.toString(),
        "alpha", text).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(180, TimeUnit.SECONDS), "the JVM did not finish");
    assertEquals(0, p.exitValue(), "exit " + p.exitValue() + "; output:\n" + out);
    List<String> answers = out.lines().filter(l -> l.matches("[-0-9.E ]+")).toList();
    assertEquals(3, answers.size(), out);
    float[] expected = fx.expected.get("alpha").get(text);
    for (String line : answers) {
      assertTrue(ExportFixture.maxAbsDiff(expected, NativeStackTest.floats(line)) <= TOLERANCE, line);
    }
  }
}
