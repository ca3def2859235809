package dev.lora4j.runtime;

import dev.lora4j.models.Lora4jException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Named, loaded adapters with reference counting and a memory budget.
 *
 * <p>Loading past the budget evicts the least recently used adapters; an evicted adapter is
 * reloaded from its source on its next request, so eviction costs latency, never an answer. An
 * explicitly unloaded adapter is forgotten: requests for it fail with "not loaded". A pinned adapter
 * is never evicted (its pin goes with its name: it survives a replacement, not an unload).
 * Thread-safe: requests, loads and unloads may interleave freely.
 *
 * @param <T> what a loaded adapter is (for the runtime: ONNX Runtime's adapter plus metadata)
 */
final class AdapterRegistry<T> {
  /** Builds a loaded value from its source; called outside any registry lock. */
  @FunctionalInterface
  public interface Loader<T> {
    Loaded<T> load(String name, Object source);
  }

  /** What a loader returns: the value, the native resource to close, its size for the budget. */
  public record Loaded<T>(T value, AutoCloseable resource, long bytes) {}

  private final Loader<T> loader;
  private final long budgetBytes;
  private final LongSupplier clock;
  private final Map<String, Entry<T>> live = new ConcurrentHashMap<>();
  /** Every name the user loaded and did not unload, with where it came from (for reloads). */
  private final Map<String, Object> sources = new ConcurrentHashMap<>();
  /** Names the budget must not evict; guarded by {@code loadLock}, read without it by snapshots. */
  private final java.util.Set<String> pinned = ConcurrentHashMap.newKeySet();
  private final java.util.concurrent.atomic.AtomicLong evictions = new java.util.concurrent.atomic.AtomicLong();
  private final Object loadLock = new Object();

  public AdapterRegistry(Loader<T> loader, long budgetBytes) {
    this(loader, budgetBytes, System::nanoTime);
  }

  AdapterRegistry(Loader<T> loader, long budgetBytes, LongSupplier clock) {
    if (budgetBytes <= 0) {
      throw new IllegalArgumentException("adapter memory budget must be positive");
    }
    this.loader = loader;
    this.budgetBytes = budgetBytes;
    this.clock = clock;
  }

  /** Loads (or replaces) {@code name}; requests already running keep the adapter they started with. */
  public T load(String name, Object source) {
    Loaded<T> l = loader.load(name, source);
    Entry<T> e = new Entry<>(name, l.value(), l.resource(), l.bytes(), clock.getAsLong());
    synchronized (loadLock) {
      sources.put(name, source);
      Entry<T> old = live.put(name, e);
      if (old != null) {
        old.retire();
      }
      evictBeyondBudget(name);
    }
    return l.value();
  }

  /** Forgets {@code name}; returns false if it was not loaded. */
  public boolean unload(String name) {
    synchronized (loadLock) {
      boolean known = sources.remove(name) != null; // an evicted adapter is loaded too, just not resident
      pinned.remove(name);
      Entry<T> e = live.remove(name);
      if (e != null) {
        e.retire();
      }
      return known || e != null;
    }
  }

  /** A lease on {@code name}, reloading it if it was evicted; "not loaded" if it is unknown. */
  public Lease<T> acquire(String name) {
    while (true) {
      Entry<T> e = live.get(name);
      if (e == null) {
        e = reload(name);
      }
      if (e.acquire(clock.getAsLong())) {
        return new Lease<>(e);
      }
      // retired between get and acquire (unloaded or replaced): look again
      if (!sources.containsKey(name) && live.get(name) == null) {
        throw notLoaded(name);
      }
    }
  }

  private Entry<T> reload(String name) {
    Object source = sources.get(name);
    if (source == null) {
      throw notLoaded(name);
    }
    synchronized (loadLock) {
      Entry<T> e = live.get(name);
      if (e != null) {
        return e;
      }
      if (!sources.containsKey(name)) {
        throw notLoaded(name);
      }
      Loaded<T> l = loader.load(name, source);
      e = new Entry<>(name, l.value(), l.resource(), l.bytes(), clock.getAsLong());
      live.put(name, e);
      evictBeyondBudget(name);
      return e;
    }
  }

  private void evictBeyondBudget(String keep) {
    long total = live.values().stream().mapToLong(Entry::bytes).sum();
    if (total <= budgetBytes) {
      return;
    }
    for (Entry<T> e : leastRecentlyUsedFirst(live.values())) {
      if (total <= budgetBytes) {
        break;
      }
      if (e.name().equals(keep) || pinned.contains(e.name())) {
        continue;
      }
      live.remove(e.name(), e);
      e.retire();
      evictions.incrementAndGet();
      total -= e.bytes();
    }
  }

  /**
   * {@code entries} oldest first. Requests keep touching {@code lastUsed} while this sorts, so it
   * sorts a snapshot of the times: a comparator over live values can contradict itself, which
   * TimSort reports as "Comparison method violates its general contract".
   */
  static <T> List<Entry<T>> leastRecentlyUsedFirst(Collection<Entry<T>> entries) {
    record Aged<T>(Entry<T> entry, long lastUsed) {}
    List<Aged<T>> aged = new ArrayList<>();
    for (Entry<T> e : entries) {
      aged.add(new Aged<>(e, e.lastUsed()));
    }
    aged.sort(Comparator.comparingLong(Aged::lastUsed));
    return aged.stream().map(Aged::entry).toList();
  }

  /**
   * Keeps {@code name} resident from now on, reloading it if the budget had evicted it. Refused when
   * the pinned adapters together would exceed the budget: they could never all stay resident, and
   * every other adapter would be reloaded on each request.
   */
  public void pin(String name) {
    synchronized (loadLock) {
      Entry<T> e = live.get(name);
      if (e == null) {
        e = reload(name); // "not loaded" for an unknown name
      }
      long others = pinned.stream().filter(n -> !n.equals(name)).map(live::get)
          .filter(java.util.Objects::nonNull).mapToLong(Entry::bytes).sum();
      if (others + e.bytes() > budgetBytes) {
        evictBeyondBudget(null); // a reload for this pin must not leave the budget exceeded
        throw new Lora4jException("pinning adapter '" + name + "' (" + e.bytes() + " bytes) would put the pinned"
            + " adapters at " + (others + e.bytes()) + " bytes, over the adapter budget of " + budgetBytes + " bytes");
      }
      pinned.add(name);
    }
  }

  /** Lets the budget evict {@code name} again; returns false if it was not pinned. */
  public boolean unpin(String name) {
    synchronized (loadLock) {
      if (!sources.containsKey(name)) {
        throw notLoaded(name);
      }
      boolean was = pinned.remove(name);
      evictBeyondBudget(null); // what the pin held over the budget goes now, not at the next load
      return was;
    }
  }

  public boolean isPinned(String name) {
    return pinned.contains(name);
  }

  /** Adapters the budget has evicted since this registry was made. */
  public long evictions() {
    return evictions.get();
  }

  public long budgetBytes() {
    return budgetBytes;
  }

  private static Lora4jException notLoaded(String name) {
    return new Lora4jException("adapter '" + name + "' is not loaded");
  }

  /** Names the user has loaded (resident or evicted). */
  public List<String> names() {
    return sources.keySet().stream().sorted().toList();
  }

  /**
   * One loaded adapter as {@link #snapshot()} sees it.
   *
   * @param resident false when the budget evicted it (it reloads on its next request)
   * @param bytes what it counts against the budget while resident; 0 when evicted
   * @param lastUsed clock reading of its last lease or load; 0 when evicted
   * @param pinned the budget never evicts it
   */
  public record Status(String name, Object source, boolean resident, long bytes, long lastUsed, boolean pinned) {}

  /**
   * Every loaded adapter, by name, without loading or touching any: for listings, health and
   * metrics, which must neither reload an evicted adapter nor change the eviction order.
   */
  public List<Status> snapshot() {
    List<Status> out = new ArrayList<>();
    for (Map.Entry<String, Object> s : new TreeMap<>(sources).entrySet()) {
      Entry<T> e = live.get(s.getKey());
      boolean pin = pinned.contains(s.getKey());
      out.add(e == null ? new Status(s.getKey(), s.getValue(), false, 0, 0, pin)
          : new Status(s.getKey(), s.getValue(), true, e.bytes(), e.lastUsed(), pin));
    }
    return out;
  }

  public boolean isResident(String name) {
    return live.containsKey(name);
  }

  /** The resident value, without taking a lease (for listings). */
  public Optional<T> peek(String name) {
    return Optional.ofNullable(live.get(name)).map(Entry::value);
  }

  public long residentBytes() {
    return live.values().stream().mapToLong(Entry::bytes).sum();
  }

  /** Unloads everything; running requests finish on what they hold. */
  public void clear() {
    synchronized (loadLock) {
      sources.clear();
      pinned.clear();
      live.values().forEach(Entry::retire);
      live.clear();
    }
  }
}
