package dev.lora4j.trainer.data;

import dev.lora4j.models.Lora4jException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Path;

/**
 * Lines of a text file, each at most {@link #MAX_LINE} characters: a file without line breaks (a
 * binary or a huge sparse file passed by mistake) is refused at that point instead of being read
 * into one string until memory runs out.
 */
final class BoundedLines extends BufferedReader {
  /** Far longer than any text a model with at most a few thousand tokens can use. */
  static final int MAX_LINE = 1 << 20;

  private final Path file;
  private int line;

  BoundedLines(Reader in, Path file) {
    super(in, 1 << 16);
    this.file = file;
  }

  @Override
  public String readLine() throws IOException {
    line++;
    StringBuilder sb = new StringBuilder();
    for (int c; (c = read()) >= 0; ) {
      if (c == '\n') {
        return sb.toString();
      }
      if (c == '\r') {
        mark(1);
        if (read() != '\n') {
          reset();
        }
        return sb.toString();
      }
      if (sb.length() == MAX_LINE) {
        throw new Lora4jException(file + ":" + line + ": line is longer than " + MAX_LINE
            + " characters (not a text file?)");
      }
      sb.append((char) c);
    }
    return sb.isEmpty() ? null : sb.toString();
  }
}
