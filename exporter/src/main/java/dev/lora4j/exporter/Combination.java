package dev.lora4j.exporter;

import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.export.ExportLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * One new adapter made from weighted input adapters, with the semantics of PEFT's
 * {@code add_weighted_adapter} (docs/EXPORT.md, "Combining adapters"). Messages name the command
 * line's flags ({@code --combine}, {@code --combine-method}, {@code --density},
 * {@code --combine-rank}, {@code --seed}), the only way users reach this.
 *
 * @param name the new adapter's name
 * @param parts the inputs by adapter name with their weights, in order
 * @param density fraction kept by ties / dare pruning, in (0, 1]; null for the other methods
 * @param rank the svd result's rank; null for the other methods
 * @param seed dare's random pruning draws from this seed (ignored by the other methods)
 */
public record Combination(String name, List<Part> parts, Method method, Double density, Integer rank, long seed) {

  /** dare's seed when none is given: exports stay reproducible without one. */
  public static final long DEFAULT_SEED = 0;

  /** One weighted input. */
  public record Part(String adapter, double weight) {}

  /** PEFT's {@code combination_type} values lora4j implements. */
  public enum Method {
    LINEAR, CAT, SVD, TIES, DARE_LINEAR, DARE_TIES;

    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }

    public static Method parse(String s) {
      for (Method m : values()) {
        if (m.id().equals(s)) {
          return m;
        }
      }
      throw new Lora4jException("--combine-method must be one of linear, cat, svd, ties, dare_linear, dare_ties, not '"
          + s + "'");
    }

    boolean prunes() {
      return this == TIES || this == DARE_LINEAR || this == DARE_TIES;
    }

    boolean random() {
      return this == DARE_LINEAR || this == DARE_TIES;
    }
  }

  public Combination {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(method, "method");
    parts = List.copyOf(parts);
    if (!ExportLayout.isValidAdapterName(name)) {
      throw new Lora4jException("--combine: the new adapter's name '" + name + "' cannot be a file name; use letters, "
          + "digits, '.', '-' and '_'");
    }
    if (parts.isEmpty()) {
      throw new Lora4jException("--combine: no input adapter given for '" + name + "'");
    }
    Set<String> seen = new HashSet<>();
    for (Part p : parts) {
      if (!seen.add(p.adapter())) {
        throw new Lora4jException("--combine names adapter '" + p.adapter() + "' twice");
      }
      if (!Double.isFinite(p.weight())) {
        throw new Lora4jException("--combine: the weight of '" + p.adapter() + "' is " + p.weight()
            + ", not a finite number");
      }
    }
    if (method.prunes()) {
      if (density == null) {
        throw new Lora4jException("--density is required with --combine-method " + method.id()
            + " (the fraction of values kept, in (0, 1])");
      }
      if (!(density > 0 && density <= 1)) {
        throw new Lora4jException("--density must be in (0, 1], not " + density);
      }
    } else if (density != null) {
      throw new Lora4jException("--density applies to ties, dare_linear and dare_ties, not to " + method.id());
    }
    if (method == Method.SVD) {
      if (rank == null) {
        throw new Lora4jException("--combine-rank is required with --combine-method svd (the new adapter's rank)");
      }
      if (rank < 1) {
        throw new Lora4jException("--combine-rank must be at least 1, not " + rank);
      }
    } else if (rank != null) {
      throw new Lora4jException("--combine-rank applies to --combine-method svd only, not to " + method.id());
    }
  }

  /**
   * Reads the command line's flags: {@code spec} is {@code <new-name>=<a>:<w>,<b>:<w>,...};
   * {@code density}, {@code rank} and {@code seed} may be null (not given).
   */
  public static Combination parse(String spec, String method, String density, String rank, String seed) {
    if (method == null) {
      throw new Lora4jException("--combine needs --combine-method (linear, cat, svd, ties, dare_linear or dare_ties)");
    }
    Method m = Method.parse(method);
    int eq = spec.indexOf('=');
    if (eq <= 0 || eq == spec.length() - 1) {
      throw new Lora4jException("--combine must look like <new-name>=<a>:<weight>,<b>:<weight>, not '" + spec + "'");
    }
    List<Part> parts = new ArrayList<>();
    for (String item : spec.substring(eq + 1).split(",", -1)) {
      int colon = item.lastIndexOf(':');
      if (colon <= 0 || colon == item.length() - 1) {
        throw new Lora4jException("--combine: '" + item + "' must be <adapter>:<weight>, e.g. sst2-a:0.5");
      }
      parts.add(new Part(item.substring(0, colon).strip(), number("--combine weight of '" + item.substring(0, colon)
          + "'", item.substring(colon + 1))));
    }
    if (m != Method.DARE_LINEAR && m != Method.DARE_TIES && seed != null) {
      throw new Lora4jException("--seed applies to dare_linear and dare_ties (their random pruning), not to " + m.id());
    }
    Double d = density == null ? null : number("--density", density);
    Integer r = null;
    if (rank != null) {
      try {
        r = Integer.parseInt(rank.strip());
      } catch (NumberFormatException e) {
        throw new Lora4jException("--combine-rank must be a whole number, not '" + rank + "'");
      }
    }
    long s = DEFAULT_SEED;
    if (seed != null) {
      try {
        s = Long.parseLong(seed.strip());
      } catch (NumberFormatException e) {
        throw new Lora4jException("--seed must be a whole number, not '" + seed + "'");
      }
    }
    return new Combination(spec.substring(0, eq).strip(), parts, m, d, r, s);
  }

  private static double number(String what, String text) {
    try {
      return Double.parseDouble(text.strip());
    } catch (NumberFormatException e) {
      throw new Lora4jException(what + " must be a number, not '" + text + "'");
    }
  }

  /**
   * The combined adapter: the inputs are picked by name from {@code inputs} (the adapters given to
   * the export), which must not already hold the new name.
   */
  public Adapter apply(List<Adapter> inputs) {
    List<String> known = inputs.stream().map(Adapter::name).toList();
    if (known.contains(name)) {
      throw new Lora4jException("--combine: the new adapter's name '" + name + "' is already an input adapter's name; "
          + "choose another");
    }
    List<Adapter> chosen = new ArrayList<>();
    for (Part p : parts) {
      int i = known.indexOf(p.adapter());
      if (i < 0) {
        throw new Lora4jException("--combine names adapter '" + p.adapter() + "', which is not among the --adapter "
            + "inputs " + known);
      }
      inputs.get(i).requireNoDora("--combine");
      chosen.add(inputs.get(i));
    }
    return AdapterCombiner.combine(this, chosen);
  }

  /** How the command line spells it, for provenance and messages. */
  String spec() {
    StringBuilder s = new StringBuilder(name).append('=');
    for (int i = 0; i < parts.size(); i++) {
      s.append(i == 0 ? "" : ",").append(parts.get(i).adapter()).append(':').append(parts.get(i).weight());
    }
    return s.toString();
  }
}
