package dev.lora4j.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterFit;
import dev.lora4j.models.adapter.LowRankModule;
import dev.lora4j.models.text.Encoding;
import dev.lora4j.models.text.Tokenizer;
import dev.lora4j.trainer.data.Example;
import dev.lora4j.trainer.data.Examples;
import dev.lora4j.trainer.data.LabelSet;
import dev.lora4j.trainer.data.TsvDataset;
import dev.lora4j.trainer.encoder.DjlEncoder;
import dev.lora4j.trainer.encoder.ModuleHook;
import dev.lora4j.trainer.head.ClassifierHead;
import dev.lora4j.trainer.loop.Evaluator;
import dev.lora4j.trainer.method.LowRankBranch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A trained adapter on its base model, in DJL, for inference: logits for texts and evaluation on a
 * labelled file. This is the trainer's reference forward pass that exported graphs are compared with.
 */
public final class AdapterModel implements AutoCloseable {
  private final Adapter adapter;
  private final BaseModel base;
  private final int maxLength;
  private final NDManager manager;
  private final DjlEncoder encoder;
  private final ClassifierHead head;
  private final Map<String, LowRankBranch> branches = new LinkedHashMap<>();

  private AdapterModel(Adapter adapter, BaseModel base, DeviceChoice device) {
    adapter.requireNoDora("lora4j eval");
    AdapterFit.requireSameBase(adapter, "adapter '" + adapter.name() + "'", base.ref());
    this.adapter = adapter;
    this.base = base;
    this.maxLength = maxLength(adapter);
    this.manager = NDManager.newBaseManager(device.resolve(), PyTorchEngine.NAME);
    try {
      this.encoder = DjlEncoder.load(base.description(), manager);
      for (LowRankModule m : adapter.modules().values()) {
        base.description().requireModule(m.module());
        branches.put(m.module(), LowRankBranch.frozen(m, manager));
      }
      this.head = ClassifierHead.frozen(adapter.head(), manager);
    } catch (RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  public static AdapterModel load(Adapter adapter, BaseModel base, DeviceChoice device) {
    PyTorchEngine.load();
    return new AdapterModel(adapter, base, device);
  }

  /** One-shot convenience on the CPU: logits {@code [texts][labels]} of {@code adapter} on {@code base}. */
  public static float[][] logits(Adapter adapter, BaseModel base, List<String> texts) {
    try (AdapterModel m = load(adapter, base, DeviceChoice.CPU)) {
      return m.logits(texts);
    }
  }

  /** Texts are cut at the adapter's training {@code max-length} (128 when it does not say). */
  public float[][] logits(List<String> texts) {
    if (texts.isEmpty()) {
      return new float[0][];
    }
    List<Example> examples = new ArrayList<>();
    try (Tokenizer tokenizer = base.tokenizer(maxLength)) {
      Encoding e = tokenizer.encode(texts, maxLength);
      for (int i = 0; i < texts.size(); i++) {
        examples.add(new Example(e.rowIds(i), 0));
      }
    }
    return Evaluator.logits(encoder, hook(), head, examples, manager);
  }

  /** Accuracy and loss on a labelled file; its labels must be among the adapter's. */
  public Evaluator.Result evaluate(TsvDataset data) {
    LabelSet labels = new LabelSet(adapter.head().labels());
    List<Example> examples;
    try (Tokenizer tokenizer = base.tokenizer(maxLength)) {
      examples = Examples.of(data, labels, tokenizer, maxLength);
    }
    return Evaluator.evaluate(encoder, hook(), head, examples, manager);
  }

  public Adapter adapter() {
    return adapter;
  }

  public int maxLength() {
    return maxLength;
  }

  private ModuleHook hook() {
    return (module, input) -> {
      LowRankBranch b = branches.get(module);
      return b == null ? null : b.forward(input, false);
    };
  }

  private static int maxLength(Adapter adapter) {
    Object v = adapter.provenance().hyperParameters().get("max-length");
    if (v instanceof Number n) {
      return n.intValue();
    }
    if (v instanceof String s && s.matches("\\d+")) {
      return Integer.parseInt(s);
    }
    return Tokenizer.DEFAULT_MAX_LENGTH;
  }

  @Override
  public void close() {
    manager.close();
  }
}
