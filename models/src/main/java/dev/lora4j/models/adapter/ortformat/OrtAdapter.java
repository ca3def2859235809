package dev.lora4j.models.adapter.ortformat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The content of an ONNX Runtime {@code .onnx_adapter} file: two free version numbers and the named
 * tensors ONNX Runtime feeds as graph inputs while the adapter is active.
 *
 * @param adapterVersion free for the producer (we write 1)
 * @param modelVersion free for the producer (we write 1)
 */
public record OrtAdapter(int adapterVersion, int modelVersion, List<OrtAdapterParameter> parameters) {

  public OrtAdapter {
    parameters = List.copyOf(parameters);
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (OrtAdapterParameter p : parameters) {
      if (!seen.add(p.name())) {
        throw new IllegalArgumentException("adapter parameter " + p.name() + " appears twice");
      }
    }
  }

  public static OrtAdapter of(List<OrtAdapterParameter> parameters) {
    return new OrtAdapter(1, 1, parameters);
  }

  public Optional<OrtAdapterParameter> parameter(String name) {
    return parameters.stream().filter(p -> p.name().equals(name)).findFirst();
  }

  public Map<String, OrtAdapterParameter> byName() {
    Map<String, OrtAdapterParameter> m = new LinkedHashMap<>();
    parameters.forEach(p -> m.put(p.name(), p));
    return m;
  }

  /** Bytes of tensor data, without the FlatBuffers framing. */
  public long dataBytes() {
    return parameters.stream().mapToLong(p -> p.rawData().length).sum();
  }
}
