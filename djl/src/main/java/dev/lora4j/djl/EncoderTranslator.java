package dev.lora4j.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Batchifier;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.text.Encoding;
import java.util.ArrayList;
import java.util.List;

/**
 * Texts in, one output row per text out. A batch is tokenized as one (padded to its longest text,
 * as AdapterRuntime does) and run once; DJL calls {@link #batchProcessInput} because the batchifier
 * is not null, and never uses the batchifier itself.
 */
abstract class EncoderTranslator<O> implements Translator<String, O> {
  final ExportedGraph graph;

  EncoderTranslator(ExportedGraph graph) {
    this.graph = graph;
  }

  /** The graph output this translator reads, one row per text. */
  abstract String output();

  abstract O answer(float[] row);

  @Override
  public Batchifier getBatchifier() {
    return Batchifier.STACK;
  }

  @Override
  public NDList processInput(TranslatorContext ctx, String text) {
    return batchProcessInput(ctx, List.of(text));
  }

  @Override
  public O processOutput(TranslatorContext ctx, NDList list) {
    return batchProcessOutput(ctx, list).get(0);
  }

  @Override
  public NDList batchProcessInput(TranslatorContext ctx, List<String> texts) {
    Encoding enc = graph.tokenizer().encode(texts);
    NDManager m = ctx.getNDManager();
    Shape shape = new Shape(enc.shape());
    NDList in = new NDList();
    add(in, m.create(enc.inputIds(), shape), "input_ids");
    add(in, m.create(enc.attentionMask(), shape), "attention_mask");
    add(in, m.create(enc.tokenTypeIds(), shape), "token_type_ids");
    return in;
  }

  private void add(NDList in, NDArray array, String name) {
    if (graph.inputs().contains(name)) {
      array.setName(name);
      in.add(array);
    }
  }

  @Override
  public List<O> batchProcessOutput(TranslatorContext ctx, NDList list) {
    NDArray out = list.get(output());
    if (out == null) {
      throw new Lora4jException("the graph of adapter '" + graph.adapter() + "' has no '" + output() + "' output"
          + " (it has " + names(list) + ")" + hint());
    }
    long[] shape = out.getShape().getShape();
    float[] flat = out.toFloatArray();
    int rows = (int) shape[0];
    int width = (int) shape[1];
    List<O> answers = new ArrayList<>(rows);
    for (int r = 0; r < rows; r++) {
      float[] row = new float[width];
      System.arraycopy(flat, r * width, row, 0, width);
      for (float v : row) {
        if (!Float.isFinite(v)) { // as AdapterRuntime: NaN would quietly make every comparison false
          throw new Lora4jException("adapter '" + graph.adapter() + "' produced NaN or infinite " + output()
              + " for text " + r + ": its graph is damaged; no answer is given");
        }
      }
      answers.add(answer(row));
    }
    return answers;
  }

  /** Why the output is missing, in the user's terms. */
  abstract String hint();

  private static List<String> names(NDList list) {
    List<String> n = new ArrayList<>();
    list.forEach(a -> n.add(a.getName()));
    return n;
  }
}
