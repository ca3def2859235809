package dev.lora4j.models.testing.corpus;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.function.UnaryOperator;

/**
 * The damage a hostile or broken input can carry, each as a list of {@link Mutation}s of one file
 * of a valid input. Everything is drawn from the {@link Random} passed in, so a fixed seed gives the
 * same corpus on every run.
 */
public final class Mutators {
  /** Values written over length and offset fields: empty, negative, largest int, sign bit, beyond any file. */
  private static final long[] LENGTHS = {0, -1, 0x7fffffffL, 0x80000000L, 0xffffffffL, Long.MAX_VALUE, 1L << 40};
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  /** Stands for a bare NaN token, which no JSON writer produces; replaced in the text after writing. */
  private static final String NAN = "__corpus_nan__";
  private static final Path MKFIFO = Path.of("/usr/bin/mkfifo");

  private Mutators() {}

  /** Rewrites {@code file} (relative to the case directory) from its current bytes. */
  public static Mutation bytes(String file, String what, UnaryOperator<byte[]> change) {
    return new Mutation(file + ": " + what, dir -> {
      Path p = dir.resolve(file);
      Files.write(p, change.apply(Files.readAllBytes(p)));
    });
  }

  /**
   * Truncations (every length up to 64 bytes, then {@code cuts} drawn ones), single bit flips and
   * runs of 1..64 bytes set to 0x00, 0xFF, 0x7F, 0x80 or noise.
   */
  public static List<Mutation> binary(String file, byte[] original, Random rnd, int cuts, int flips, int runs) {
    List<Mutation> out = new ArrayList<>();
    TreeSet<Integer> at = new TreeSet<>();
    for (int i = 0; i < Math.min(64, original.length); i++) {
      at.add(i);
    }
    for (int i = 0; i < cuts && original.length > 0; i++) {
      at.add(rnd.nextInt(original.length));
    }
    at.add(Math.max(0, original.length - 1));
    for (int n : at) {
      out.add(bytes(file, "truncated to " + n + " bytes", b -> java.util.Arrays.copyOf(b, n)));
    }
    for (int i = 0; i < flips && original.length > 0; i++) {
      int pos = rnd.nextInt(original.length);
      int bit = rnd.nextInt(8);
      out.add(bytes(file, "bit " + bit + " of byte " + pos + " flipped", b -> {
        b[pos] ^= (byte) (1 << bit);
        return b;
      }));
    }
    byte[] fills = {0x00, (byte) 0xFF, 0x7F, (byte) 0x80};
    for (int i = 0; i < runs && original.length > 0; i++) {
      int pos = rnd.nextInt(original.length);
      int len = 1 + rnd.nextInt(64);
      int kind = rnd.nextInt(fills.length + 1);
      long noise = rnd.nextLong();
      String fill = kind < fills.length ? String.format("0x%02X", fills[kind]) : "noise";
      out.add(bytes(file, len + " bytes at " + pos + " set to " + fill, b -> {
        Random r = new Random(noise);
        for (int k = pos; k < Math.min(b.length, pos + len); k++) {
          b[k] = kind < fills.length ? fills[kind] : (byte) r.nextInt();
        }
        return b;
      }));
    }
    return out;
  }

  /**
   * A little-endian length or offset field of {@code width} bytes (4 or 8) at each of
   * {@code offsets} set to 0, -1, 0x7fffffff, 2^31, 2^32-1, Long.MAX_VALUE and 2^40.
   */
  public static List<Mutation> lengthFields(String file, int width, int... offsets) {
    return lengthFields(file, width, ByteOrder.LITTLE_ENDIAN, offsets);
  }

