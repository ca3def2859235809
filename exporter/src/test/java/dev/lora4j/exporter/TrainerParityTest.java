package dev.lora4j.exporter;

import static dev.lora4j.exporter.Expected.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.models.adapter.AdapterTensorNames;
import dev.lora4j.models.adapter.BaseModelRef;
import dev.lora4j.models.adapter.Provenance;
import dev.lora4j.models.adapter.TaskHead;
import dev.lora4j.models.base.EncoderDescription;
import dev.lora4j.models.testing.TinyBert;
import dev.lora4j.trainer.PyTorchEngine;
import dev.lora4j.trainer.NestedRankConfig;
import dev.lora4j.trainer.TrainingConfig;
import dev.lora4j.trainer.TransformKind;
import dev.lora4j.trainer.data.Batch;
import dev.lora4j.trainer.data.Example;
import dev.lora4j.trainer.encoder.DjlEncoder;
import dev.lora4j.trainer.encoder.ModuleHook;
import dev.lora4j.trainer.head.ClassifierHead;
import dev.lora4j.trainer.loop.LogitsAndLoss;
import dev.lora4j.trainer.method.BranchFactor;
import dev.lora4j.trainer.method.LowRankBranch;
import dev.lora4j.trainer.method.LowRankState;
import dev.lora4j.trainer.method.MethodSetup;
import dev.lora4j.trainer.method.MethodState;
import dev.lora4j.trainer.method.Methods;
import dev.lora4j.trainer.method.TrainableParameter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * For every trainer method: the method's own forward pass (gates, transforms, truncation as trained,
 * in DJL) against the merged and factored ONNX graphs written from its export, on the tiny BERT.
 */
class TrainerParityTest {
  static final EncoderDescription BASE = EncoderDescription.of(TinyBert.model(5));
  static final double TOLERANCE = 1e-4;

  @Test
  void mergedAndFactoredGraphsEqualTheTrainersForward() throws Exception {
    Map<String, TrainingConfig.Builder> cases = Map.of(
        "salora", TrainingConfig.builder(),
        "mtlora", TrainingConfig.builder().transform(TransformKind.PSD),
        "mtlora-full", TrainingConfig.builder().transform(TransformKind.FULL),
        "dylora", TrainingConfig.builder().nested(NestedRankConfig.DEFAULT.withExportRank("3")),
        "erat", TrainingConfig.builder());
    PyTorchEngine.load();
    for (Map.Entry<String, TrainingConfig.Builder> c : cases.entrySet()) {
      String method = c.getKey().replace("-full", "");
      TrainingConfig config = c.getValue().method(method).targets("query,value,intermediate,output").rank(6)
          .alpha(9).build();
      try (NDManager m = NDManager.newBaseManager(Device.cpu(), PyTorchEngine.NAME);
          DjlEncoder encoder = DjlEncoder.load(BASE, m);
          MethodState state = Methods.byId(method).start(new MethodSetup(BASE.resolveTargets(config.targets()),
              config, m, new Random(1)));
          ClassifierHead head = ClassifierHead.initial(TinyBert.HIDDEN, List.of("a", "b", "c"),
              TaskHead.Pooling.MEAN, 0, new Random(2), m)) {
        perturb((LowRankState) state, new Random(3));
        Adapter adapter = new Adapter(c.getKey(), new BaseModelRef("tiny", "0".repeat(64)),
            Adapter.byName(state.export()), head.export(), Provenance.of(method));
        List<long[]> sentences = GraphParityTest.SENTENCES;
        float[][] want = trainerLogits(encoder, state.hook(false), head, sentences, m);
        // the adapter must matter, or a dropped branch would pass
        float[][] headOnly = trainerLogits(encoder, ModuleHook.NONE, head, sentences, m);
        assertTrue(maxAbsDiff(headOnly[0], want[0]) > 1e-3, c.getKey() + ": adapter changes nothing");
        for (var model : List.of(MergedGraphWriter.write(BASE, adapter, false),
            FactoredGraphWriter.write(BASE, adapter, false))) {
          try (Ort ort = new Ort(model)) {
            float[][] got = (float[][]) ort.run(sentences).get(AdapterTensorNames.LOGITS);
            for (int i = 0; i < sentences.size(); i++) {
              double d = maxAbsDiff(got[i], want[i]);
              assertTrue(d <= TOLERANCE, c.getKey() + " row " + i + ": " + d);
            }
          }
        }
      }
    }
  }

  /** Trained-looking values: B non-zero; gates and transforms away from their start, some gates shut. */
  static void perturb(LowRankState state, Random rnd) {
    for (LowRankBranch b : state.branches().values()) {
      TrainableParameter.overwrite(b.b(), gaussian(rnd, (int) b.b().size(), 0.4f));
      for (BranchFactor f : factors(b)) {
        for (NDArray leaf : f.leaves()) {
          float[] v = leaf.toFloatArray();
          for (int i = 0; i < v.length; i++) {
            v[i] += (float) rnd.nextGaussian() * 0.3f;
          }
          if (leaf.getName().endsWith("log_alpha")) {
            v[1] = -6; // a closed hard-concrete gate: pruned at export
          }
          TrainableParameter.overwrite(leaf, v);
        }
      }
    }
  }

  static List<BranchFactor> factors(LowRankBranch b) {
    List<BranchFactor> f = new ArrayList<>();
    if (b.gate() != null) {
      f.add(b.gate());
    }
    if (b.transform() != null) {
      f.add(b.transform());
    }
    return f;
  }

  static float[][] trainerLogits(DjlEncoder encoder, ModuleHook hook, ClassifierHead head,
      List<long[]> sentences, NDManager m) {
    List<Example> examples = new ArrayList<>();
    for (long[] ids : sentences) {
      examples.add(new Example(ids, 0));
    }
    int[] idx = new int[examples.size()];
    for (int i = 0; i < idx.length; i++) {
      idx[i] = i;
    }
    NDArray logits = LogitsAndLoss.logits(encoder, hook, head, Batch.of(examples, idx), m, false);
    int classes = (int) logits.getShape().get(1);
    float[] flat = logits.toFloatArray();
    float[][] out = new float[sentences.size()][classes];
    for (int i = 0; i < out.length; i++) {
      System.arraycopy(flat, i * classes, out[i], 0, classes);
    }
    return out;
  }


  static float[] gaussian(Random rnd, int n, float std) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) rnd.nextGaussian() * std;
    }
    return v;
  }
}
