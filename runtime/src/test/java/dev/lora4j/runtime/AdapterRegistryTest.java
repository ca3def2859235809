package dev.lora4j.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lora4j.models.Lora4jException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class AdapterRegistryTest {
  /** A native-like resource that fails loudly when closed twice or used after close. */
  static final class Resource implements AutoCloseable {
    final String value;
    volatile boolean closed;

    Resource(String value) {
      this.value = value;
    }

    String use() {
      if (closed) {
        throw new IllegalStateException("used after close: " + value);
      }
      return value;
    }

    @Override
    public void close() {
      if (closed) {
        throw new IllegalStateException("closed twice: " + value);
      }
      closed = true;
    }
  }

  final Map<String, AtomicInteger> loads = new ConcurrentHashMap<>();
  final AtomicLong clock = new AtomicLong();

  AdapterRegistry<Resource> registry(long budget) {
    return new AdapterRegistry<>((name, source) -> {
      loads.computeIfAbsent(name, k -> new AtomicInteger()).incrementAndGet();
      Resource r = new Resource(name + "@" + source);
      return new AdapterRegistry.Loaded<>(r, r, 100);
    }, budget, clock::incrementAndGet);
  }

  @Test
  void unloadWaitsForRunningRequests() {
    AdapterRegistry<Resource> reg = registry(1_000);
    reg.load("a", "v1");
    Lease<Resource> lease = reg.acquire("a");
    Resource r = lease.value();
    assertTrue(reg.unload("a"));
    assertFalse(r.closed, "an in-flight request keeps its adapter");
    assertEquals("a@v1", r.use());
    lease.close();
    assertTrue(r.closed, "closed once the last request is done");
    Lora4jException e = assertThrows(Lora4jException.class, () -> reg.acquire("a"));
    assertEquals("adapter 'a' is not loaded", e.getMessage());
  }

  @Test
  void replacingKeepsTheOldVersionForItsRequests() {
    AdapterRegistry<Resource> reg = registry(1_000);
    reg.load("a", "v1");
    try (Lease<Resource> old = reg.acquire("a")) {
      reg.load("a", "v2");
      assertEquals("a@v1", old.value().use());
      try (Lease<Resource> fresh = reg.acquire("a")) {
        assertEquals("a@v2", fresh.value().use());
      }
    }
  }

  @Test
  void budgetEvictsLeastRecentlyUsedAndReloadsOnDemand() {
    AdapterRegistry<Resource> reg = registry(250); // room for two of 100 bytes
    reg.load("a", "1");
    reg.load("b", "1");
    reg.acquire("a").close(); // a is now more recent than b
    reg.load("c", "1");
    assertTrue(reg.isResident("a"));
    assertFalse(reg.isResident("b"), "b was least recently used");
    assertEquals(List.of("a", "b", "c"), reg.names());
    try (Lease<Resource> l = reg.acquire("b")) {
      assertEquals("b@1", l.value().use());
    }
    assertEquals(2, loads.get("b").get(), "reloaded from its source");
    assertTrue(reg.residentBytes() <= 250);
  }

  @Test
  void concurrentRequestsNeverSeeAClosedAdapter() throws Exception {
    AdapterRegistry<Resource> reg = registry(250);
    List<String> names = List.of("a", "b", "c", "d");
    names.forEach(n -> reg.load(n, "1"));
    ExecutorService pool = Executors.newFixedThreadPool(8);
    AtomicInteger served = new AtomicInteger();
    AtomicInteger notLoaded = new AtomicInteger();
    List<Future<?>> fs = new java.util.ArrayList<>();
    for (int t = 0; t < 8; t++) {
      int seed = t;
      fs.add(pool.submit(() -> {
        for (int i = 0; i < 2_000; i++) {
          String n = names.get((seed + i) % names.size());
          try (Lease<Resource> l = reg.acquire(n)) {
            assertTrue(l.value().use().startsWith(n + "@"));
            served.incrementAndGet();
          } catch (Lora4jException e) {
            assertEquals("adapter '" + n + "' is not loaded", e.getMessage());
            notLoaded.incrementAndGet();
          }
        }
      }));
    }
    Future<?> churn = pool.submit(() -> {
      for (int i = 0; i < 300; i++) {
        String n = names.get(i % names.size());
        reg.unload(n);
        reg.load(n, Integer.toString(i));
      }
    });
    churn.get(60, TimeUnit.SECONDS);
    for (Future<?> f : fs) {
      f.get(60, TimeUnit.SECONDS);
    }
    pool.shutdown();
    assertEquals(16_000, served.get() + notLoaded.get());
    assertTrue(served.get() > 8_000, "most requests were served: " + served.get());
  }
  /**
   * Hundreds of resident adapters whose last-use times jump at random while every load sorts them
   * for eviction: sorting live times breaks TimSort ("Comparison method violates its general
   * contract"); sorting a snapshot cannot. Random times make a contradiction likely within a few
   * sorts, so the loop runs until 2,000 evicting loads or 20 s.
   */
  @Test
  void evictionSortsASnapshotWhileRequestsTouchAdapters() throws Exception {
    int resident = 600;
    AdapterRegistry<Resource> reg = new AdapterRegistry<>((name, source) -> {
      Resource r = new Resource(name);
      return new AdapterRegistry.Loaded<>(r, r, 1);
    }, resident, () -> java.util.concurrent.ThreadLocalRandom.current().nextLong(1_000_000));
    for (int i = 0; i < resident; i++) {
      reg.load("a" + i, "1");
    }
    java.util.concurrent.atomic.AtomicBoolean running = new java.util.concurrent.atomic.AtomicBoolean(true);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    List<Future<?>> touchers = new java.util.ArrayList<>();
    for (int t = 0; t < 2; t++) {
      touchers.add(pool.submit(() -> {
        java.util.Random rnd = new java.util.Random(7);
        while (running.get()) {
          reg.acquire("a" + rnd.nextInt(resident)).close();
        }
      }));
    }
    try {
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      for (int i = 0; i < 2_000 && System.nanoTime() < end; i++) {
        reg.load("n" + i, "1"); // one over the budget: sorts all and evicts one
      }
    } finally {
      running.set(false);
      for (Future<?> f : touchers) {
        f.get(60, TimeUnit.SECONDS);
      }
      pool.shutdown();
    }
    assertTrue(reg.residentBytes() <= resident);
  }

  @Test
  void snapshotNeitherReloadsNorChangesTheEvictionOrder() {
    AdapterRegistry<Resource> reg = registry(250); // room for two of 100 bytes
    reg.load("a", "1");
    reg.load("b", "1");
    reg.load("c", "1"); // evicts a
    long bLastUsed = reg.snapshot().get(1).lastUsed();
    List<AdapterRegistry.Status> s = reg.snapshot();
    assertEquals(List.of(new AdapterRegistry.Status("a", "1", false, 0, 0, false),
        new AdapterRegistry.Status("b", "1", true, 100, bLastUsed, false),
        new AdapterRegistry.Status("c", "1", true, 100, 3, false)), s);
    reg.snapshot();
    assertEquals(1, loads.get("a").get(), "a listing reloaded nothing");
    reg.load("d", "1"); // evicts the least recently used, still b: the snapshots did not touch it
    assertFalse(reg.isResident("b"));
    assertTrue(reg.isResident("c"));
    assertEquals(2, bLastUsed);
  }

  @Test
  void aPinnedAdapterIsNeverEvictedByTheBudget() {
    AdapterRegistry<Resource> reg = registry(250); // room for two of 100 bytes
    reg.load("a", "1");
    reg.pin("a");
    reg.load("b", "1");
    reg.load("c", "1"); // a is the least recently used, but pinned: b goes
    reg.load("d", "1"); // and then c
    assertTrue(reg.isResident("a"));
    assertEquals(List.of(true, false, false, true), reg.snapshot().stream().map(AdapterRegistry.Status::resident).toList());
    assertEquals(List.of(true, false, false, false), reg.snapshot().stream().map(AdapterRegistry.Status::pinned).toList());
    assertEquals(2, reg.evictions());
    assertEquals(1, loads.get("a").get(), "never reloaded");

    assertTrue(reg.unpin("a"));
    assertFalse(reg.unpin("a"), "a second unpin says it was not pinned");
    reg.load("e", "1"); // a is the least recently used and no longer pinned
    assertFalse(reg.isResident("a"));
    assertEquals(3, reg.evictions());
  }

  @Test
  void pinningReloadsAnEvictedAdapterAndTheBudgetEvictsAroundIt() {
    AdapterRegistry<Resource> reg = registry(250);
    reg.load("a", "1");
    reg.load("b", "1");
    reg.load("c", "1"); // evicts a
    reg.pin("a");
    assertTrue(reg.isResident("a"));
    assertEquals(2, loads.get("a").get(), "pinning brought a back");
    assertFalse(reg.isResident("b"), "b, the least recently used, made room");
  }

  @Test
  void pinnedAdaptersBeyondTheBudgetAreRefused() {
    AdapterRegistry<Resource> reg = registry(250);
    reg.load("a", "1");
    reg.load("b", "1");
    reg.load("c", "1");
    reg.pin("b");
    reg.pin("c");
    Lora4jException e = assertThrows(Lora4jException.class, () -> reg.pin("a"));
    assertEquals("pinning adapter 'a' (100 bytes) would put the pinned adapters at 300 bytes, over the adapter"
        + " budget of 250 bytes", e.getMessage());
    assertFalse(reg.isPinned("a"));
    assertEquals(200, reg.residentBytes(), "the refused pin's reload did not stay over the budget");
    reg.pin("c"); // pinning again what is pinned counts it once
    assertEquals("adapter 'ghost' is not loaded", assertThrows(Lora4jException.class, () -> reg.pin("ghost"))
        .getMessage());
  }

  @Test
  void unloadDropsThePinButAReplacementKeepsIt() {
    AdapterRegistry<Resource> reg = registry(250);
    reg.load("a", "1");
    reg.pin("a");
    reg.load("a", "2"); // a new version under the same name
    assertTrue(reg.isPinned("a"));
    reg.unload("a");
    assertFalse(reg.isPinned("a"));
    reg.load("a", "3");
    assertFalse(reg.isPinned("a"), "a fresh load after an unload starts unpinned");
  }
}
