package dev.lora4j.runtime;

import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.Provenance;

/**
 * Everything the runtime knows about one loaded adapter, as {@link AdapterRuntime#describe} shows it:
 * the listing's view plus whether it is pinned, the base model it was exported for and how it was
 * made, as recorded in its adapter file and sidecar.
 *
 * @param info ranks per module, bytes, labels, pooling and residency
 * @param pinned the memory budget never evicts it
 * @param base the base model id and ONNX SHA-256 the adapter records (an imported PEFT adapter may
 *     record no SHA: empty)
 * @param provenance training method, hyper-parameters, seed, metrics, when and by what it was made
 */
public record AdapterDescription(AdapterInfo info, boolean pinned, BaseModelRef base, Provenance provenance) {
  public String name() {
    return info.name();
  }

  public boolean resident() {
    return info.resident();
  }
}
