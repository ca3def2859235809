package dev.lora4j.exporter;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.tensor.Matrix;
import dev.lora4j.models.testing.ReferenceEncoder;
import java.util.HashMap;
import java.util.Map;

/**
 * What an exported graph must compute, straight from the formulas in double precision and without
 * any exporter code (not even {@code compact()}): {@code delta W = s · B · T · diag(g) · A}, the
 * reference BERT forward, then pooling and the head.
 */
final class Expected {
  private final EncoderDescription base;
  private final Adapter adapter;
  private final ReferenceEncoder encoder;

  Expected(EncoderDescription base, Adapter adapter) {
    this.base = base;
    this.adapter = adapter;
    Map<String, Matrix> deltas = new HashMap<>();
    if (adapter != null) {
      adapter.modules().forEach((k, m) -> deltas.put(k, delta(m)));
    }
    this.encoder = new ReferenceEncoder(base, deltas);
  }

  static Matrix delta(LowRankModule m) {
    int r = m.rank();
    int out = m.outFeatures();
    int in = m.inFeatures();
    // M = s · B · T · diag(g), out x r
    double[][] bt = new double[out][r];
    for (int o = 0; o < out; o++) {
      for (int j = 0; j < r; j++) {
        double v = 0;
        for (int k = 0; k < r; k++) {
          double t = m.transform() == null ? (k == j ? 1 : 0) : m.transform().get(k, j);
          v += m.b().get(o, k) * t;
        }
        bt[o][j] = v * (m.gate() == null ? 1 : m.gate()[j]) * m.scaling();
      }
    }
    float[] d = new float[out * in];
    for (int o = 0; o < out; o++) {
      for (int i = 0; i < in; i++) {
        double v = 0;
        for (int j = 0; j < r; j++) {
          v += bt[o][j] * m.a().get(j, i);
        }
        d[o * in + i] = (float) v;
      }
    }
    return new Matrix(out, in, d);
  }

  double[][] hidden(long[] ids) {
    return encoder.forward(ids);
  }

  double[] pooled(long[] ids, TaskHead.Pooling pooling) {
    double[][] h = hidden(ids);
    return pooling == TaskHead.Pooling.CLS ? h[0] : ReferenceEncoder.meanPool(h);
  }

  double[] embedding(long[] ids) {
    double[] p = pooled(ids, adapter == null ? TaskHead.Pooling.MEAN : adapter.head().pooling());
    double n = 0;
    for (double v : p) {
      n += v * v;
    }
    n = Math.max(Math.sqrt(n), 1e-12);
    double[] e = new double[p.length];
    for (int i = 0; i < p.length; i++) {
      e[i] = p[i] / n;
    }
    return e;
  }

  double[] logits(long[] ids) {
    TaskHead head = adapter.head();
    double[] p = pooled(ids, head.pooling());
    double[] z = new double[head.labels().size()];
    for (int l = 0; l < z.length; l++) {
      double v = head.bias()[l];
      for (int j = 0; j < p.length; j++) {
        v += head.weight().get(l, j) * p[j];
      }
      z[l] = v;
    }
    return z;
  }

  static double[] softmax(double[] z) {
    double max = Double.NEGATIVE_INFINITY;
    for (double v : z) {
      max = Math.max(max, v);
    }
    double sum = 0;
    double[] p = new double[z.length];
    for (int i = 0; i < z.length; i++) {
      p[i] = Math.exp(z[i] - max);
      sum += p[i];
    }
    for (int i = 0; i < z.length; i++) {
      p[i] /= sum;
    }
    return p;
  }

  EncoderDescription base() {
    return base;
  }

  static double maxAbsDiff(float[] actual, double[] expected) {
    if (actual.length != expected.length) {
      throw new AssertionError("length " + actual.length + " vs expected " + expected.length);
    }
    double max = 0;
    for (int i = 0; i < actual.length; i++) {
      max = Math.max(max, Math.abs(actual[i] - expected[i]));
    }
    return max;
  }

  static double maxAbsDiff(float[] a, float[] b) {
    if (a.length != b.length) {
      throw new AssertionError("length " + a.length + " vs " + b.length);
    }
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs(a[i] - b[i]));
    }
    return max;
  }
}
