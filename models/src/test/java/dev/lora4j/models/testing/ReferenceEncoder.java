package dev.lora4j.models.testing;

import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.EncoderSpec;
import dev.lora4j.models.tensor.FloatTensor;
import dev.lora4j.models.tensor.Matrix;
import java.util.HashMap;
import java.util.Map;

/**
 * BERT's forward pass written out in plain Java, straight from the formulas, in double precision:
 * the independent reference that ONNX graphs (ours and exported ones) and the trainer are checked
 * against. Slow and simple on purpose; tests only.
 */
public final class ReferenceEncoder {
  private final EncoderSpec spec;
  private final Map<String, FloatTensor> w;
  private final Map<String, Matrix> deltas;

  /** {@code deltas}: per canonical module name, a dense {@code delta W (out x in)} added to W. */
  public ReferenceEncoder(EncoderDescription base, Map<String, Matrix> deltas) {
    this.spec = base.spec();
    this.w = base.weights();
    this.deltas = new HashMap<>(deltas);
  }

  /** Last hidden state [seq][hidden] of one unpadded sentence, token types all zero. */
  public double[][] forward(long[] ids) {
    int s = ids.length;
    int h = spec.hidden();
    double[][] x = new double[s][h];
    float[] we = w.get("embeddings.word_embeddings.weight").data();
    float[] pe = w.get("embeddings.position_embeddings.weight").data();
    float[] te = w.get("embeddings.token_type_embeddings.weight").data();
    for (int t = 0; t < s; t++) {
      for (int j = 0; j < h; j++) {
        x[t][j] = we[(int) ids[t] * h + j] + pe[t * h + j] + te[j];
      }
    }
    x = layerNorm(x, "embeddings.LayerNorm");
    int heads = spec.heads();
    int hd = spec.headDim();
    for (int l = 0; l < spec.layers(); l++) {
      String p = "encoder.layer." + l + ".";
      double[][] q = linear(x, p + "attention.self.query");
      double[][] k = linear(x, p + "attention.self.key");
      double[][] v = linear(x, p + "attention.self.value");
      double[][] ctx = new double[s][h];
      for (int head = 0; head < heads; head++) {
        int o = head * hd;
        for (int i = 0; i < s; i++) {
          double[] score = new double[s];
          double max = Double.NEGATIVE_INFINITY;
          for (int j = 0; j < s; j++) {
            double d = 0;
            for (int c = 0; c < hd; c++) {
              d += q[i][o + c] * k[j][o + c];
            }
            score[j] = d / Math.sqrt(hd);
            max = Math.max(max, score[j]);
          }
          double sum = 0;
          for (int j = 0; j < s; j++) {
            score[j] = Math.exp(score[j] - max);
            sum += score[j];
          }
          for (int j = 0; j < s; j++) {
            for (int c = 0; c < hd; c++) {
              ctx[i][o + c] += score[j] / sum * v[j][o + c];
            }
          }
        }
      }
      double[][] a = add(linear(ctx, p + "attention.output.dense"), x);
      x = layerNorm(a, p + "attention.output.LayerNorm");
      double[][] inter = linear(x, p + "intermediate.dense");
      for (double[] row : inter) {
        for (int j = 0; j < row.length; j++) {
          double z = row[j];
          row[j] = spec.activation().equals("gelu")
              ? 0.5 * z * (1 + erf(z / Math.sqrt(2)))
              : 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z)));
        }
      }
      x = layerNorm(add(linear(inter, p + "output.dense"), x), p + "output.LayerNorm");
    }
    return x;
  }

  /** Mean over tokens. */
  public static double[] meanPool(double[][] hidden) {
    double[] m = new double[hidden[0].length];
    for (double[] row : hidden) {
      for (int j = 0; j < m.length; j++) {
        m[j] += row[j] / hidden.length;
      }
    }
    return m;
  }

  private double[][] linear(double[][] x, String module) {
    Matrix wm = w.get(module + ".weight").asMatrix();
    Matrix d = deltas.get(module);
    if (d != null) {
      wm = wm.add(d);
    }
    float[] b = w.get(module + ".bias").data();
    double[][] y = new double[x.length][wm.rows()];
    for (int t = 0; t < x.length; t++) {
      for (int o = 0; o < wm.rows(); o++) {
        double acc = b[o];
        for (int i = 0; i < wm.cols(); i++) {
          acc += x[t][i] * wm.get(o, i);
        }
        y[t][o] = acc;
      }
    }
    return y;
  }

  private double[][] layerNorm(double[][] x, String module) {
    float[] g = w.get(module + ".weight").data();
    float[] b = w.get(module + ".bias").data();
    double[][] y = new double[x.length][];
    for (int t = 0; t < x.length; t++) {
      double mean = 0;
      for (double v : x[t]) {
        mean += v / x[t].length;
      }
      double var = 0;
      for (double v : x[t]) {
        var += (v - mean) * (v - mean) / x[t].length;
      }
      y[t] = new double[x[t].length];
      for (int j = 0; j < x[t].length; j++) {
        y[t][j] = (x[t][j] - mean) / Math.sqrt(var + spec.layerNormEps()) * g[j] + b[j];
      }
    }
    return y;
  }

  private static double[][] add(double[][] a, double[][] b) {
    double[][] y = new double[a.length][a[0].length];
    for (int i = 0; i < a.length; i++) {
      for (int j = 0; j < a[0].length; j++) {
        y[i][j] = a[i][j] + b[i][j];
      }
    }
    return y;
  }

  /** Abramowitz-Stegun 7.1.26 is too coarse here; this series / continued fraction is ~1e-15. */
  static double erf(double z) {
    double t = Math.abs(z);
    double r;
    if (t < 2.5) {
      double sum = t;
      double term = t;
      for (int n = 1; n < 60; n++) {
        term *= -t * t / n;
        sum += term / (2 * n + 1);
      }
      r = 2 / Math.sqrt(Math.PI) * sum;
    } else {
      double cf = 0;
      for (int n = 60; n >= 1; n--) {
        cf = n / 2.0 / (t + cf);
      }
      r = 1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + cf);
    }
    return z < 0 ? -r : r;
  }
}
