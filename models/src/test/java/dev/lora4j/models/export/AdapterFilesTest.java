package dev.lora4j.models.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.testing.SyntheticAdapters;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.adapter.WeightBounds;
import dev.lora4j.models.adapter.ortformat.MultiAdapterParameters;
import dev.lora4j.models.adapter.ortformat.OrtAdapter;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import dev.lora4j.models.adapter.ortformat.OrtAdapterParameter;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.tensor.Matrix;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * An {@code .onnx_adapter} and its sidecar are read back exactly, and every way of damaging or
 * editing one of them that used to change answers silently is refused with a message naming the
 * file and what is wrong.
 */
class AdapterFilesTest {
  static final String BASE_SHA = "ab".repeat(32);
  static final String Q = "encoder.layer.0.attention.self.query";
  static final String V = "encoder.layer.1.attention.self.value";

  @TempDir Path dir;

  static Adapter adapter(String name) {
    Random r = new Random(5);
    List<LowRankModule> modules = List.of(
        LowRankModule.lora(Q, SyntheticAdapters.random(r, 3, 16, 0.1), SyntheticAdapters.random(r, 16, 3, 0.1), 1),
        LowRankModule.lora(V, SyntheticAdapters.random(r, 2, 16, 0.1), SyntheticAdapters.random(r, 16, 2, 0.1), 1));
    return new Adapter(name, new BaseModelRef("tiny", BASE_SHA), Adapter.byName(modules),
        TaskHead.classifier(TaskHead.Pooling.MEAN, SyntheticAdapters.random(r, 2, 16, 0.1), new float[] {0.5f, -0.5f},
            List.of("neg", "pos")), Provenance.of("lora"));
  }

  Path write(Adapter a) {
    Path file = dir.resolve(a.name() + ".onnx_adapter");
    AdapterFiles.writeOnnxAdapter(file, a, "tiny", BASE_SHA);
    return file;
  }

  /** Rewrites the adapter file's tensors and ties the sidecar to the new bytes, as a careful forger would. */
  void rewriteTensorsAndRetie(Path file, Adapter a, UnaryOperator<List<OrtAdapterParameter>> edit) throws Exception {
    OrtAdapter in = OrtAdapterFile.read(file);
    byte[] bytes = OrtAdapterFile.toBytes(OrtAdapter.of(edit.apply(new ArrayList<>(in.parameters()))));
    Files.write(file, bytes);
    AdapterSidecar.of(a.compact(), "tiny", BASE_SHA, AtomicFiles.sha256(bytes)).write(AdapterFiles.sidecarOf(file));
  }

  /** Edits the sidecar's JSON in place, leaving its content hash as it was. */
  void editSidecar(Path file, Consumer<ObjectNode> edit) throws Exception {
    Path side = AdapterFiles.sidecarOf(file);
    ObjectNode o = (ObjectNode) ExportJson.MAPPER.readTree(Files.readAllBytes(side));
    edit.accept(o);
    Files.write(side, ExportJson.MAPPER.writeValueAsBytes(o));
  }

  static Lora4jException refused(Path file) {
    return assertThrows(Lora4jException.class, () -> AdapterFiles.read(file));
  }

  @Test
  void anAdapterAndItsSidecarReadBackExactly() {
    Adapter a = adapter("sst2");
    Adapter back = AdapterFiles.read(write(a));
    assertEquals(a.modules(), back.modules());
    assertEquals(a.head(), back.head());
    assertEquals(BASE_SHA, back.base().onnxSha256());
  }

  @Test
  void swappedSidecarLabelsAreRefused() throws Exception {
    Path file = write(adapter("sst2"));
    editSidecar(file, o -> {
      ArrayNode labels = o.putArray("labels");
      labels.add("pos").add("neg");
    });
    Lora4jException e = refused(file);
    assertTrue(e.getMessage().contains("sst2.adapter.json") && e.getMessage().contains("content_sha256"),
        e.getMessage());
  }

  @Test
  void anAdapterFileEditedAfterExportIsRefusedByItsSidecarsHash() throws Exception {
    Path file = write(adapter("sst2"));
    byte[] bytes = Files.readAllBytes(file);
    bytes[bytes.length - 5] ^= 1; // one bit near the end of the file
    Files.write(file, bytes);
    Lora4jException e = refused(file);
    assertTrue(e.getMessage().contains("sst2.onnx_adapter") && e.getMessage().contains("adapter_sha256"),
        e.getMessage());
  }

