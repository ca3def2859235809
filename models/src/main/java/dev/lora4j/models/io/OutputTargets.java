package dev.lora4j.models.io;

import dev.lora4j.models.Lora4jException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * What an output may replace. A writer that replaces a directory takes it whole, so a wrong
 * {@code --out} would delete whatever was there: only nothing, an empty directory, or an earlier
 * output of the same kind (recognised by its manifest, holding nothing else) is replaced unasked;
 * anything else needs an explicit overwrite. An input is never replaced, even then.
 */
public final class OutputTargets {
  /** How many foreign entries a refusal names; the rest are counted. */
  private static final int NAMED = 3;

  private OutputTargets() {}

  /**
   * Refuses {@code target} unless it does not exist, is an empty directory, or is an earlier output
   * of {@code kind}; {@code overwrite} accepts anything.
   */
  public static void requireReplaceable(Path target, OutputKind kind, boolean overwrite) {
    String problem = whyNotReplaceable(target.toAbsolutePath(), kind);
    if (problem != null && !overwrite) {
      throw new Lora4jException(target.toAbsolutePath() + " " + problem + "; refusing to replace it "
          + "(--overwrite replaces it, deleting what is there)");
    }
  }

  /** Null when {@code target} may be replaced without asking, else what it is, for the message. */
  static String whyNotReplaceable(Path target, OutputKind kind) {
    BasicFileAttributes attrs;
    try {
      attrs = Files.readAttributes(target, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      throw new Lora4jException(target + ": cannot tell what is there (" + e.getMessage() + ")", e);
    }
    if (attrs.isSymbolicLink()) {
      return "is a symbolic link, not " + kind.description();
    }
    if (attrs.isRegularFile()) {
      return "is a file, not " + kind.description();
    }
    if (!attrs.isDirectory()) {
      return "is not a regular file or directory (a device, pipe or socket), not " + kind.description();
    }
    List<String> entries;
    try (Stream<Path> list = Files.list(target)) {
      entries = list.map(p -> p.getFileName().toString()).sorted().toList();
    } catch (IOException e) {
      throw new Lora4jException(target + ": cannot list the directory (" + e.getMessage() + ")", e);
    }
    if (entries.isEmpty()) {
      return null;
    }
    Path manifest = target.resolve(kind.manifest());
    if (!Files.isRegularFile(manifest, LinkOption.NOFOLLOW_LINKS)) {
      return "is a directory that is not " + kind.description() + " (it has no " + kind.manifest() + "; it holds "
          + names(entries) + ")";
    }
    if (!kind.manifestIsOurs().test(manifest)) {
      return "is a directory that is not " + kind.description() + " (its " + kind.manifest()
          + " is not one lora4j wrote)";
    }
    List<String> foreign = new ArrayList<>();
    for (String e : entries) {
      if (!kind.writes().test(e)) {
        foreign.add(e);
      }
    }
    if (!foreign.isEmpty()) {
      return "is " + kind.description() + " that also holds " + names(foreign) + ", which lora4j did not write";
    }
    return null;
  }

  private static String names(List<String> entries) {
    String shown = String.join(", ", entries.subList(0, Math.min(NAMED, entries.size())));
    return entries.size() > NAMED ? shown + " and " + (entries.size() - NAMED) + " more" : shown;
  }

  /**
   * Refuses an output that is, contains or lies inside an input, compared by real paths (links
   * resolved): replacing it would delete or change the input, and no flag makes that right.
   *
   * @param outputName how the user named the output, e.g. {@code --out}
   * @param inputName how the user named the input, e.g. {@code --adapter}
   */
  public static void requireApart(Path output, String outputName, Path input, String inputName) {
    Path out = real(output);
    Path in = real(input);
    String relation;
    if (out.equals(in)) {
      relation = "is the input " + inputName;
    } else if (in.startsWith(out)) {
      relation = "contains the input " + inputName;
    } else if (out.startsWith(in)) {
      relation = "is inside the input " + inputName;
    } else {
      return;
    }
    throw new Lora4jException(outputName + " " + output + " " + relation + " " + input
        + "; write the output elsewhere (an input is never replaced, not even with --overwrite)");
  }

  /** The real path of the longest existing prefix, with the rest appended: where writing would land. */
  static Path real(Path p) {
    // not normalized first: "link/.." is the link target's parent, which only the file system knows
    Path abs = p.toAbsolutePath();
    Path existing = abs;
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    if (existing == null) {
      return abs.normalize();
    }
    try {
      return existing.toRealPath().resolve(existing.relativize(abs)).normalize();
    } catch (IOException e) {
      return abs.normalize();
    }
  }
}
