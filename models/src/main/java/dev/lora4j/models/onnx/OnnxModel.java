package dev.lora4j.models.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.lora4j.models.Lora4jException;
import dev.lora4j.models.io.AtomicFiles;
import dev.lora4j.models.io.InputFiles;
import dev.lora4j.models.onnx.proto.Onnx.GraphProto;
import dev.lora4j.models.onnx.proto.Onnx.ModelProto;
import dev.lora4j.models.onnx.proto.Onnx.NodeProto;
import dev.lora4j.models.onnx.proto.Onnx.StringStringEntryProto;
import dev.lora4j.models.onnx.proto.Onnx.TensorProto;
import dev.lora4j.models.onnx.proto.Onnx.ValueInfoProto;
import dev.lora4j.models.tensor.FloatTensor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * An ONNX model held in memory for reading and editing: list its inputs, outputs, initializers and
 * nodes, read weights as floats, replace or add initializers, inputs and nodes, and save.
 *
 * <p>Tensors stored as external data are loaded into memory on {@link #read}, so an edited model is
 * self-contained; {@link #save} writes external data again only when the protobuf would pass the
 * 2 GB protobuf limit. An instance is a document being edited: not thread-safe.
 */
public final class OnnxModel {
  /** Protobuf cannot serialise a message of 2 GiB or more; stay well below it. */
  static final long PROTOBUF_LIMIT = (1L << 31) - (64L << 20);
  /** Tensors smaller than this stay inline even when the rest goes to external data. */
  private static final int EXTERNAL_MIN_BYTES = 1024;

  private final ModelProto.Builder model;
  private final String source;

  private OnnxModel(ModelProto.Builder model, String source) {
    this.model = model;
    this.source = source;
  }

  /** Reads a {@code .onnx} file, including tensors stored as external data next to it. */
  public static OnnxModel read(Path file) {
    String where = file.toString();
    long size = InputFiles.requireRegularFile(file, "ONNX model");
    if (size > Integer.MAX_VALUE) {
      throw new Lora4jException(where + ": is " + size + " bytes; an ONNX protobuf is below 2 GiB (larger "
          + "weights belong in external data)");
    }
    ModelProto proto;
    try (InputStream in = Files.newInputStream(file)) {
      CodedInputStream cis = CodedInputStream.newInstance(in);
      cis.setSizeLimit(Integer.MAX_VALUE);
      proto = ModelProto.parseFrom(cis);
    } catch (NoSuchFileException e) {
      throw new Lora4jException(where + ": no such file");
    } catch (InvalidProtocolBufferException e) {
      throw new Lora4jException(where + ": not a valid ONNX model, the file is truncated or corrupt ("
          + InputFiles.describe(e) + ")");
    } catch (IOException e) {
      throw new Lora4jException(where + ": cannot read (" + InputFiles.describe(e) + ")", e);
    }
    OnnxModel m = of(proto, where);
    m.loadExternalData(file.toAbsolutePath().getParent());
    return m;
  }

  /** Parses an in-memory model; {@code source} names it in messages. */
  public static OnnxModel parse(byte[] bytes, String source) {
    try {
      return of(ModelProto.parseFrom(bytes), source);
    } catch (InvalidProtocolBufferException e) {
      throw new Lora4jException(source + ": not a valid ONNX model, truncated or corrupt (" + InputFiles.describe(e) + ")");
    }
  }

  public static OnnxModel of(ModelProto proto, String source) {
    if (!proto.hasGraph() || proto.getGraph().getNodeCount() == 0) {
      throw new Lora4jException(source + ": not an ONNX model (it has no graph nodes)");
    }
    if (proto.getIrVersion() <= 0) {
      throw new Lora4jException(source + ": not an ONNX model (no IR version)");
    }
    return new OnnxModel(proto.toBuilder(), source);
  }

  /** A deep copy, so one loaded base model can be edited into several outputs. */
  public OnnxModel copy() {
    return new OnnxModel(model.build().toBuilder(), source);
  }

  /** The file or origin this model came from, for messages. */
  public String source() {
    return source;
  }

  public ModelProto toProto() {
    return model.build();
  }

  public byte[] toBytes() {
    return model.build().toByteArray();
  }

  /** Direct access to the graph builder, for edits the helpers below do not cover. */
  public GraphProto.Builder graph() {
    return model.getGraphBuilder();
  }

  public ModelProto.Builder proto() {
    return model;
  }

  public List<ValueInfoProto> inputs() {
    return graph().getInputList();
  }

  /** Whether the graph has an input of that name. */
  public boolean hasInput(String name) {
    return inputs().stream().anyMatch(i -> i.getName().equals(name));
  }

  public List<ValueInfoProto> outputs() {
    return graph().getOutputList();
  }

  public List<NodeProto> nodes() {
    return graph().getNodeList();
  }

  public List<TensorProto> initializers() {
    return graph().getInitializerList();
  }

  public Optional<TensorProto> initializer(String name) {
    for (TensorProto t : graph().getInitializerList()) {
      if (t.getName().equals(name)) {
        return Optional.of(t);
      }
    }
    return Optional.empty();
  }

  /** An initializer read as floats; a clear error if it is missing or not float-typed. */
  public FloatTensor floatInitializer(String name) {
    TensorProto t = initializer(name)
        .orElseThrow(() -> new Lora4jException(source + ": no initializer named '" + name + "'"));
    return TensorProtos.toFloat(t, source);
  }

  /**
   * The constant value of {@code valueName} if it is an initializer or the output of a Constant
   * node, as integers (shape constants, axes).
   */
  public Optional<long[]> constantLongs(String valueName) {
    return constantTensor(valueName).map(t -> TensorProtos.toLongs(t, source));
  }

  /** The constant value of {@code valueName} as floats, if it is a float constant. */
  public Optional<float[]> constantFloats(String valueName) {
    return constantTensor(valueName).map(t -> TensorProtos.toFloat(t, source).data());
  }

  private Optional<TensorProto> constantTensor(String valueName) {
    Optional<TensorProto> init = initializer(valueName);
    if (init.isPresent()) {
      return init;
    }
    return producer(valueName)
        .filter(n -> n.getOpType().equals("Constant"))
        .flatMap(n -> n.getAttributeList().stream().filter(a -> a.getName().equals("value")).findFirst())
        .map(a -> a.getT());
  }

  /** The node that produces {@code value}, if any (graph inputs and initializers have none). */
  public Optional<NodeProto> producer(String value) {
    for (NodeProto n : graph().getNodeList()) {
      if (n.getOutputList().contains(value)) {
        return Optional.of(n);
      }
    }
    return Optional.empty();
  }

  /** Nodes that read {@code value}, in graph order. */
  public List<NodeProto> consumers(String value) {
    List<NodeProto> out = new ArrayList<>();
    for (NodeProto n : graph().getNodeList()) {
      if (n.getInputList().contains(value)) {
        out.add(n);
      }
    }
    return out;
  }

  /**
   * A layer normalisation: the value it reads, the value it writes, its shift parameter and epsilon.
   * See {@link #layerNorm(String)}.
   */
  public record LayerNorm(String input, String output, String beta, float epsilon) {}

  /**
   * The layer normalisation whose scale is {@code gamma}, in either spelling exporters write: the
   * {@code LayerNormalization} op (its epsilon attribute, else the operator's default 1e-5), or the
   * decomposed {@code Add(Mul(Div(Sub(x, mean), Sqrt(Add(variance, eps))), gamma), beta)} with a
   * constant eps.
   */
  public Optional<LayerNorm> layerNorm(String gamma) {
    for (NodeProto n : consumers(gamma)) {
      if (n.getOpType().equals("LayerNormalization") && n.getInputCount() == 3 && n.getInput(1).equals(gamma)) {
        float eps = n.getAttributeList().stream().filter(a -> a.getName().equals("epsilon")).findFirst()
            .map(a -> a.getF()).orElse(1e-5f);
        return Optional.of(new LayerNorm(n.getInput(0), n.getOutput(0), n.getInput(2), eps));
      }
      if (!n.getOpType().equals("Mul") || n.getInputCount() != 2) {
        continue;
      }
      String normalised = n.getInput(0).equals(gamma) ? n.getInput(1) : n.getInput(0);
      Optional<NodeProto> div = producer(normalised).filter(x -> x.getOpType().equals("Div"));
      Optional<NodeProto> sub = div.flatMap(x -> producer(x.getInput(0))).filter(x -> x.getOpType().equals("Sub"));
      Optional<float[]> eps = div.flatMap(x -> producer(x.getInput(1))).filter(x -> x.getOpType().equals("Sqrt"))
          .flatMap(x -> producer(x.getInput(0))).filter(x -> x.getOpType().equals("Add"))
          .flatMap(a -> constantFloats(a.getInput(1)).or(() -> constantFloats(a.getInput(0))))
          .filter(v -> v.length == 1);
      List<NodeProto> shift = consumers(n.getOutput(0));
      if (sub.isPresent() && eps.isPresent() && shift.size() == 1 && shift.get(0).getOpType().equals("Add")
          && shift.get(0).getInputCount() == 2) {
        NodeProto add = shift.get(0);
        String beta = add.getInput(0).equals(n.getOutput(0)) ? add.getInput(1) : add.getInput(0);
        return Optional.of(new LayerNorm(sub.get().getInput(0), add.getOutput(0), beta, eps.get()[0]));
      }
    }
    return Optional.empty();
  }

  /** Index of the node that writes {@code value}, or -1 when none does (a graph input or initializer). */
  public int indexOfProducer(String value) {
    for (int i = 0; i < graph().getNodeCount(); i++) {
      if (graph().getNode(i).getOutputList().contains(value)) {
        return i;
      }
    }
    return -1;
  }

  /** Index of the node with this name, or -1. */
  public int indexOfNode(String nodeName) {
    for (int i = 0; i < graph().getNodeCount(); i++) {
      if (graph().getNode(i).getName().equals(nodeName)) {
        return i;
      }
    }
    return -1;
  }

  /** Replaces the initializer of the same name, or adds it. */
  public void putInitializer(TensorProto t) {
    GraphProto.Builder g = graph();
    for (int i = 0; i < g.getInitializerCount(); i++) {
      if (g.getInitializer(i).getName().equals(t.getName())) {
        g.setInitializer(i, t);
        return;
      }
    }
    g.addInitializer(t);
  }

  public boolean removeInitializer(String name) {
    GraphProto.Builder g = graph();
    for (int i = 0; i < g.getInitializerCount(); i++) {
      if (g.getInitializer(i).getName().equals(name)) {
        g.removeInitializer(i);
        return true;
      }
    }
    return false;
  }

  public void addInput(ValueInfoProto input) {
    graph().addInput(input);
  }

  public void addOutput(ValueInfoProto output) {
    graph().addOutput(output);
  }

  /** Appends nodes at the end; ONNX wants topological order, so they may only read existing values. */
  public void addNodes(List<NodeProto> nodes) {
    graph().addAllNode(nodes);
  }

  /** Inserts nodes so that they run right after the node at {@code index}. */
  public void insertNodesAfter(int index, List<NodeProto> nodes) {
    GraphProto.Builder g = graph();
    List<NodeProto> all = new ArrayList<>(g.getNodeList());
    all.addAll(index + 1, nodes);
    g.clearNode().addAllNode(all);
  }

  /**
   * Makes every node that reads {@code oldValue} and passes {@code which} read {@code newValue}
   * instead; graph outputs named {@code oldValue} are left alone.
   */
  public int rewireConsumers(String oldValue, String newValue, Predicate<NodeProto> which) {
    GraphProto.Builder g = graph();
    int changed = 0;
    for (int i = 0; i < g.getNodeCount(); i++) {
      NodeProto n = g.getNode(i);
      if (!n.getInputList().contains(oldValue) || !which.test(n)) {
        continue;
      }
      NodeProto.Builder nb = n.toBuilder();
      for (int k = 0; k < nb.getInputCount(); k++) {
        if (nb.getInput(k).equals(oldValue)) {
          nb.setInput(k, newValue);
          changed++;
        }
      }
      g.setNode(i, nb.build());
    }
    return changed;
  }

  /** Total number of values stored in float initializers. */
  public long parameterCount() {
    long n = 0;
    for (TensorProto t : initializers()) {
      if (t.getDataType() == TensorProto.DataType.FLOAT_VALUE) {
        n += TensorProtos.elementCount(t);
      }
    }
    return n;
  }

  /**
   * Writes the model atomically. Large models (over the 2 GB protobuf limit) get their big tensors
   * in {@code <file>.data} beside it, as ONNX external data.
   */
  public void save(Path file) {
    long inline = 0;
    for (TensorProto t : initializers()) {
      inline += t.getRawData().size();
    }
    save(file, inline > PROTOBUF_LIMIT);
  }

  /** Writes the model; with {@code externalData} every tensor over 1 KiB goes to {@code <file>.data}. */
  public void save(Path file, boolean externalData) {
    if (!externalData) {
      ModelProto proto = model.build();
      AtomicFiles.write(file, proto::writeTo);
      return;
    }
    String dataName = file.getFileName() + ".data";
    Path dataFile = file.resolveSibling(dataName);
    ModelProto.Builder out = model.build().toBuilder();
    GraphProto.Builder g = out.getGraphBuilder();
    List<ByteString> blobs = new ArrayList<>();
    long offset = 0;
    for (int i = 0; i < g.getInitializerCount(); i++) {
      TensorProto t = g.getInitializer(i);
      int size = t.getRawData().size();
      if (size < EXTERNAL_MIN_BYTES) {
        continue;
      }
      long aligned = (offset + 63) & ~63L; // aligned offsets let readers memory-map the tensors
      blobs.add(ByteString.copyFrom(new byte[(int) (aligned - offset)]));
      blobs.add(t.getRawData());
      g.setInitializer(i, t.toBuilder()
          .clearRawData()
          .setDataLocation(TensorProto.DataLocation.EXTERNAL)
          .addExternalData(entry("location", dataName))
          .addExternalData(entry("offset", Long.toString(aligned)))
          .addExternalData(entry("length", Long.toString(size)))
          .build());
      offset = aligned + size;
    }
    AtomicFiles.write(dataFile, (OutputStream o) -> {
      for (ByteString b : blobs) {
        b.writeTo(o);
      }
    });
    ModelProto proto = out.build();
    AtomicFiles.write(file, proto::writeTo);
  }

  private static StringStringEntryProto entry(String k, String v) {
    return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
  }

  private void loadExternalData(Path dir) {
    GraphProto.Builder g = graph();
    for (int i = 0; i < g.getInitializerCount(); i++) {
      TensorProto t = g.getInitializer(i);
      if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL) {
        continue;
      }
      String location = null;
      long offset = 0;
      long length = -1;
      for (StringStringEntryProto e : t.getExternalDataList()) {
        switch (e.getKey()) {
          case "location" -> location = e.getValue();
          case "offset" -> offset = parseLong(e.getValue(), t, "offset");
          case "length" -> length = parseLong(e.getValue(), t, "length");
          default -> { }
        }
      }
      if (location == null) {
        throw new Lora4jException(source + ": tensor " + t.getName() + " is external but names no location");
      }
      Path data = externalFile(dir, location, t);
      g.setInitializer(i, t.toBuilder()
          .clearExternalData()
          .clearDataLocation()
          .setRawData(readRange(data, offset, length, t))
          .build());
    }
  }

  /**
   * The external-data file {@code location} names: a relative path that stays inside the model's
   * directory, also once links are resolved, and a regular file (never a device or pipe, which
   * could be endless or block).
   */
  private Path externalFile(Path dir, String location, TensorProto t) {
    String what = source + ": tensor " + t.getName() + " names external data '" + location + "'";
    Path data;
    try {
      Path rel = Path.of(location);
      if (location.isEmpty() || rel.isAbsolute()) {
        throw new Lora4jException(what + ", which is not a path relative to the model");
      }
      data = dir.resolve(rel).normalize();
      if (!data.startsWith(dir)) {
        throw new Lora4jException(what + ", which points outside the model directory");
      }
      if (Files.exists(data) && !data.toRealPath().startsWith(dir.toRealPath())) {
        throw new Lora4jException(what + ", which links outside the model directory");
      }
    } catch (java.nio.file.InvalidPathException e) {
      throw new Lora4jException(what + ", which is not a valid path");
    } catch (IOException e) {
      throw new Lora4jException(what + ", which cannot be resolved (" + InputFiles.describe(e) + ")", e);
    }
    if (Files.exists(data)) {
      InputFiles.requireRegularFile(data, "external data file");
    }
    return data;
  }

  private ByteString readRange(Path data, long offset, long length, TensorProto t) {
    long expected;
    try {
      expected = Math.multiplyExact(TensorProtos.elementCount(t, source), bytesPerElement(t));
    } catch (ArithmeticException e) {
      throw new Lora4jException(source + ": tensor " + t.getName() + " has shape " + TensorProtos.dims(t)
          + ", too large to exist");
    }
    if (length < 0) {
      length = expected;
    }
    if (length != expected) {
      throw new Lora4jException(source + ": tensor " + t.getName() + " of shape " + TensorProtos.dims(t)
          + " needs " + expected + " bytes of external data, its length says " + length);
    }
    try (FileChannel ch = FileChannel.open(data, StandardOpenOption.READ)) {
      // Subtraction, not offset + length, which a corrupt offset can overflow.
      if (offset < 0 || offset > ch.size() || length > ch.size() - offset) {
        throw new Lora4jException(source + ": external data file " + data + " is too short for tensor "
            + t.getName() + " (needs " + length + " bytes from offset " + offset + ", file has " + ch.size() + ")");
      }
      if (length > InputFiles.ARRAY_LIMIT) {
        throw new Lora4jException(source + ": tensor " + t.getName() + " is too large (" + length + " bytes)");
      }
      java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate((int) length);
      while (buf.hasRemaining()) {
        if (ch.read(buf, offset + buf.position()) < 0) {
          break;
        }
      }
      buf.flip();
      return ByteString.copyFrom(buf);
    } catch (NoSuchFileException e) {
      throw new Lora4jException(source + ": external data file " + data + " for tensor " + t.getName()
          + " is missing");
    } catch (IOException e) {
      throw new Lora4jException(source + ": cannot read external data " + data + " (" + InputFiles.describe(e) + ")", e);
    }
  }

  private long bytesPerElement(TensorProto t) {
    return switch (t.getDataType()) {
      case TensorProto.DataType.FLOAT_VALUE, TensorProto.DataType.INT32_VALUE,
          TensorProto.DataType.UINT32_VALUE -> 4;
      case TensorProto.DataType.DOUBLE_VALUE, TensorProto.DataType.INT64_VALUE,
          TensorProto.DataType.UINT64_VALUE -> 8;
      case TensorProto.DataType.FLOAT16_VALUE, TensorProto.DataType.BFLOAT16_VALUE,
          TensorProto.DataType.INT16_VALUE, TensorProto.DataType.UINT16_VALUE -> 2;
      case TensorProto.DataType.INT8_VALUE, TensorProto.DataType.UINT8_VALUE,
          TensorProto.DataType.BOOL_VALUE -> 1;
      default -> throw new Lora4jException(source + ": tensor " + t.getName() + " has unsupported element type "
          + TensorProtos.typeName(t.getDataType()) + " for external data");
    };
  }

  private long parseLong(String v, TensorProto t, String key) {
    try {
      return Long.parseLong(v);
    } catch (NumberFormatException e) {
      throw new Lora4jException(source + ": tensor " + t.getName() + " has a bad external-data " + key + " '" + v + "'");
    }
  }
}