  @Test
  void anAdapterFileSwappedForAnotherAdaptersIsRefused() throws Exception {
    Path file = write(adapter("sst2"));
    Path other = dir.resolve("other");
    Files.createDirectories(other);
    Adapter b = adapter("imdb").withName("imdb");
    Path otherFile = other.resolve("imdb.onnx_adapter");
    // same shapes and labels, different weights: only the tie can tell
    AdapterFiles.writeOnnxAdapter(otherFile, new Adapter("imdb", b.base(), b.modules(),
        TaskHead.classifier(TaskHead.Pooling.MEAN, b.head().weight(), new float[] {1f, 2f}, List.of("neg", "pos")),
        b.provenance()), "tiny", BASE_SHA);
    Files.copy(otherFile, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    assertTrue(refused(file).getMessage().contains("adapter_sha256"));
  }

  /** Renames both tensors of module V (the repro dropped those modules and lost 4 points). */
  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
      "encoder.layer.1.attention.self.valu.lora_X|but not in its sidecar's ranks",
      "encoder.layer.1.attention.self.value.old.lora_X|but not in its sidecar's ranks",
      "encoder.layer.1.attention.self.value.lora_X_old|unknown tensor",
      "encoder.layer.1.attention.self.value.lora_x|unknown tensor",
  })
  void aRenamedTensorIsRefusedEvenWhenTheSidecarIsTiedToTheRenamedFile(String renamed, String expected)
      throws Exception {
    Adapter a = adapter("sst2");
    Path file = write(a);
    rewriteTensorsAndRetie(file, a, ps -> ps.stream().map(p -> p.name().startsWith(V + ".")
        ? new OrtAdapterParameter(renamed.replace("X", p.name().substring(p.name().length() - 1))
            .replace("x", p.name().substring(p.name().length() - 1).toLowerCase(java.util.Locale.ROOT)), p.dims(),
            p.dataType(), p.rawData())
        : p).toList());
    Lora4jException e = refused(file);
    assertTrue(e.getMessage().startsWith(file.toString()) && e.getMessage().contains(expected), e.getMessage());
  }

  @Test
  void aTensorWithAnUnknownNameIsRefused() throws Exception {
    Adapter a = adapter("sst2");
    Path file = write(a);
    rewriteTensorsAndRetie(file, a, ps -> {
      ps.add(OrtAdapterParameter.floats("head.weight_old", dev.lora4j.models.tensor.FloatTensor.vector(new float[2])));
      return ps;
    });
    Lora4jException e = refused(file);
    assertTrue(e.getMessage().contains("unknown tensor 'head.weight_old'"), e.getMessage());
  }

  @Test
  void everyModuleTheSidecarNamesMustBeInTheAdapterFile() throws Exception {
    Adapter a = adapter("sst2");
    Path file = write(a);
    rewriteTensorsAndRetie(file, a, ps -> ps.stream().filter(p -> !p.name().startsWith(V)).toList());
    Lora4jException e = refused(file);
    assertTrue(e.getMessage().startsWith(file.toString()) && e.getMessage().contains("lacks: " + V), e.getMessage());
  }

  @Test
  void anAdapterFileWithoutHeadBiasNamesTheFileAndTheTensor() throws Exception {
    Adapter a = adapter("sst2");
    Path file = write(a);
    rewriteTensorsAndRetie(file, a, ps -> ps.stream().filter(p -> !p.name().equals("head.bias")).toList());
    Lora4jException e = refused(file);
    assertTrue(e.getMessage().startsWith(file.toString()) && e.getMessage().contains("head.bias"), e.getMessage());
  }

  @Test
  void aSidecarWithoutTheBaseModelsSha256IsRefused() throws Exception {
    Path file = write(adapter("sst2"));
    editSidecar(file, o -> o.remove("base_onnx_sha256"));
    Lora4jException e = refused(file);
    assertTrue(e.getMessage().contains("sst2.adapter.json") && e.getMessage().contains("'base_onnx_sha256' is missing"),
        e.getMessage());
  }

  /** Each malformed sidecar gets one message naming the sidecar file and the field. */
  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
      "{}|'name' is missing",
      "null|expected a JSON object, found null",
      "[]|expected a JSON object, found array",
      "EMPTY|expected a JSON object, found nothing",
      "{\"name\":|not a valid adapter sidecar",
      "DROP name|'name' is missing",
      "DROP pooling|'pooling' is missing",
      "DROP labels|'labels' is missing",
      "DROP head|'head' is missing",
      "DROP ranks|'ranks' is missing",
      "DROP adapter_sha256|'adapter_sha256' is missing",
      "DROP content_sha256|'content_sha256' is missing",
      "SET labels \"neg\"|field 'labels' has the wrong type",
      "SET ranks [1]|field 'ranks' has the wrong type",
      "SET pooling \"max\"|field 'pooling': pooling must be mean or cls",
      "SET head \"regression\"|field 'head' must be",
      "SET labels [\"neg\",\"neg\"]|names a label twice",
      "SET labels [\"pos\"]|at least two labels",
      "SET base_onnx_sha256 \"\"|'base_onnx_sha256' is not a SHA-256",
      "SET name \" \"|field 'name' is empty",
  })
  void malformedSidecarsNameTheFileAndTheField(String mutation, String expected) throws Exception {
    Path file = write(adapter("sst2"));
    Path side = AdapterFiles.sidecarOf(file);
    if (mutation.startsWith("DROP ")) {
      editSidecar(file, o -> o.remove(mutation.substring(5)));
    } else if (mutation.startsWith("SET ")) {
      String[] kv = mutation.substring(4).split(" ", 2);
      editSidecar(file, o -> {
        try {
          o.set(kv[0], ExportJson.MAPPER.readTree(kv[1]));
        } catch (java.io.IOException e) {
          throw new AssertionError(e);
        }
      });
    } else {
      Files.writeString(side, mutation.equals("EMPTY") ? "" : mutation, StandardCharsets.UTF_8);
    }
    Lora4jException e = refused(file);
    assertTrue(e.getMessage().startsWith(side.toString()) && e.getMessage().contains(expected),
        mutation + " -> " + e.getMessage());
  }

  @Test
  void weightsScaledTo3e38AreRefusedThoughTheyAreFinite() {
    Adapter a = adapter("sst2");
    LowRankModule q = a.modules().get(Q);
    Adapter huge = new Adapter("huge", a.base(), Adapter.byName(List.of(
        LowRankModule.lora(Q, q.a(), q.b().scale(3e38 / maxAbs(q.b())), 1), a.modules().get(V))), a.head(),
        a.provenance());
    assertTrue(huge.modules().get(Q).findNonFinite() == null, "the weights are finite: only the bound can refuse them");
    Lora4jException e = assertThrows(Lora4jException.class, () -> WeightBounds.require(huge, "huge.onnx_adapter"));
    assertTrue(e.getMessage().contains("huge.onnx_adapter") && e.getMessage().contains(Q), e.getMessage());
    Lora4jException loaded = refusedAtRead(huge);
    assertTrue(loaded.getMessage().contains(Q), loaded.getMessage());
  }

  static double maxAbs(Matrix m) {
    double x = 0;
    for (float v : m.data()) {
      x = Math.max(x, Math.abs(v));
    }
    return x;
  }

  @Test
  void aClassifierWithWeightsOf1e30IsRefused() {
    Adapter a = adapter("sst2");
    Adapter huge = new Adapter("huge", a.base(), a.modules(), TaskHead.classifier(TaskHead.Pooling.MEAN,
        a.head().weight().scale(1e30 / maxAbs(a.head().weight())), a.head().bias(), a.head().labels()), a.provenance());
    Lora4jException e = assertThrows(Lora4jException.class, () -> WeightBounds.require(huge, "huge"));
    assertTrue(e.getMessage().contains("classifier"), e.getMessage());
  }

  @Test
  void ordinaryAdaptersAreWellInsideTheBound() {
    // LoRA-sized factors (std 0.1, like the fixtures of every other test) must never trip the bound
    WeightBounds.require(adapter("sst2"), "sst2");
    Matrix a = SyntheticAdapters.random(new Random(1), 64, 384, 1.0);
    Matrix b = SyntheticAdapters.random(new Random(2), 384, 64, 0.05);
    WeightBounds.require(new Adapter("big-rank", new BaseModelRef("x", BASE_SHA),
        Adapter.byName(List.of(LowRankModule.lora(Q, a, b, 2.0))), TaskHead.embeddings(TaskHead.Pooling.MEAN),
        Provenance.of("lora")), "big-rank");
  }

  /** {@code adapter} written properly (tied, well-formed) and read back: only the weight bound is left to refuse it. */
  Lora4jException refusedAtRead(Adapter adapter) {
    Path file = write(adapter);
    Adapter back = AdapterFiles.read(file); // reading is not judging: the runtime and exporter apply the bound
    return assertThrows(Lora4jException.class, () -> WeightBounds.require(back, file.toString()));
  }

  @Test
  void theSidecarRecordsWhatTheMultiAdapterParametersHold() {
    Adapter a = adapter("sst2");
    Path file = write(a);
    AdapterSidecar s = AdapterSidecar.read(AdapterFiles.sidecarOf(file));
    assertEquals(a.ranks(), s.ranks());
    assertEquals(List.of("neg", "pos"), s.labels());
    assertEquals(MultiAdapterParameters.of(a).dataBytes(), OrtAdapterFile.read(file).dataBytes());
  }
}
