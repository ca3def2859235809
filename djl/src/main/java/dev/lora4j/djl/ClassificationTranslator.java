package dev.lora4j.djl;

import ai.djl.modality.Classifications;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.adapter.AdapterTensorNames;
import java.util.ArrayList;
import java.util.List;

/** A classifier adapter's probabilities, as the graph computed them (softmax in the graph), with its labels. */
final class ClassificationTranslator extends EncoderTranslator<Classifications> {

  ClassificationTranslator(ExportedGraph graph) {
    super(graph);
    if (graph.labels() == null) {
      throw new Lora4jException(graph.dir() + ": no labels for adapter '" + graph.adapter() + "': "
          + "its sidecar " + dev.lora4j.models.export.ExportLayout.sidecar(graph.adapter()) + " is missing (export"
          + " with --format merged,multi) and no '" + Lora4jTranslatorFactory.LABELS + "' argument was given");
    }
  }

  @Override
  String output() {
    return AdapterTensorNames.PROBABILITIES;
  }

  @Override
  Classifications answer(float[] probabilities) {
    if (probabilities.length != graph.labels().size()) {
      throw new Lora4jException("adapter '" + graph.adapter() + "' has " + probabilities.length + " probabilities but "
          + graph.labels().size() + " labels " + graph.labels());
    }
    List<Double> p = new ArrayList<>(probabilities.length);
    for (float v : probabilities) {
      p.add((double) v);
    }
    return new Classifications(graph.labels(), p);
  }

  @Override
  String hint() {
    return ": it is an embedding export; ask for float[] instead of Classifications";
  }
}
