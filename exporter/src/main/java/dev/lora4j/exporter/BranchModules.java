package dev.lora4j.exporter;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.base.LinearModule;
import dev.lora4j.models.export.ExportManifest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Which modules the multi-adapter and mixed-batch graphs get a low-rank branch on
 * ({@code export --adapter-modules}). Every branch costs two MatMuls and an Add per run even at
 * rank 0, which at batch 1 on the int8 base is a visible share of the time (36 branches where a
 * {@code query,value} adapter uses 12: the int8 multi graph runs 1.14x faster with 12), so by
 * default only the modules the exported adapters change get one. Teams that will load adapters on
 * other modules later export with {@code all} or a list; the runtime refuses an adapter that changes a
 * module without a branch rather than drop its update.
 */
final class BranchModules {
  /** The union of the exported adapters' modules (every module when they change none). */
  static final String USED = "used";
  /** Every adaptable module of the base model. */
  static final String ALL = ExportManifest.ALL_MODULES;

  private BranchModules() {}

  /**
   * @param spec {@link #USED}, {@link #ALL}, or a list as {@code train --targets} takes it (short
   *     names, in-layer paths or canonical module names); a list must cover every module an adapter changes
   * @param adapters the adapters as exported (compacted: modules pruned to rank 0 are gone)
   * @return the modules in the base model's order
   */
  static List<LinearModule> resolve(EncoderDescription base, String spec, List<Adapter> adapters) {
    String s = spec.trim().toLowerCase(Locale.ROOT);
    if (s.equals(ALL)) {
      return base.modules();
    }
    if (s.equals(USED)) {
      Set<String> used = new HashSet<>();
      adapters.forEach(a -> used.addAll(a.modules().keySet()));
      List<LinearModule> out = base.modules().stream().filter(m -> used.contains(m.name())).toList();
      return out.isEmpty() ? base.modules() : out;
    }
    List<LinearModule> listed;
    try {
      listed = base.resolveTargets(spec);
    } catch (Lora4jException e) {
      throw new Lora4jException("--adapter-modules " + spec + ": " + e.getMessage() + " (or use " + USED + " or "
          + ALL + ")", e);
    }
    Set<String> names = new HashSet<>();
    listed.forEach(m -> names.add(m.name()));
    for (Adapter a : adapters) {
      List<String> missing = new ArrayList<>();
      for (String m : a.modules().keySet()) {
        if (!names.contains(m)) {
          missing.add(m);
        }
      }
      if (!missing.isEmpty()) {
        throw new Lora4jException(String.format(Locale.ROOT,
            "--adapter-modules %s gives no branch to %s %s, which adapter '%s' changes; the multi and mixed graphs "
                + "would drop its update there. Add %s to the list, or use --adapter-modules %s (the default) or %s",
            spec, missing.size() == 1 ? "module" : missing.size() + " modules", String.join(", ", missing), a.name(),
            missing.size() == 1 ? "it" : "them", USED, ALL));
      }
    }
    return listed;
  }

  /** What export.json records as {@code adapter_modules}: the keyword, or the list as given. */
  static String recorded(String spec) {
    String s = spec.trim().toLowerCase(Locale.ROOT);
    return s.equals(ALL) || s.equals(USED) ? s : spec.trim();
  }
}
