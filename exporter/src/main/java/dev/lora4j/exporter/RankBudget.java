package dev.lora4j.exporter;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterDtype;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.adapter.ortformat.MultiAdapterParameters;
import dev.lora4j.models.adapter.ortformat.OrtAdapterFile;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One global budget for an exported adapter ({@code export --rank-budget} / {@code --max-size}):
 * every module's folded update {@code delta W = B·A} is re-factored through its SVD
 * ({@link ModuleSvd}), and the strongest singular directions over all modules are kept, largest
 * singular value first, until the next one would break a limit. A module that keeps no direction
 * is dropped. Gated adapters (SoRA, SaLoRA, MTLoRA) are covered the same way: their gates, T and
 * scaling are folded into B before the SVD, so a gate's magnitude is already in the singular
 * values; there is no second, gate-based rule.
 *
 * <p>The ranking is by singular value alone, not by singular value per byte. Keeping the top n of
 * all singular values minimises the summed squared (Frobenius) error of all modules for n ranks
 * (Eckart–Young per module, and the dropped energy is the sum of the dropped sigma^2); one order
 * for both limits also makes them nest: a size limit keeps a prefix of what a rank budget keeps.
 * Weighting by bytes would favour attention modules (in + out = 2 · hidden values a rank) over
 * feed-forward ones (5 · hidden) by 2.5 times without evidence that their directions matter less.
 *
 * @param maxRanks total ranks kept over all modules, or null for no rank limit
 * @param maxBytes most bytes of the float32 {@code .onnx_adapter} (head included), or null
 */
public record RankBudget(Integer maxRanks, Long maxBytes) {
  static final String RANK_FLAG = "--rank-budget";
  static final String SIZE_FLAG = "--max-size";

  public RankBudget {
    if (maxRanks == null && maxBytes == null) {
      throw new IllegalArgumentException("a budget needs a rank limit, a size limit or both");
    }
    if (maxRanks != null && maxRanks < 1) {
      throw new Lora4jException(RANK_FLAG + " must be at least 1 (the total rank kept over all modules), not "
          + maxRanks);
    }
    if (maxBytes != null && maxBytes < 1) {
      throw new Lora4jException(SIZE_FLAG + " must be a positive number of KiB, not " + maxBytes + " bytes");
    }
  }

  /**
   * The budget of the command-line flags; either may be null (not given), not both.
   *
   * @param maxSizeKib {@code --max-size} in KiB (1024 bytes), fractions allowed
   */
  public static RankBudget of(Integer rankBudget, Double maxSizeKib) {
    Long bytes = null;
    if (maxSizeKib != null) {
      if (!Double.isFinite(maxSizeKib) || maxSizeKib <= 0) {
        throw new Lora4jException(SIZE_FLAG + " must be a positive number of KiB, not " + kib(maxSizeKib));
      }
      bytes = (long) Math.floor(maxSizeKib * 1024);
      if (bytes < 1) {
        throw new Lora4jException(SIZE_FLAG + " " + kib(maxSizeKib) + " KiB is less than one byte");
      }
    }
    return new RankBudget(rankBudget, bytes);
  }

  /**
   * What the budget made of one adapter.
   *
   * @param adapter the compact, re-factored adapter: per module B' = U sqrt(S), A' = sqrt(S) V^T
   * @param applied what was asked and what resulted, for export.json and the adapter's provenance
   */
  public record Result(Adapter adapter, Applied applied) {}

