package dev.lora4j.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.MixedBatchStacks;
import dev.lora4j.models.adapter.ortformat.OrtAdapterParameter;
import dev.lora4j.models.text.Encoding;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs the mixed-batch base graph: rows of one batch use different adapters, of different ranks,
 * in one session run. The stacks packed for a set of adapters are kept as ONNX Runtime tensors and
 * reused while the same set keeps coming (the usual case under steady traffic), so a batch costs a
 * run, not a repack.
 */
final class MixedBatchRunner implements AutoCloseable {
  static final int CACHED_SETS = 4;

  private final OrtEnvironment env;
  private final OrtSession session;
  private final MixedBatchStacks.Layout layout;
  private final Set<String> graphInputs;
  /** Keyed by the slot adapters' identities: a reloaded or replaced adapter is a new key. */
  private final LinkedHashMap<List<Adapter>, Packed> cache = new LinkedHashMap<>(8, 0.75f, true);

  private record Packed(Map<String, OnnxTensor> tensors, int[] labels) {
    void close() {
      tensors.values().forEach(OnnxTensor::close);
    }
  }

  /** Rows' results: logits and probabilities, trimmed to each row's own labels. */
  record RowOutputs(float[][] logits, float[][] probabilities) {}

  MixedBatchRunner(OrtEnvironment env, OrtSession session, MixedBatchStacks.Layout layout) throws OrtException {
    this.env = env;
    this.session = session;
    this.layout = layout;
    this.graphInputs = session.getInputNames();
  }

  /**
   * Runs rows {@code enc} where row i uses {@code slots.get(slotOfRow[i])}. Serialised: stacks are
   * shared between runs, and ONNX Runtime already spreads one run over all cores.
   */
  synchronized RowOutputs run(Encoding enc, List<Adapter> slots, int[] slotOfRow) throws OrtException {
    Packed packed = packed(slots);
    try (EncoderInputs in = new EncoderInputs(env, enc, graphInputs);
        OnnxTensor index = OnnxTensor.createTensor(env, LongBuffer.wrap(toLongs(slotOfRow)),
            new long[] {slotOfRow.length})) {
      Map<String, OnnxTensor> feed = new HashMap<>(in.map());
      feed.putAll(packed.tensors());
      feed.put(AdapterTensorNames.ADAPTER_INDEX, index);
      try (OrtSession.Result r = session.run(feed,
          Set.of(AdapterTensorNames.LOGITS, AdapterTensorNames.PROBABILITIES))) {
        float[][] logits = (float[][]) r.get(AdapterTensorNames.LOGITS).orElseThrow().getValue();
        float[][] probs = (float[][]) r.get(AdapterTensorNames.PROBABILITIES).orElseThrow().getValue();
        float[][] l = new float[slotOfRow.length][];
        float[][] p = new float[slotOfRow.length][];
        for (int i = 0; i < slotOfRow.length; i++) {
          int n = packed.labels()[slotOfRow[i]];
          l[i] = java.util.Arrays.copyOf(logits[i], n);
          p[i] = java.util.Arrays.copyOf(probs[i], n);
        }
        return new RowOutputs(l, p);
      }
    }
  }

  private Packed packed(List<Adapter> slots) throws OrtException {
    List<Adapter> key = identityKey(slots);
    Packed p = cache.get(key);
    if (p != null) {
      return p;
    }
    MixedBatchStacks stacks = MixedBatchStacks.pack(slots, layout);
    Map<String, OnnxTensor> tensors = new HashMap<>();
    try {
      for (OrtAdapterParameter param : stacks.parameters()) {
        tensors.put(param.name(), tensor(param));
      }
    } catch (OrtException | RuntimeException e) {
      tensors.values().forEach(OnnxTensor::close);
      throw e;
    }
    p = new Packed(tensors, stacks.labels());
    cache.put(key, p);
    if (cache.size() > CACHED_SETS) {
      var eldest = cache.entrySet().iterator().next();
      cache.remove(eldest.getKey());
      eldest.getValue().close();
    }
    return p;
  }

  private OnnxTensor tensor(OrtAdapterParameter p) throws OrtException {
    return switch (p.dataType()) {
      case 1 -> OnnxTensor.createTensor(env, FloatBuffer.wrap(p.asFloats().data()), p.dims());
      case 7 -> OnnxTensor.createTensor(env, LongBuffer.wrap(p.asLongs()), p.dims());
      default -> throw new Lora4jException("mixed-batch stack " + p.name() + " has unsupported type " + p.dataType());
    };
  }

  /**
   * Drops every cached stack set that holds {@code adapter} (evicted or unloaded): the stacks are
   * copies of its weights, and the cache key would keep its Java copy alive past eviction.
   */
  synchronized void forget(Adapter adapter) {
    var it = cache.entrySet().iterator();
    while (it.hasNext()) {
      var e = it.next();
      if (e.getKey().stream().anyMatch(a -> a == adapter)) {
        it.remove();
        e.getValue().close();
      }
    }
  }

  /** How many stack sets are cached (for tests). */
  synchronized int cachedSets() {
    return cache.size();
  }

  /** A list that compares its elements by identity, for the cache key. */
  private static List<Adapter> identityKey(List<Adapter> slots) {
    return new IdentityList(new ArrayList<>(slots));
  }

  private static long[] toLongs(int[] a) {
    long[] l = new long[a.length];
    for (int i = 0; i < a.length; i++) {
      l[i] = a[i];
    }
    return l;
  }

  /** Frees the cached stacks and the mixed-batch session, which this runner owns. */
  @Override
  public synchronized void close() {
    cache.values().forEach(Packed::close);
    cache.clear();
    try {
      session.close();
    } catch (OrtException e) {
      throw new Lora4jException("closing the mixed-batch session failed: " + e.getMessage(), e);
    }
  }

  /** Equality by element identity. */
  private static final class IdentityList extends java.util.AbstractList<Adapter> {
    private final List<Adapter> items;

    IdentityList(List<Adapter> items) {
      this.items = items;
    }

    @Override
    public Adapter get(int i) {
      return items.get(i);
    }

    @Override
    public int size() {
      return items.size();
    }

    @Override
    public boolean equals(Object o) {
      if (!(o instanceof IdentityList other) || other.size() != size()) {
        return false;
      }
      for (int i = 0; i < size(); i++) {
        if (items.get(i) != other.items.get(i)) {
          return false;
        }
      }
      return true;
    }

    @Override
    public int hashCode() {
      int h = 1;
      for (Adapter a : items) {
        h = 31 * h + System.identityHashCode(a);
      }
      return h;
    }
  }
}
