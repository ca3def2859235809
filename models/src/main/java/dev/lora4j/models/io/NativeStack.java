package dev.lora4j.models.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The stack a thread needs to start ONNX Runtime in this process. Why (issue 12, onnxruntime 1.29.0,
 * Linux x86-64): creating its environment matches a {@code std::regex} against the whole
 * {@code /proc/self/cmdline}, recursing once per character at about 256 bytes of stack per byte
 * (bisected: 785 KB at 3,026 bytes, 4,802 KB at 19,026, 15,800 KB at 63,026), so a long class path
 * or argument overflowed a normal stack: SIGSEGV, no Java error. Every lora4j module that may be the
 * first to start ONNX Runtime (the runtime's {@code NativeThreads}, the exporter's int8 calibration)
 * sizes that thread here, so no one of them falls behind the other.
 */
public final class NativeStack {
  /** Stack per command-line byte, doubled from the measured 256 B. */
  private static final long PER_COMMAND_LINE_BYTE = 512;
  private static final long MIN = 16L << 20;
  /** Without /proc (not Linux) the command line is unknown; this covers 60 kB of it. */
  private static final long UNKNOWN = 32L << 20;

  private NativeStack() {}

  /** Stack for the thread that creates ONNX Runtime's environment in this process. */
  public static long forOnnxRuntimeStart() {
    return forCommandLine(commandLineBytes());
  }

  /** Stack for environment creation given the command line's length (-1: unknown). */
  static long forCommandLine(long commandLineBytes) {
    if (commandLineBytes < 0) {
      return UNKNOWN;
    }
    return Math.max(MIN, commandLineBytes * PER_COMMAND_LINE_BYTE);
  }

  /** Length of {@code /proc/self/cmdline}, or -1 where there is none. */
  static long commandLineBytes() {
    Path p = Path.of("/proc/self/cmdline");
    if (!Files.isReadable(p)) {
      return -1;
    }
    try (InputStream in = Files.newInputStream(p)) {
      long n = 0;
      byte[] buf = new byte[8192];
      for (int r; (r = in.read(buf)) > 0; ) {
        n += r;
      }
      return n;
    } catch (IOException e) {
      return -1;
    }
  }
}
