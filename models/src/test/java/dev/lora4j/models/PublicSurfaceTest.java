package dev.lora4j.models;

import dev.lora4j.models.testing.PublicTypes;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The module's public API fits on one screen and cannot grow silently (PublicTypes scans the
 * sources). The shared vocabulary every other module reads and writes (adapters, files, tokenizer,
 * base model); the runtime's share of it is what an application touches besides the runtime itself.
 */
class PublicSurfaceTest {
  @Test
  void thePublicTypesAreExactlyTheListedOnes() {
    PublicTypes.requireExactly(Set.of(
        "dev.lora4j.models.Lora4jException",
        "dev.lora4j.models.adapter.Adapter",
        "dev.lora4j.models.adapter.AdapterDtype",
        "dev.lora4j.models.adapter.AdapterFit",
        "dev.lora4j.models.adapter.AdapterTensorNames",
        "dev.lora4j.models.adapter.BaseModelRef",
        "dev.lora4j.models.adapter.LowRankModule",
        "dev.lora4j.models.adapter.MixedBatchStacks",
        "dev.lora4j.models.adapter.PeftAdapters",
        "dev.lora4j.models.adapter.Provenance",
        "dev.lora4j.models.adapter.TaskHead",
        "dev.lora4j.models.adapter.WeightBounds",
        "dev.lora4j.models.adapter.ortformat.MultiAdapterParameters",
        "dev.lora4j.models.adapter.ortformat.OrtAdapter",
        "dev.lora4j.models.adapter.ortformat.OrtAdapterFile",
        "dev.lora4j.models.adapter.ortformat.OrtAdapterParameter",
        "dev.lora4j.models.adapter.safetensors.DType",
        "dev.lora4j.models.adapter.safetensors.SafeTensor",
        "dev.lora4j.models.adapter.safetensors.Safetensors",
        "dev.lora4j.models.base.BaseModelCatalog",
        "dev.lora4j.models.base.BaseModelFiles",
        "dev.lora4j.models.base.EncoderDescription",
        "dev.lora4j.models.base.EncoderSpec",
        "dev.lora4j.models.base.LinearModule",
        "dev.lora4j.models.base.ModuleKind",
        "dev.lora4j.models.export.AdapterPackage",
        "dev.lora4j.models.export.AdapterFiles",
        "dev.lora4j.models.export.AdapterSidecar",
        "dev.lora4j.models.export.BasePackage",
        "dev.lora4j.models.export.ExportLayout",
        "dev.lora4j.models.export.ExportManifest",
        "dev.lora4j.models.io.AtomicFiles",
        "dev.lora4j.models.io.InputFiles",
        "dev.lora4j.models.io.NativeStack",
        "dev.lora4j.models.io.OutputKind",
        "dev.lora4j.models.io.OutputTargets",
        "dev.lora4j.models.onnx.OnnxBuilders",
        "dev.lora4j.models.onnx.OnnxModel",
        "dev.lora4j.models.onnx.TensorProtos",
        "dev.lora4j.models.tensor.Float16",
        "dev.lora4j.models.tensor.FloatTensor",
        "dev.lora4j.models.tensor.Matrix",
        "dev.lora4j.models.text.Encoding",
        "dev.lora4j.models.text.Tokenizer"));
  }
}
