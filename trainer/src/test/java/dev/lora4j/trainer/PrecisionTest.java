package dev.lora4j.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.lora4j.models.Lora4jException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrecisionTest {
  @TempDir Path dir;

  @Test
  void precisionIsRefusedClearlyOnAnUnsupportedValue() {
    Lora4jException e = assertThrows(Lora4jException.class, () -> Precision.parse("fp16"));
    assertEquals("--precision must be auto, bf16 or fp32, not 'fp16'", e.getMessage());
    assertEquals(Precision.BF16, Precision.parse(" BF16 "));
    assertEquals(Precision.FP32, Precision.parse("float32"));
  }

  @Test
  void autoPicksBf16OnlyWhenTheCpuListsANativeBfloat16Flag() throws Exception {
    Path amx = Files.writeString(dir.resolve("amx"), "processor\t: 0\nflags\t\t: fpu sse avx512f amx_bf16 amx_tile"
        + " avx512_bf16\n\nprocessor\t: 1\nflags\t\t: fpu amx_bf16\n");
    Path plain = Files.writeString(dir.resolve("plain"), "flags\t\t: fpu sse avx2 avx512f avx512_vnni\n");
    assertEquals("amx_bf16 avx512_bf16", Precision.cpuBf16Flags(amx));
    assertEquals("", Precision.cpuBf16Flags(plain));
    assertEquals("", Precision.cpuBf16Flags(dir.resolve("absent")));
    // explicit choices are kept whatever the hardware
    assertEquals(Precision.FP32, Precision.FP32.resolve(Device.cpu()));
    assertEquals(Precision.BF16, Precision.BF16.resolve(Device.cpu()));
    assertTrue(Precision.AUTO.resolve(Device.cpu()) != Precision.AUTO);
  }

  @Test
  void precisionIsPartOfTheProvenanceConfig() {
    TrainingConfig c = TrainingConfig.builder().precision(Precision.BF16).build();
    assertEquals("bf16", c.toMap().get("precision"));
    assertEquals(Precision.BF16, c.toBuilder().build().precision());
    assertEquals(Precision.FP32, TrainingConfig.builder().build().precision()); // bf16 is opt-in (README: Training precision)
  }
}