  /** {@link #lengthFields(String, int, int...)} for formats of either byte order. */
  public static List<Mutation> lengthFields(String file, int width, ByteOrder order, int... offsets) {
    List<Mutation> out = new ArrayList<>();
    for (int off : offsets) {
      for (long v : LENGTHS) {
        out.add(bytes(file, width + "-byte field at " + off + " set to " + v, b -> {
          if (off + width > b.length) {
            return b;
          }
          ByteBuffer bb = ByteBuffer.wrap(b).order(order);
          if (width == 8) {
            bb.putLong(off, v);
          } else {
            bb.putInt(off, (int) v);
          }
          return b;
        }));
      }
    }
    return out;
  }

  /**
   * For every value in a JSON document (fields and array items, at any depth): delete it, set it
   * to null, and {@code perValue} drawn replacements among other types, huge and negative numbers,
   * NaN, and path-traversal strings. Also whole-document replacements (null, [], "", {}).
   */
  public static List<Mutation> json(String file, byte[] original, Random rnd, int perValue) {
    return jsonEdits(original, rnd, perValue).stream().map(e -> bytes(file, e.name(), e.change())).toList();
  }

  /** A named change of bytes, for formats that embed JSON (the safetensors header). */
  public record Edit(String name, UnaryOperator<byte[]> change) {}

  /** The changes {@link #json} applies, on the JSON text alone. */
  public static List<Edit> jsonEdits(byte[] original, Random rnd, int perValue) {
    JsonNode root;
    try {
      root = JSON.readTree(original);
    } catch (IOException e) {
      throw new IllegalArgumentException("not JSON", e);
    }
    List<Edit> out = new ArrayList<>();
    for (String doc : new String[] {"null", "[]", "\"\"", "{}", "0", "[".repeat(5000) + "]".repeat(5000)}) {
      out.add(new Edit("whole document replaced by " + abbreviate(doc), b -> doc.getBytes(StandardCharsets.UTF_8)));
    }
    List<List<Object>> paths = new ArrayList<>();
    collect(root, new ArrayList<>(), paths);
    for (List<Object> path : paths) {
      out.add(edit(root, path, "deleted", null, true));
      out.add(edit(root, path, "set to null", NODES.nullNode(), false));
      List<JsonNode> candidates = replacements();
      for (int i = 0; i < perValue; i++) {
        JsonNode v = candidates.get(rnd.nextInt(candidates.size()));
        out.add(edit(root, path, "set to " + abbreviate(v.toString()), v, false));
      }
    }
    return out;
  }

  private static List<JsonNode> replacements() {
    ArrayNode arr = NODES.arrayNode().add(1).add("x");
    ObjectNode obj = NODES.objectNode().put("x", 1);
    return List.of(NODES.textNode("x"), NODES.textNode(""), NODES.numberNode(-1), NODES.numberNode(0),
        NODES.numberNode(2147483648L), NODES.numberNode(Long.MAX_VALUE),
        NODES.numberNode(new java.math.BigInteger("99999999999999999999999")), NODES.numberNode(1e308),
        NODES.numberNode(-1e308), NODES.numberNode(3e38), NODES.numberNode(0.5), NODES.textNode(NAN),
        NODES.booleanNode(true), arr, obj, NODES.arrayNode(), NODES.textNode("../../../../etc/passwd"),
        NODES.textNode("/dev/zero"), NODES.textNode("a/../../b"), NODES.textNode("x".repeat(100_000)));
  }

