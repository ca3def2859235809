package dev.lora4j.models.base;

import dev.lora4j.models.Lora4jException;
import java.util.Arrays;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The six adaptable linear modules of a BERT layer, named as PyTorch / PEFT name them (our canonical
 * names are {@code encoder.layer.<i>.<path>}).
 */
public enum ModuleKind {
  QUERY("attention.self.query", "query"),
  KEY("attention.self.key", "key"),
  VALUE("attention.self.value", "value"),
  ATTENTION_OUTPUT("attention.output.dense", "attention.output"),
  INTERMEDIATE("intermediate.dense", "intermediate"),
  OUTPUT("output.dense", "output");

  private static final Pattern CANONICAL = Pattern.compile("^encoder\\.layer\\.(\\d+)\\.(.+)$");

  private final String path;
  private final String shortName;

  ModuleKind(String path, String shortName) {
    this.path = path;
    this.shortName = shortName;
  }

  /** Path inside a layer, e.g. {@code attention.self.query}. */
  public String path() {
    return path;
  }

  /** What users type in {@code --targets}, e.g. {@code attention.output}. */
  public String shortName() {
    return shortName;
  }

  /** The canonical module name in layer {@code layer}. */
  public String moduleName(int layer) {
    return "encoder.layer." + layer + "." + path;
  }

  /** The layer of a canonical module name, empty for a name outside the encoder layers. */
  public static OptionalInt layerOf(String moduleName) {
    Matcher m = CANONICAL.matcher(moduleName);
    return m.matches() ? OptionalInt.of(Integer.parseInt(m.group(1))) : OptionalInt.empty();
  }

  /** The kind of a canonical module name ({@code encoder.layer.3.attention.self.query} is QUERY). */
  public static ModuleKind ofModule(String moduleName) {
    Matcher m = CANONICAL.matcher(moduleName);
    if (!m.matches()) {
      throw new Lora4jException("'" + moduleName + "' is not a canonical module name (encoder.layer.<i>.<path>)");
    }
    return parse(m.group(2));
  }

  /** Accepts the short name, the in-layer path or the enum name, case-insensitively. */
  public static ModuleKind parse(String s) {
    String t = s.trim().toLowerCase(Locale.ROOT);
    for (ModuleKind k : values()) {
      if (k.shortName.equals(t) || k.path.equals(t) || k.name().toLowerCase(Locale.ROOT).equals(t)) {
        return k;
      }
    }
    throw new Lora4jException("unknown module type '" + s + "'; known: "
        + Arrays.stream(values()).map(ModuleKind::shortName).collect(Collectors.joining(", ")));
  }
}
