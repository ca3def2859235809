package dev.lora4j.models.adapter;

import dev.lora4j.models.Lora4jException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The one adapter data model every module speaks: per-module low-rank updates, the task head, the
 * base model it belongs to, and how it was made. Immutable.
 *
 * @param name short name, used for file names and for choosing the adapter per request
 * @param modules by canonical module name, in model order
 * @param head task head; never null (an embedding adapter has a weightless head)
 */
public record Adapter(
    String name,
    BaseModelRef base,
    Map<String, LowRankModule> modules,
    TaskHead head,
    Provenance provenance) {

  public Adapter {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(base, "base");
    Objects.requireNonNull(head, "head");
    Objects.requireNonNull(provenance, "provenance");
    LinkedHashMap<String, LowRankModule> copy = new LinkedHashMap<>();
    for (var e : modules.entrySet()) {
      if (!e.getKey().equals(e.getValue().module())) {
        throw new IllegalArgumentException("module key " + e.getKey() + " holds " + e.getValue().module());
      }
      copy.put(e.getKey(), e.getValue());
    }
    modules = java.util.Collections.unmodifiableMap(copy);
  }

  public static Map<String, LowRankModule> byName(List<LowRankModule> modules) {
    LinkedHashMap<String, LowRankModule> m = new LinkedHashMap<>();
    for (LowRankModule x : modules) {
      if (m.put(x.module(), x) != null) {
        throw new IllegalArgumentException("module " + x.module() + " appears twice");
      }
    }
    return m;
  }

  /**
   * Every module folded to a bare factor pair with dead ranks dropped; modules left with rank 0
   * disappear, unless they are DoRA modules, whose magnitude still rescales the base weight.
   */
  public Adapter compact() {
    List<LowRankModule> kept = new ArrayList<>();
    for (LowRankModule m : modules.values()) {
      LowRankModule c = m.compact();
      if (c.rank() > 0 || c.isDora()) {
        kept.add(c);
      }
    }
    return new Adapter(name, base, byName(kept), head, provenance);
  }

  public Adapter withName(String newName) {
    return new Adapter(newName, base, modules, head, provenance);
  }

  /** Whether any module is a DoRA module (PEFT's {@code use_dora}), see {@link LowRankModule#isDora()}. */
  public boolean usesDora() {
    return modules.values().stream().anyMatch(LowRankModule::isDora);
  }

  /**
   * The one refusal for every consumer that adds {@code B'A'} beside the base weight without
   * knowing that weight (multi-adapter and mixed-batch graphs, {@code .onnx_adapter} files, the
   * runtime, training-side evaluation, combining): DoRA's magnitude renormalises the merged weight
   * row by row, which a bare low-rank branch cannot express, and ignoring it would silently serve
   * another model.
   *
   * @param consumer what would have to apply the adapter, e.g. "the multi-adapter graph"
   */
  public void requireNoDora(String consumer) {
    if (usesDora()) {
      throw new Lora4jException("adapter '" + name + "' is a DoRA adapter (use_dora: a magnitude vector per module),"
          + " which " + consumer + " cannot apply; export it as a merged or factored graph (--format merged /"
          + " factored), which apply the magnitudes");
    }
  }

  public Map<String, Integer> ranks() {
    Map<String, Integer> r = new LinkedHashMap<>();
    modules.forEach((k, v) -> r.put(k, v.rank()));
    return r;
  }

  public int maxRank() {
    return modules.values().stream().mapToInt(LowRankModule::rank).max().orElse(0);
  }

  public long parameterCount() {
    long n = modules.values().stream().mapToLong(LowRankModule::parameterCount).sum();
    if (head.isClassifier()) {
      n += head.weight().data().length + head.bias().length;
    }
    return n;
  }

  /**
   * Refuses NaN / infinite weights anywhere, naming the tensor; {@code source} names the file or
   * origin for the message.
   */
  public void requireFinite(String source) {
    for (LowRankModule m : modules.values()) {
      String bad = m.findNonFinite();
      if (bad != null) {
        throw new Lora4jException(source + ": tensor " + bad + " contains NaN or infinite values");
      }
    }
    if (head.isClassifier()) {
      if (head.weight().firstNonFinite() >= 0) {
        throw new Lora4jException(source + ": the classifier weight contains NaN or infinite values");
      }
      for (float v : head.bias()) {
        if (!Float.isFinite(v)) {
          throw new Lora4jException(source + ": the classifier bias contains NaN or infinite values");
        }
      }
    }
  }
}