  private static Edit edit(JsonNode root, List<Object> path, String what, JsonNode value, boolean delete) {
    return new Edit(pathName(path) + " " + what, b -> {
      JsonNode copy = root.deepCopy();
      JsonNode parent = copy;
      for (int i = 0; i < path.size() - 1; i++) {
        parent = path.get(i) instanceof String s ? parent.get(s) : parent.get((Integer) path.get(i));
      }
      Object last = path.get(path.size() - 1);
      if (parent instanceof ObjectNode o) {
        if (delete) {
          o.remove((String) last);
        } else {
          o.set((String) last, value);
        }
      } else if (parent instanceof ArrayNode a) {
        if (delete) {
          a.remove((Integer) last);
        } else {
          a.set((Integer) last, value);
        }
      }
      try {
        String text = JSON.writeValueAsString(copy).replace("\"" + NAN + "\"", "NaN");
        return text.getBytes(StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    });
  }

  /** Paths to every value; long arrays contribute their first and last few items only. */
  private static void collect(JsonNode node, List<Object> at, List<List<Object>> out) {
    if (node.isObject()) {
      for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
        String k = it.next();
        List<Object> p = new ArrayList<>(at);
        p.add(k);
        out.add(p);
        collect(node.get(k), p, out);
      }
    } else if (node.isArray()) {
      for (int i = 0; i < node.size(); i++) {
        if (i >= 3 && i < node.size() - 2) {
          continue;
        }
        List<Object> p = new ArrayList<>(at);
        p.add(i);
        out.add(p);
        collect(node.get(i), p, out);
      }
    }
  }

  private static String pathName(List<Object> path) {
    StringBuilder sb = new StringBuilder();
    for (Object o : path) {
      sb.append(o instanceof Integer i ? "[" + i + "]" : (sb.isEmpty() ? "" : ".") + o);
    }
    return sb.toString();
  }

  private static String abbreviate(String s) {
    return s.length() > 40 ? s.substring(0, 40) + "..." : s;
  }

  /**
   * What the file system can put where a file is expected: nothing, an empty file, a directory, a
   * link to {@code /dev/zero} (endless), a dangling link, a named pipe without a writer (where
   * {@code mkfifo} exists), a sparse file of 3 GiB, and a link to a copy of the valid file outside
   * the case directory (which readers may follow).
   */
  public static List<Mutation> fileSystem(String file) {
    List<Mutation> out = new ArrayList<>();
    out.add(new Mutation(file + ": missing", dir -> deleteTree(dir.resolve(file))));
    out.add(new Mutation(file + ": empty", dir -> Files.write(dir.resolve(file), new byte[0])));
    out.add(new Mutation(file + ": a directory", dir -> {
      deleteTree(dir.resolve(file));
      Files.createDirectories(dir.resolve(file).resolve("inner"));
    }));
    out.add(new Mutation(file + ": link to /dev/zero", dir -> {
      deleteTree(dir.resolve(file));
      Files.createSymbolicLink(dir.resolve(file), Path.of("/dev/zero"));
    }));
    out.add(new Mutation(file + ": dangling link", dir -> {
      deleteTree(dir.resolve(file));
      Files.createSymbolicLink(dir.resolve(file), dir.resolve("no-such-target"));
    }));
    if (Files.isExecutable(MKFIFO)) {
      // A named pipe nobody writes to: opening it for reading blocks forever, so readers must not.
      out.add(new Mutation(file + ": a named pipe", dir -> {
        deleteTree(dir.resolve(file));
        try {
          int rc = new ProcessBuilder(MKFIFO.toString(), dir.resolve(file).toString()).inheritIO().start().waitFor();
          if (rc != 0) {
            throw new IOException("mkfifo exited with " + rc);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException(e);
        }
      }));
    }
    out.add(new Mutation(file + ": sparse 3 GiB file", dir -> {
      try (RandomAccessFile f = new RandomAccessFile(dir.resolve(file).toFile(), "rw")) {
        f.setLength(3L << 30);
      }
    }));
    out.add(new Mutation(file + ": link to a copy outside the directory", dir -> {
      Path outside = dir.resolveSibling(dir.getFileName() + ".outside");
      Files.createDirectories(outside);
      Path target = outside.resolve(dir.resolve(file).getFileName());
      Files.move(dir.resolve(file), target);
      Files.createSymbolicLink(dir.resolve(file), target);
    }));
    return out;
  }

  /** Deletes a file or directory tree if present (links are removed, not followed). */
  public static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      try (var s = Files.list(p)) {
        for (Path c : s.toList()) {
          deleteTree(c);
        }
      }
    }
    Files.delete(p);
  }
}
