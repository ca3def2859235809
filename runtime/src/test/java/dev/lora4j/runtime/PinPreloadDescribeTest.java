package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** What adapter-serving users expect of the library: pin, preload, describe and the __base__ name. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PinPreloadDescribeTest {
  ExportFixture fx;
  /** The largest adapter's resident bytes: a budget of 2x holds any two, not all four. */
  long one;

  @BeforeAll
  void export(@TempDir Path tmp) throws Exception {
    fx = new ExportFixture(tmp, 44);
    try (AdapterRuntime probe = open(RuntimeOptions.defaults().adapterBudgetBytes())) {
      one = ExportFixture.NAMES.stream().mapToLong(n -> probe.load(n, fx.adapterFile(n)).bytes()).max().orElseThrow();
    }
  }

  AdapterRuntime open(long budget) {
    return AdapterRuntime.open(fx.dir, RuntimeOptions.defaults().withDevice(Device.CPU).withAdapterBudget(budget));
  }

  static List<Boolean> resident(AdapterRuntime rt) {
    return rt.residency().stream().map(AdapterRegistry.Status::resident).toList();
  }

  @Test
  void aPinnedAdapterStaysResidentWhileLoadsPassTheBudget() {
    try (AdapterRuntime rt = open(2 * one)) {
      rt.load("alpha", fx.adapterFile("alpha"));
      assertTrue(rt.pin("alpha").pinned());
      for (String n : List.of("beta", "gamma", "delta")) {
        rt.load(n, fx.adapterFile(n));
      }
      List<AdapterRegistry.Status> s = rt.residency();
      assertTrue(s.get(0).resident(), "alpha, pinned and least recently used, was evicted: " + s);
      long evicted = s.stream().filter(x -> !x.resident()).count();
      assertTrue(evicted >= 1, "the budget of two adapters evicted nothing: " + s);
      assertEquals(evicted, rt.evictions(), "each eviction counted once");
      assertTrue(rt.describe("alpha").pinned());
      assertTrue(rt.unpin("alpha"));
      assertFalse(rt.describe("alpha").pinned());
      rt.predict("alpha", "fine"); // still answers, resident or reloaded
    }
  }

  @Test
  void pinningMoreThanTheBudgetHoldsIsRefused() {
    try (AdapterRuntime rt = open(one + one / 2)) {
      rt.load("alpha", fx.adapterFile("alpha"));
      rt.load("gamma", fx.adapterFile("gamma"));
      long alpha = rt.describe("alpha").info().bytes();
      long gamma = rt.describe("gamma").info().bytes();
      assertTrue(alpha + gamma > one + one / 2, "fixture changed: alpha and gamma fit in 1.5x the largest adapter");
      rt.pin("alpha");
      Lora4jException e = assertThrows(Lora4jException.class, () -> rt.pin("gamma"));
      assertEquals("pinning adapter 'gamma' (" + gamma + " bytes) would put the pinned adapters at "
          + (alpha + gamma) + " bytes, over the adapter budget of " + (one + one / 2) + " bytes", e.getMessage());
      assertFalse(rt.describe("gamma").pinned());
    }
  }

  @Test
  void preloadLoadsByNameAndRefusesASetBeyondTheBudget() {
    try (AdapterRuntime rt = open(2 * one)) {
      List<AdapterInfo> infos = rt.preload(List.of("gamma", "delta")); // never loaded: read from the export
      assertEquals(List.of("delta", "gamma"), infos.stream().map(AdapterInfo::name).sorted().toList());
      assertEquals(List.of(true, true), resident(rt));
    }
    try (AdapterRuntime rt = open(one)) {
      Lora4jException e = assertThrows(Lora4jException.class, () -> rt.preload(ExportFixture.NAMES));
      assertTrue(e.getMessage().startsWith("preloading alpha, beta, gamma, delta needs "), e.getMessage());
      assertTrue(e.getMessage().contains("over the adapter budget of " + one + " bytes"), e.getMessage());
    }
    try (AdapterRuntime rt = open(2 * one)) {
      Lora4jException e = assertThrows(Lora4jException.class, () -> rt.preload(List.of("ghost")));
      assertTrue(e.getMessage().endsWith("ghost.onnx_adapter: no such adapter file"), e.getMessage());
    }
  }

  @Test
  void describeShowsWhatTheAdapterRecordsWithoutReloadingOrReordering() {
    try (AdapterRuntime rt = open(2 * one)) {
      for (String n : List.of("alpha", "beta", "gamma")) { // gamma evicts alpha
        rt.load(n, fx.adapterFile(n));
      }
      List<AdapterRegistry.Status> before = rt.residency();
      AdapterDescription d = rt.describe("alpha");
      Adapter want = fx.adapters.get("alpha").compact();
      assertEquals("alpha", d.name());
      assertFalse(d.resident(), "described as evicted, not reloaded");
      assertFalse(d.pinned());
      assertEquals(want.ranks(), d.info().ranks());
      assertEquals(want.head().labels(), d.info().labels());
      assertEquals(want.head().pooling().id(), d.info().pooling());
      assertEquals("tiny", d.base().id());
      assertEquals(want.base().onnxSha256(), d.base().onnxSha256());
      assertEquals(want.provenance().method(), d.provenance().method());
      assertEquals(null, d.provenance().created(), "the sidecar records no creation time; none is made up");
      assertEquals(before, rt.residency(), "no reload, no change of last use");
      Lora4jException e = assertThrows(Lora4jException.class, () -> rt.describe("ghost"));
      assertEquals("adapter 'ghost' is not loaded", e.getMessage());
    }
  }

  @Test
  void baseNameEmbedsWithThePlainModelAndIsNeverAnAdapter() throws Exception {
    try (AdapterRuntime rt = open(2 * one)) {
      rt.load("alpha", fx.adapterFile("alpha"));
      List<float[]> base = rt.embed(AdapterRuntime.BASE, ExportFixture.TEXTS);
      List<float[]> none = rt.embed(null, ExportFixture.TEXTS);
      List<float[]> alpha = rt.embed("alpha", ExportFixture.TEXTS);
      for (int i = 0; i < base.size(); i++) {
        assertArrayEquals(none.get(i), base.get(i), 0f, "the same run, no adapter attached");
        assertTrue(ExportFixture.maxAbsDiff(alpha.get(i), base.get(i)) > 1e-4, "the adapter changed nothing?");
      }
      String noClassifier = "'__base__' (the plain base model) has no classifier; use embed";
      assertEquals(noClassifier, assertThrows(Lora4jException.class, () -> rt.predict("__base__", "x")).getMessage());
      assertEquals(noClassifier, assertThrows(Lora4jException.class,
          () -> rt.predictMixed(List.of(new MixedRequest("alpha", "x"), new MixedRequest("__base__", "y")))).getMessage());
      ExecutionException submitted = assertThrows(ExecutionException.class,
          () -> rt.submit("__base__", "x").get(10, TimeUnit.SECONDS));
      assertEquals(noClassifier, submitted.getCause().getMessage());
      Lora4jException reserved = assertThrows(Lora4jException.class, () -> rt.load("__base__", fx.adapterFile("beta")));
      assertEquals("'__base__' is reserved for the plain base model (no adapter); load the adapter under another name",
          reserved.getMessage());
      assertThrows(Lora4jException.class, () -> rt.pin("__base__"));
      assertEquals(List.of("alpha"), rt.adapters().stream().map(AdapterInfo::name).toList());
    }
  }
}
