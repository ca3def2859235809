package dev.lora4j.models.adapter;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.ortformat.OrtAdapterParameter;
import dev.lora4j.models.tensor.FloatTensor;
import dev.lora4j.models.tensor.Matrix;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Packs N adapters into the stacked inputs of the mixed-batch base graph, so one batch can mix
 * adapters: row {@code i} of a batch uses slot {@code adapter_index[i]}.
 *
 * <p>Every module of the graph gets a stack, also modules no slot adapts (rank 0): the graph gathers
 * every stack by {@code adapter_index}, so each must have all the slots. Ranks are zero-padded to
 * the widest slot of that module; the zero columns of {@code A'^T} meet zero rows of {@code B'^T},
 * so padding adds exactly nothing. Classifier heads are padded to the widest label count with
 * {@link AdapterTensorNames#PADDED_LABEL_LOGIT} biases. A {@code null} slot means "no adapter":
 * the plain base model, mean pooling, no labels.
 *
 * <p>This lives in models, not in the exporter, because the runtime packs whatever adapters a batch
 * needs at serving time, and the runtime depends on nothing but models and ONNX Runtime.
 *
 * @param parameters the graph inputs, named per {@link AdapterTensorNames} (stacks and head)
 * @param labels per slot, how many leading logit columns are real
 */
public record MixedBatchStacks(List<OrtAdapterParameter> parameters, int[] labels) {

  /**
   * The adaptable modules of a mixed-batch graph and its hidden size: what the packer needs to
   * shape every stack. The exporter records it in {@code export.json}.
   */
  public record Layout(int hidden, List<ModuleShape> modules) {
    public Layout {
      modules = List.copyOf(modules);
    }
  }

  /** One adaptable module: {@code W (out x in)}. */
  public record ModuleShape(String name, int in, int out) {}

  public MixedBatchStacks {
    parameters = List.copyOf(parameters);
    labels = labels.clone();
  }

  @Override
  public int[] labels() {
    return labels.clone();
  }

  public int slots() {
    return labels.length;
  }

  /** Packs {@code slots} (compacted here when needed; null = no adapter) for a graph of {@code layout}. */
  public static MixedBatchStacks pack(List<Adapter> slots, Layout layout) {
    if (slots.isEmpty()) {
      throw new IllegalArgumentException("a mixed batch needs at least one slot");
    }
    List<Adapter> compact = slots.stream().map(a -> a == null ? null : a.compact()).toList();
    for (Adapter a : compact) {
      if (a == null) {
        continue;
      }
      a.requireNoDora("the mixed-batch graph");
      for (LowRankModule m : a.modules().values()) {
        ModuleShape s = layout.modules().stream().filter(x -> x.name().equals(m.module())).findFirst()
            .orElseThrow(() -> new Lora4jException("adapter " + a.name() + ": module " + m.module()
                + " is not adaptable in the mixed-batch graph"));
        if (s.in() != m.inFeatures() || s.out() != m.outFeatures()) {
          throw new Lora4jException("adapter " + a.name() + ": module " + m.module() + " is " + m.outFeatures()
              + "x" + m.inFeatures() + " but the mixed-batch graph's is " + s.out() + "x" + s.in());
        }
      }
    }
    int n = compact.size();
    List<OrtAdapterParameter> out = new ArrayList<>();
    for (ModuleShape s : layout.modules()) {
      int rMax = 0;
      for (Adapter a : compact) {
        LowRankModule m = a == null ? null : a.modules().get(s.name());
        rMax = Math.max(rMax, m == null ? 0 : m.rank());
      }
      float[] at = new float[n * s.in() * rMax];
      float[] bt = new float[n * rMax * s.out()];
      for (int slot = 0; slot < n; slot++) {
        Adapter a = compact.get(slot);
        LowRankModule m = a == null ? null : a.modules().get(s.name());
        if (m == null) {
          continue;
        }
        // A'^T [in, r] into [in, rMax]: row i keeps its first r columns
        Matrix aT = m.a().transpose();
        for (int i = 0; i < s.in(); i++) {
          System.arraycopy(aT.data(), i * m.rank(), at, (slot * s.in() + i) * rMax, m.rank());
        }
        // B'^T [r, out] into [rMax, out]: the first r rows
        System.arraycopy(m.b().transpose().data(), 0, bt, slot * rMax * s.out(), m.rank() * s.out());
      }
      out.add(OrtAdapterParameter.floats(AdapterTensorNames.stackedA(s.name()),
          new FloatTensor(new long[] {n, s.in(), rMax}, at)));
      out.add(OrtAdapterParameter.floats(AdapterTensorNames.stackedB(s.name()),
          new FloatTensor(new long[] {n, rMax, s.out()}, bt)));
    }
    int[] labels = new int[n];
    int lMax = 0;
    for (int slot = 0; slot < n; slot++) {
      Adapter a = compact.get(slot);
      labels[slot] = a == null || !a.head().isClassifier() ? 0 : a.head().labels().size();
      lMax = Math.max(lMax, labels[slot]);
    }
    int h = layout.hidden();
    float[] w = new float[n * h * lMax];
    float[] b = new float[n * lMax];
    long[] cls = new long[n];
    Arrays.fill(b, AdapterTensorNames.PADDED_LABEL_LOGIT);
    for (int slot = 0; slot < n; slot++) {
      Adapter a = compact.get(slot);
      if (a == null) {
        continue;
      }
      TaskHead head = a.head();
      cls[slot] = head.pooling() == TaskHead.Pooling.CLS ? 1 : 0;
      if (!head.isClassifier()) {
        continue;
      }
      if (head.weight().cols() != h) {
        throw new Lora4jException("adapter " + a.name() + ": the classifier reads " + head.weight().cols()
            + " features but the mixed-batch graph's hidden size is " + h);
      }
      Matrix wt = head.weight().transpose(); // [h, labels]
      int l = labels[slot];
      for (int i = 0; i < h; i++) {
        System.arraycopy(wt.data(), i * l, w, (slot * h + i) * lMax, l);
      }
      System.arraycopy(head.bias(), 0, b, slot * lMax, l);
    }
    out.add(OrtAdapterParameter.floats(AdapterTensorNames.HEAD_WEIGHT_STACKED, new FloatTensor(new long[] {n, h, lMax}, w)));
    out.add(OrtAdapterParameter.floats(AdapterTensorNames.HEAD_BIAS_STACKED, new FloatTensor(new long[] {n, lMax}, b)));
    out.add(OrtAdapterParameter.int64s(AdapterTensorNames.HEAD_CLS_POOLING_STACKED, new long[] {n}, cls));
    return new MixedBatchStacks(out, labels);
  }

  /** The stack named {@code name}. */
  public OrtAdapterParameter parameter(String name) {
    return parameters.stream().filter(p -> Objects.equals(p.name(), name)).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no stack named " + name));
  }
}