  /**
   * The budget applied to one adapter, as export.json and the adapter's provenance
   * ({@code hyper_parameters.export_budget}) record it.
   *
   * @param rankBudget {@code --rank-budget} as asked, or null
   * @param maxSizeBytes {@code --max-size} as asked, in bytes, or null
   * @param ranksBefore total rank over all modules before (after pruning zero gates)
   * @param ranksKept total rank kept
   * @param modulesKept modules that keep at least one rank
   * @param onnxAdapterBytes size of the {@code .onnx_adapter} of the result, in the export's dtype
   */
  public record Applied(Integer rankBudget, Long maxSizeBytes, int ranksBefore, int ranksKept, int modulesKept,
      long onnxAdapterBytes) {

    Map<String, Object> asMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("rule", "global top singular values of B·A per module");
      if (rankBudget != null) {
        m.put("rank_budget", rankBudget);
      }
      if (maxSizeBytes != null) {
        m.put("max_size_bytes", maxSizeBytes);
      }
      m.put("ranks_before", ranksBefore);
      m.put("ranks_kept", ranksKept);
      m.put("modules_kept", modulesKept);
      m.put("onnx_adapter_bytes", onnxAdapterBytes);
      return m;
    }
  }

  /** One singular direction of one module: what the global allocation ranks. */
  private record Direction(int module, int index, double sigma) {}

  /** Applies the budget to {@code adapter} (compacted first), sizes measured as float32 files. */
  public Result apply(Adapter adapter) {
    return apply(adapter, AdapterDtype.FP32);
  }

  /**
   * Applies the budget to {@code adapter} (compacted first); {@code --max-size} bounds the
   * {@code .onnx_adapter} written in {@code dtype}, so fp16 fits about twice the ranks of fp32.
   */
  public Result apply(Adapter adapter, AdapterDtype dtype) {
    adapter.requireFinite("adapter '" + adapter.name() + "'"); // before any decomposition sees a NaN
    Adapter compact = adapter.compact();
    List<ModuleSvd> svds = new ArrayList<>();
    List<Direction> directions = new ArrayList<>();
    for (LowRankModule m : compact.modules().values()) {
      ModuleSvd svd = ModuleSvd.of(m);
      double[] s = svd.singularValues();
      for (int i = 0; i < s.length; i++) {
        // an exactly zero direction adds nothing to delta W; keeping it would only cost bytes
        if (s[i] > 0) {
          directions.add(new Direction(svds.size(), i, s[i]));
        }
      }
      svds.add(svd);
    }
    // ties go to the earlier module, then the earlier direction: the order, so the result, is stable
    directions.sort(Comparator.comparingDouble(Direction::sigma).reversed()
        .thenComparingInt(Direction::module).thenComparingInt(Direction::index));
    int ranksBefore = compact.modules().values().stream().mapToInt(LowRankModule::rank).sum();
    if (directions.isEmpty()) {
      throw new Lora4jException("adapter '" + adapter.name() + "': its update is zero in every module, so "
          + (maxRanks != null ? RANK_FLAG : SIZE_FLAG) + " has no direction to keep");
    }
    int n = directions.size();
    if (maxRanks != null) {
      n = Math.min(n, maxRanks);
    }
    if (maxBytes != null) {
      long headOnly = onnxAdapterBytes(keep(compact, svds, directions, 0), dtype);
      if (headOnly > maxBytes) {
        throw new Lora4jException(SIZE_FLAG + " allows " + bytes(maxBytes) + ", less than adapter '" + adapter.name()
            + "' needs without any rank: its head alone makes a " + bytes(headOnly) + " .onnx_adapter");
      }
      long one = onnxAdapterBytes(keep(compact, svds, directions, 1), dtype);
      if (one > maxBytes) {
        throw new Lora4jException(SIZE_FLAG + " allows " + bytes(maxBytes) + ", which leaves adapter '" + adapter.name()
            + "' no rank: its head alone takes " + bytes(headOnly) + " and its smallest one-rank .onnx_adapter "
            + bytes(one));
      }
      // the file grows with every direction kept (each adds (in + out) floats), so the largest
      // prefix that fits is found by bisection over [1, n]
      int lo = 1;
      int hi = n;
      while (lo < hi) {
        int mid = (lo + hi + 1) >>> 1;
        if (onnxAdapterBytes(keep(compact, svds, directions, mid), dtype) <= maxBytes) {
          lo = mid;
        } else {
          hi = mid - 1;
        }
      }
      n = lo;
    }
    Adapter kept = keep(compact, svds, directions, n);
    Applied applied = new Applied(maxRanks, maxBytes, ranksBefore, n, kept.modules().size(), onnxAdapterBytes(kept, dtype));
    Map<String, Object> hyper = new LinkedHashMap<>(kept.provenance().hyperParameters());
    hyper.put("export_budget", applied.asMap());
    Provenance p = kept.provenance();
    Provenance recorded = new Provenance(p.method(), hyper, p.data(), p.seed(), p.metrics(), p.created(), p.tool());
    return new Result(new Adapter(kept.name(), kept.base(), kept.modules(), kept.head(), recorded), applied);
  }

  /** The adapter with the first {@code n} directions of the global order, module order kept. */
  private static Adapter keep(Adapter compact, List<ModuleSvd> svds, List<Direction> order, int n) {
    int[] perModule = new int[svds.size()];
    for (int i = 0; i < n; i++) {
      perModule[order.get(i).module()]++;
    }
    List<LowRankModule> modules = new ArrayList<>();
    for (int m = 0; m < svds.size(); m++) {
      if (perModule[m] > 0) {
        // a module's directions enter the order by descending sigma, so its first k are its top k
        modules.add(svds.get(m).keep(perModule[m]));
      }
    }
    return new Adapter(compact.name(), compact.base(), Adapter.byName(modules), compact.head(), compact.provenance());
  }

  /**
   * The bytes of the {@code .onnx_adapter} an export writes for {@code compact}: the same
   * serialisation as {@code AdapterFiles.writeOnnxAdapter}, measured, not estimated.
   */
  static long onnxAdapterBytes(Adapter compact, AdapterDtype dtype) {
    return OrtAdapterFile.toBytes(MultiAdapterParameters.of(compact, dtype)).length;
  }

  private static String kib(double v) {
    return String.format(Locale.ROOT, "%.4g", v).replaceAll("\\.?0+$", "").replaceAll("\\.?0+(e)", "$1");
  }

  /** {@code 1,234 bytes (1.205 KiB)}. */
  private static String bytes(long n) {
    return String.format(Locale.ROOT, "%,d bytes (%s KiB)", n, kib(n / 1024.0));
  }
}
