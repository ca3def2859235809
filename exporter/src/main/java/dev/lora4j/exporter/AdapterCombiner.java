package dev.lora4j.exporter;

import dev.lora4j.exporter.Combination.Method;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.ModuleKind;
import dev.lora4j.models.tensor.Matrix;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * The algebra behind {@link Combination#apply}: PEFT's {@code add_weighted_adapter} per module
 * (tuners/lora/model.py), heads combined by weighted sum, and the checks that the inputs can be
 * combined at all.
 */
final class AdapterCombiner {
  private AdapterCombiner() {}

  /**
   * One input's module ready to combine: a gate or transformation (lora4j's SoRA, SaLoRA, MTLoRA)
   * folded into B with its dead ranks dropped, as {@link LowRankModule#compact()} does, but PEFT's
   * scaling kept apart, because PEFT weighs A and B by {@code sqrt(weight · scaling)}.
   */
  record Factors(Matrix a, Matrix b, double scaling, double weight) {
    static Factors of(LowRankModule m, double weight) {
      if (m.gate() == null && m.transform() == null) {
        return new Factors(m.a(), m.b(), m.scaling(), weight);
      }
      LowRankModule folded = new LowRankModule(m.module(), m.a(), m.b(), 1.0, m.gate(), m.transform()).compact();
      return new Factors(folded.a(), folded.b(), m.scaling(), weight);
    }

    int rank() {
      return a.rows();
    }
  }

  static Adapter combine(Combination c, List<Adapter> inputs) {
    BaseModelRef base = commonBase(inputs);
    double[] weights = c.parts().stream().mapToDouble(Combination.Part::weight).toArray();
    // PEFT: "if there is only one adapter, we can only use linear merging"
    Method method = inputs.size() == 1 ? Method.LINEAR : c.method();
    SplittableRandom random = new SplittableRandom(c.seed());
    List<LowRankModule> modules = new ArrayList<>();
    for (String module : moduleUnion(inputs)) {
      List<Factors> present = new ArrayList<>();
      List<String> owners = new ArrayList<>();
      for (int i = 0; i < inputs.size(); i++) {
        LowRankModule m = inputs.get(i).modules().get(module);
        if (m == null) {
          continue;
        }
        Factors f = Factors.of(m, weights[i]);
        if (f.rank() > 0) { // all ranks gated off: its delta is zero, which every method treats as absent
          present.add(f);
          owners.add(inputs.get(i).name());
        }
      }
      requireSameShape(module, present, owners);
      if (!present.isEmpty()) {
        modules.add(combineModule(module, present, owners, method, c, random));
      }
    }
    return new Adapter(c.name(), base, Adapter.byName(modules), head(inputs, weights), provenance(c, inputs));
  }

  static LowRankModule combineModule(String module, List<Factors> in, List<String> owners, Method method,
      Combination c, SplittableRandom random) {
    return switch (method) {
      case CAT -> cat(module, in);
      case SVD -> svd(module, in, c.rank());
      default -> entrywise(module, in, owners, method, c.density() == null ? 1 : c.density(), random);
    };
  }

  /** PEFT's cat: A rows scaled by weight · scaling and stacked, B columns side by side; rank adds up. */
  private static LowRankModule cat(String module, List<Factors> in) {
    int rank = in.stream().mapToInt(Factors::rank).sum();
    int cols = in.get(0).a().cols();
    int outs = in.get(0).b().rows();
    float[] a = new float[rank * cols];
    float[] b = new float[outs * rank];
    int offset = 0;
    for (Factors f : in) {
      double s = f.weight() * f.scaling();
      float[] fa = f.a().data();
      for (int j = 0; j < fa.length; j++) {
        a[offset * cols + j] = (float) (fa[j] * s);
      }
      for (int o = 0; o < outs; o++) {
        for (int k = 0; k < f.rank(); k++) {
          b[o * rank + offset + k] = f.b().get(o, k);
        }
      }
      offset += f.rank();
    }
    return LowRankModule.lora(module, new Matrix(rank, cols, a), new Matrix(outs, rank, b), 1.0);
  }

  /**
   * PEFT's linear, ties, dare_linear and dare_ties (without _svd): A and B are merged entrywise,
   * each input's A weighted by {@code sign · sqrt(|w · s|)} and its B by {@code sqrt(|w · s|)}, so
   * that a single input's delta comes out as {@code w · s · B · A}.
   */
  private static LowRankModule entrywise(String module, List<Factors> in, List<String> owners, Method method,
      double density, SplittableRandom random) {
    for (int i = 1; i < in.size(); i++) {
      if (in.get(i).rank() != in.get(0).rank()) {
        throw new Lora4jException("--combine-method " + method.id() + " merges A and B entry by entry and needs equal "
            + "ranks, as PEFT does, but module " + module + " has rank " + in.get(0).rank() + " in '" + owners.get(0)
            + "' and " + in.get(i).rank() + " in '" + owners.get(i) + "'; use cat or svd");
      }
    }
    double[] wa = new double[in.size()];
    double[] wb = new double[in.size()];
    for (int i = 0; i < in.size(); i++) {
      double ws = in.get(i).weight() * in.get(i).scaling();
      wb[i] = Math.sqrt(Math.abs(ws));
      wa[i] = ws >= 0 ? wb[i] : -wb[i]; // the sign on one side only, or it would cancel
    }
    // PEFT's order: all of A, then all of B (dare draws in that order)
    float[] a = merge(in.stream().map(f -> f.a().data()).toList(), wa, method, density, random);
    float[] b = merge(in.stream().map(f -> f.b().data()).toList(), wb, method, density, random);
    Factors first = in.get(0);
    return LowRankModule.lora(module, new Matrix(first.rank(), first.a().cols(), a),
        new Matrix(first.b().rows(), first.rank(), b), 1.0);
  }

  private static float[] merge(List<float[]> t, double[] w, Method method, double density, SplittableRandom random) {
    return switch (method) {
      case LINEAR -> TaskArithmetic.linear(t, w);
      case TIES -> TaskArithmetic.ties(t, w, density);
      case DARE_LINEAR -> TaskArithmetic.dareLinear(t, w, density, random);
      case DARE_TIES -> TaskArithmetic.dareTies(t, w, density, random);
      default -> throw new IllegalStateException(method.id());
    };
  }

  /**
   * PEFT's svd: the sum of {@code w · delta W} (scaling included), cut to its {@code rank} largest
   * singular values; {@code B = U_r · diag(S_r)}, {@code A = V_r^T}. The product is the best rank-r
   * approximation, unique up to the signs of the singular vectors when the singular values at the
   * cut differ. PEFT decomposes the dense out x in sum; here the sum is kept as the product of the
   * stacked factors {@code Bc · Ac} (rank R = sum of the input ranks), so QR of both and an SVD of
   * the small R x R core give the same singular triplets without the O(out · in^2) dense SVD.
   * Asked for more ranks than the sum has, the extra ones are zero.
   */
  private static LowRankModule svd(String module, List<Factors> in, int rank) {
    int outs = in.get(0).b().rows();
    int cols = in.get(0).a().cols();
    if (rank > Math.min(outs, cols)) {
      throw new Lora4jException("--combine-rank " + rank + " exceeds what module " + module + " (" + outs + " x "
          + cols + ") can hold: at most " + Math.min(outs, cols));
    }
    // B_c = [B_1 ... B_k], A_c = [w_1 s_1 A_1; ...; w_k s_k A_k]: B_c · A_c is the weighted sum (cat's pair, in double)
    int r = in.stream().mapToInt(Factors::rank).sum();
    DMatrixRMaj bc = new DMatrixRMaj(outs, r);
    DMatrixRMaj act = new DMatrixRMaj(cols, r); // A_c transposed
    int offset = 0;
    for (Factors f : in) {
      double ws = f.weight() * f.scaling();
      for (int k = 0; k < f.rank(); k++) {
        for (int o = 0; o < outs; o++) {
          bc.set(o, offset + k, f.b().get(o, k));
        }
        for (int i = 0; i < cols; i++) {
          act.set(i, offset + k, ws * f.a().get(k, i));
        }
      }
      offset += f.rank();
    }
    QRDecomposition<DMatrixRMaj> qrB = DecompositionFactory_DDRM.qr(outs, r);
    QRDecomposition<DMatrixRMaj> qrA = DecompositionFactory_DDRM.qr(cols, r);
    if (!qrB.decompose(bc) || !qrA.decompose(act)) {
      throw new Lora4jException("--combine-method svd: the QR decomposition of module " + module + " failed");
    }
    DMatrixRMaj qb = qrB.getQ(null, true);
    DMatrixRMaj qa = qrA.getQ(null, true);
    DMatrixRMaj core = new DMatrixRMaj(qb.numCols, qa.numCols); // R_B · R_A^T
    CommonOps_DDRM.multTransB(qrB.getR(null, true), qrA.getR(null, true), core);
    SingularValueDecomposition_F64<DMatrixRMaj> svd =
        DecompositionFactory_DDRM.svd(core.numRows, core.numCols, true, true, true);
    if (!svd.decompose(core)) {
      throw new Lora4jException("--combine-method svd: the singular value decomposition of module " + module
          + " did not converge");
    }
    DMatrixRMaj uc = svd.getU(null, false);
    DMatrixRMaj vc = svd.getV(null, false);
    double[] s = svd.getSingularValues();
    int found = svd.numberOfSingularValues();
    SingularOps_DDRM.descendingOrder(uc, false, s, found, vc, false);
    DMatrixRMaj u = new DMatrixRMaj(outs, uc.numCols);
    DMatrixRMaj v = new DMatrixRMaj(cols, vc.numCols);
    CommonOps_DDRM.mult(qb, uc, u);
    CommonOps_DDRM.mult(qa, vc, v);
    float[] a = new float[rank * cols];
    float[] b = new float[outs * rank];
    for (int k = 0; k < Math.min(rank, found); k++) {
      for (int i = 0; i < cols; i++) {
        a[k * cols + i] = (float) v.get(i, k);
      }
      for (int o = 0; o < outs; o++) {
        b[o * rank + k] = (float) (u.get(o, k) * s[k]);
      }
    }
    return LowRankModule.lora(module, new Matrix(rank, cols, a), new Matrix(outs, rank, b), 1.0);
  }

  /**
   * Heads: the same pooling and the same label set (rows matched by label, in the first input's
   * order), then {@code sum of w_i · weight_i} and {@code sum of w_i · bias_i} whatever the method:
   * a head is one small dense layer, not a low-rank pair, so there is nothing to split or prune.
   */
  static TaskHead head(List<Adapter> inputs, double[] weights) {
    TaskHead first = inputs.get(0).head();
    for (int i = 1; i < inputs.size(); i++) {
      TaskHead h = inputs.get(i).head();
      String pair = "'" + inputs.get(0).name() + "' and '" + inputs.get(i).name() + "'";
      if (h.pooling() != first.pooling()) {
        throw new Lora4jException("--combine: " + pair + " pool differently (" + first.pooling().id() + ", "
            + h.pooling().id() + "); only adapters with the same task head combine");
      }
      if (h.isClassifier() != first.isClassifier() || !Set.copyOf(h.labels()).equals(Set.copyOf(first.labels()))
          || h.labels().size() != first.labels().size()) {
        throw new Lora4jException("--combine: " + pair + " have different label sets (" + describe(first) + ", "
            + describe(h) + "); only adapters with the same labels combine");
      }
    }
    if (!first.isClassifier()) {
      return first;
    }
    List<String> labels = first.labels();
    int hidden = first.weight().cols();
    double[] w = new double[labels.size() * hidden];
    double[] bias = new double[labels.size()];
    for (int i = 0; i < inputs.size(); i++) {
      TaskHead h = inputs.get(i).head();
      if (h.weight().cols() != hidden) {
        throw new Lora4jException("--combine: the heads of '" + inputs.get(0).name() + "' and '" + inputs.get(i).name()
            + "' read " + hidden + " and " + h.weight().cols() + " hidden values");
      }
      float[] hb = h.bias();
      for (int row = 0; row < labels.size(); row++) {
        int from = h.labels().indexOf(labels.get(row));
        bias[row] += weights[i] * hb[from];
        for (int j = 0; j < hidden; j++) {
          w[row * hidden + j] += weights[i] * h.weight().get(from, j);
        }
      }
    }
    float[] wf = new float[w.length];
    for (int j = 0; j < w.length; j++) {
      wf[j] = (float) w[j];
    }
    float[] bf = new float[bias.length];
    for (int j = 0; j < bias.length; j++) {
      bf[j] = (float) bias[j];
    }
    return TaskHead.classifier(first.pooling(), new Matrix(labels.size(), hidden, wf), bf, labels);
  }

  private static String describe(TaskHead h) {
    return h.isClassifier() ? String.join(", ", h.labels()) : "embeddings, no labels";
  }

  /** All inputs must be for one base: equal hashes where known (a PEFT import records none). */
  private static BaseModelRef commonBase(List<Adapter> inputs) {
    BaseModelRef known = null;
    String owner = null;
    for (Adapter a : inputs) {
      if (!a.base().recordsHash()) {
        continue;
      }
      if (known == null) {
        known = a.base();
        owner = a.name();
      } else if (known.differsFrom(a.base())) {
        throw new Lora4jException("--combine: '" + owner + "' and '" + a.name() + "' were trained on different base "
            + "models (" + known.id() + ", " + a.base().id() + ")");
      }
    }
    return known != null ? known : inputs.get(0).base();
  }

  private static void requireSameShape(String module, List<Factors> present, List<String> owners) {
    for (int i = 1; i < present.size(); i++) {
      Factors f = present.get(i);
      Factors g = present.get(0);
      if (f.a().cols() != g.a().cols() || f.b().rows() != g.b().rows()) {
        throw new Lora4jException("--combine: module " + module + " is " + g.b().rows() + " x " + g.a().cols()
            + " in '" + owners.get(0) + "' but " + f.b().rows() + " x " + f.a().cols() + " in '" + owners.get(i)
            + "'; the adapters are for different base models");
      }
    }
  }

  /** PEFT targets the union of the inputs' modules; here in model order (layer, then module kind). */
  private static List<String> moduleUnion(List<Adapter> inputs) {
    Set<String> union = new LinkedHashSet<>();
    inputs.forEach(a -> union.addAll(a.modules().keySet()));
    List<String> ordered = new ArrayList<>(union);
    ordered.sort(Comparator.comparingInt((String m) -> ModuleKind.layerOf(m).orElse(Integer.MAX_VALUE))
        .thenComparingInt(AdapterCombiner::kindOrder));
    return ordered;
  }

  private static int kindOrder(String module) {
    try {
      return ModuleKind.ofModule(module).ordinal();
    } catch (Lora4jException e) {
      return Integer.MAX_VALUE; // not a module lora4j knows: after the known ones, in input order
    }
  }

  private static Provenance provenance(Combination c, List<Adapter> inputs) {
    Map<String, Object> hp = new LinkedHashMap<>();
    hp.put("combine", c.spec());
    hp.put("combine_method", c.method().id());
    if (c.density() != null) {
      hp.put("density", c.density());
    }
    if (c.rank() != null) {
      hp.put("combine_rank", c.rank());
    }
    Map<String, Object> data = new LinkedHashMap<>();
    data.put("inputs", inputs.stream().map(a -> a.name() + " (" + a.provenance().method() + ")").toList());
    return new Provenance("combine", hp, data, c.seed(), Map.of(), java.time.Instant.now().toString(),
        Provenance.toolName());
  }
}
