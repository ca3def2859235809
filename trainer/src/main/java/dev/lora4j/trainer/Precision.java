package dev.lora4j.trainer;

import ai.djl.Device;
import ai.djl.util.cuda.CudaUtils;
import dev.lora4j.models.Lora4jException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The number format of the frozen base during training steps. {@code bf16} casts the base weights to
 * bfloat16 once and runs its matrix products there (AMX / AVX-512 BF16 on the CPU, tensor cores on
 * CUDA); the adapter, head and optimizer state stay float32 either way, and evaluation always runs
 * float32. {@code auto} takes bf16 where the hardware has native bfloat16 arithmetic, else fp32.
 */
public enum Precision {
  AUTO,
  FP32,
  BF16;

  private static final Logger LOG = LoggerFactory.getLogger(Precision.class);
  /** CPU flags of native bfloat16 matrix arithmetic (Linux /proc/cpuinfo names). */
  private static final Pattern BF16_FLAGS = Pattern.compile("\\b(amx_bf16|avx512_bf16)\\b");

  public static Precision parse(String s) {
    return switch (s.trim().toLowerCase(Locale.ROOT)) {
      case "auto" -> AUTO;
      case "fp32", "float32" -> FP32;
      case "bf16", "bfloat16" -> BF16;
      default -> throw new Lora4jException("--precision must be auto, bf16 or fp32, not '" + s + "'");
    };
  }

  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** FP32 or BF16: {@code auto} decided for {@code device}, said in one log line. */
  public Precision resolve(Device device) {
    if (this != AUTO) {
      return this;
    }
    String why;
    boolean bf16;
    if (device.isGpu()) {
      // bfloat16 tensor cores start with compute capability 8.0 (Ampere)
      String cc = CudaUtils.getComputeCapability(device.getDeviceId());
      bf16 = cc.matches("\\d+") && Integer.parseInt(cc) >= 80;
      why = "CUDA compute capability " + cc;
    } else {
      String flags = cpuBf16Flags(Path.of("/proc/cpuinfo"));
      bf16 = !flags.isEmpty();
      why = bf16 ? "CPU flags " + flags : "no amx_bf16 / avx512_bf16 CPU flag";
    }
    Precision p = bf16 ? BF16 : FP32;
    LOG.info("Precision {}: {} (--precision fp32 to train the base in float32)", p.id(), why);
    return p;
  }

  /** The bfloat16 flags the first CPU lists in {@code cpuinfo}, space-separated; empty when none or unreadable. */
  static String cpuBf16Flags(Path cpuinfo) {
    if (!Files.isReadable(cpuinfo)) {
      return "";
    }
    try (Stream<String> lines = Files.lines(cpuinfo)) {
      String flags = lines.filter(l -> l.startsWith("flags")).findFirst().orElse("");
      return String.join(" ", BF16_FLAGS.matcher(flags).results().map(r -> r.group(1)).distinct().toList());
    } catch (IOException | java.io.UncheckedIOException e) {
      return "";
    }
  }
}
