package dev.lora4j.models.adapter;

import dev.lora4j.models.adapter.safetensors.Safetensors;
import dev.lora4j.models.io.OutputKind;
import java.nio.file.Path;

/**
 * Reads and writes adapters as PEFT adapter directories, the layout Hugging Face PEFT saves and
 * loads: {@value #CONFIG_FILE} plus {@value #WEIGHTS_FILE}.
 *
 * <p>Tensors, with {@code <m>} a canonical module name such as
 * {@code encoder.layer.0.attention.self.query}:
 *
 * <ul>
 *   <li>{@code base_model.model.<m>.lora_A.weight} (r x in), {@code .lora_B.weight} (out x r);
 *   <li>for a DoRA adapter ({@code use_dora: true} in the config), {@code .lora_magnitude_vector} (out)
 *       per module, read and written as PEFT does;
 *   <li>lora4j extras, ignored by PEFT: {@code base_model.model.<m>.lora_gate} (r) and
 *       {@code base_model.model.<m>.lora_T.weight} (r x r);
 *   <li>the task head as {@code base_model.model.classifier.weight} / {@code .bias}: not in
 *       {@code modules_to_save}, since the BertModel PEFT loads the adapter onto has no classifier;
 *       docs/EXPORT.md shows how PEFT users load and apply it.
 * </ul>
 *
 * <p>The config carries only keys PEFT's {@code LoraConfig} knows ({@code peft_type LORA},
 * {@code r}, {@code lora_alpha}, {@code rank_pattern}, {@code alpha_pattern}, {@code lora_dropout}
 * as trained, {@code base_model_name_or_path} as a Hugging Face id where known, ...) so PEFT loads
 * the A / B pairs with the right scaling and without a warning. The rest of the {@link Adapter}
 * (name, base model hash, head, module order, provenance) is the JSON string {@code "lora4j"} in
 * the weights file's safetensors metadata; adapters written before kept it as a {@code "lora4j"}
 * object in the config, which is still read. PEFT applies neither gates nor T: hand it
 * {@link Adapter#compact()}ed adapters, which fold both into B.
 *
 * <p>Reading also takes adapters PEFT itself wrote, for a bare BERT-family model or a wrapper such
 * as BertForSequenceClassification (module names under {@code bert.}), with per-module ranks and
 * scalings resolved from {@code rank_pattern} / {@code alpha_pattern} / {@code use_rslora} as PEFT
 * resolves them. Such an adapter gets an embeddings head with mean pooling, the base id from
 * {@code base_model_name_or_path}, an empty (unknown) base hash and provenance method {@code peft}.
 * Every problem is one {@link dev.lora4j.models.Lora4jException} "{@code <file>: <problem>}".
 */
public final class PeftAdapters {
  public static final String CONFIG_FILE = "adapter_config.json";
  public static final String WEIGHTS_FILE = "adapter_model.safetensors";

  /**
   * A directory {@link #write} made: its weights' metadata (or, written before, its config) carries
   * lora4j's section, and it holds nothing but the two files. A PEFT adapter from elsewhere is someone's input, not ours to replace unasked.
   */
  public static final OutputKind OUTPUT_KIND = OutputKind.of("a lora4j adapter directory",
      config -> OutputKind.jsonObject(c -> true).test(config) && holdsLora4jSection(config), CONFIG_FILE, WEIGHTS_FILE);

  private PeftAdapters() {}

  /** Where lora4j writes its section now (the weights' metadata) or wrote it before (the config). */
  private static boolean holdsLora4jSection(Path config) {
    if (OutputKind.jsonObject(c -> c.path(Lora4jSection.KEY).isObject()).test(config)) {
      return true;
    }
    try {
      return Safetensors.readMetadata(config.resolveSibling(WEIGHTS_FILE)).containsKey(Lora4jSection.KEY);
    } catch (RuntimeException e) {
      return false;
    }
  }

  public static Adapter read(Path dir) {
    return new PeftReader(dir).read();
  }

  /**
   * Writes {@code adapter} to {@code dir} atomically: the directory appears (or replaces an existing
   * one) only once both files are complete. Only an earlier lora4j adapter directory or an empty
   * one is replaced; anything else at {@code dir} is refused.
   */
  public static void write(Adapter adapter, Path dir) {
    write(adapter, dir, false);
  }

  /** {@link #write(Adapter, Path)}; with {@code overwrite}, whatever is at {@code dir} is replaced. */
  public static void write(Adapter adapter, Path dir, boolean overwrite) {
    PeftWriter.write(adapter, dir, overwrite, AdapterDtype.FP32);
  }

  /**
   * {@link #write(Adapter, Path, boolean)} with the LoRA factors stored as {@code dtype}: FP32 or
   * FP16 (safetensors F16, which PEFT loads into a float32 model as is). Gates, transforms and the
   * head stay F32. INT8 is refused: PEFT has no int8 LoRA weights to load.
   */
  public static void write(Adapter adapter, Path dir, boolean overwrite, AdapterDtype dtype) {
    PeftWriter.write(adapter, dir, overwrite, dtype);
  }
}
