package dev.lora4j.exporter;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.tensor.Matrix;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * One compact module's update {@code delta W = B·A} as {@code U·diag(sigma)·V^T}, singular values
 * descending, computed in double without forming the {@code out x in} matrix: thin QR of
 * {@code B = Q_B R_B} and of {@code A^T = Q_A R_A}, then the SVD of the small core
 * {@code R_B R_A^T = U_c S V_c^T} (at most r x r), so {@code U = Q_B U_c} and {@code V = Q_A V_c}.
 * The cost is O((in + out) r^2) instead of O(in · out · r).
 */
final class ModuleSvd {
  private final String module;
  private final DMatrixRMaj u; // out x s, orthonormal columns
  private final double[] sigma; // s, descending
  private final DMatrixRMaj v; // in x s, orthonormal columns

  private ModuleSvd(String module, DMatrixRMaj u, double[] sigma, DMatrixRMaj v) {
    this.module = module;
    this.u = u;
    this.sigma = sigma;
    this.v = v;
  }

  /** {@code m} must be compact (scaling, gate and T already folded into B: {@link LowRankModule#compact()}). */
  static ModuleSvd of(LowRankModule m) {
    if (!m.isCompact()) {
      throw new IllegalArgumentException(m.module() + " is not compact");
    }
    DMatrixRMaj b = toDouble(m.b()); // out x r
    DMatrixRMaj at = toDouble(m.a().transpose()); // in x r
    QRDecomposition<DMatrixRMaj> qrB = DecompositionFactory_DDRM.qr(b.numRows, b.numCols);
    QRDecomposition<DMatrixRMaj> qrA = DecompositionFactory_DDRM.qr(at.numRows, at.numCols);
    if (!qrB.decompose(b) || !qrA.decompose(at)) {
      throw new Lora4jException(m.module() + ": the QR decomposition of its factors failed");
    }
    DMatrixRMaj qb = qrB.getQ(null, true);
    DMatrixRMaj rb = qrB.getR(null, true);
    DMatrixRMaj qa = qrA.getQ(null, true);
    DMatrixRMaj ra = qrA.getR(null, true);
    DMatrixRMaj core = new DMatrixRMaj(rb.numRows, ra.numRows);
    CommonOps_DDRM.multTransB(rb, ra, core);
    SingularValueDecomposition_F64<DMatrixRMaj> svd =
        DecompositionFactory_DDRM.svd(core.numRows, core.numCols, true, true, true);
    if (!svd.decompose(core)) {
      throw new Lora4jException(m.module() + ": the SVD of its " + core.numRows + "x" + core.numCols
          + " core did not converge");
    }
    DMatrixRMaj uc = svd.getU(null, false);
    DMatrixRMaj w = svd.getW(null);
    DMatrixRMaj vc = svd.getV(null, false);
    SingularOps_DDRM.descendingOrder(uc, false, w, vc, false);
    int s = Math.min(w.numRows, w.numCols);
    double[] sigma = new double[s];
    for (int i = 0; i < s; i++) {
      sigma[i] = w.get(i, i);
    }
    DMatrixRMaj u = new DMatrixRMaj(qb.numRows, uc.numCols);
    CommonOps_DDRM.mult(qb, uc, u);
    DMatrixRMaj v = new DMatrixRMaj(qa.numRows, vc.numCols);
    CommonOps_DDRM.mult(qa, vc, v);
    return new ModuleSvd(m.module(), u, sigma, v);
  }

  String module() {
    return module;
  }

  /** Singular values, descending (a copy). */
  double[] singularValues() {
    return sigma.clone();
  }

  /**
   * The best rank-{@code k} approximation of delta W (Eckart–Young) as a compact pair, stored in
   * float32: {@code B' = U_k sqrt(S_k)}, {@code A' = sqrt(S_k) V_k^T}.
   *
   * <p>Why the balanced split rather than {@code B' = U S, A' = V^T}: it gives both factors the
   * same scale (each rank's column of B' and row of A' have norm sqrt(sigma)), as trained LoRA
   * factors have, so neither factor's values crowd the bottom of float32's (or a half-precision
   * adapter's much narrower) range while the other holds all the magnitude; the product is the
   * same either way.
   */
  LowRankModule keep(int k) {
    if (k < 0 || k > sigma.length) {
      throw new IllegalArgumentException(module + ": cannot keep " + k + " of " + sigma.length + " directions");
    }
    int out = u.numRows;
    int in = v.numRows;
    float[] b = new float[out * k];
    float[] a = new float[k * in];
    for (int j = 0; j < k; j++) {
      double root = Math.sqrt(sigma[j]);
      for (int i = 0; i < out; i++) {
        b[i * k + j] = (float) (u.get(i, j) * root);
      }
      for (int i = 0; i < in; i++) {
        a[j * in + i] = (float) (v.get(i, j) * root);
      }
    }
    return LowRankModule.lora(module, new Matrix(k, in, a), new Matrix(out, k, b), 1.0);
  }

  private static DMatrixRMaj toDouble(Matrix m) {
    DMatrixRMaj d = new DMatrixRMaj(m.rows(), m.cols());
    float[] src = m.data();
    for (int i = 0; i < src.length; i++) {
      d.data[i] = src[i];
    }
    return d;
  }
}
