package dev.lora4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostCpuTest {
  @TempDir Path dir;

  @Test
  void namesTheModelAndOnlyTheMatrixFlagsOfTheFirstProcessorInAFixedOrder() throws Exception {
    // Two processors with different flag lists: only the first one's count. Flags are listed in
    // /proc/cpuinfo's order (amx before avx512_bf16 here) but reported in HostCpu's; "avx512_vnnix"
    // and "xavx2" are near-misses a substring match would take.
    Path cpuinfo = Files.writeString(dir.resolve("cpuinfo"), String.join("\n",
        "processor\t: 0",
        "vendor_id\t: GenuineIntel",
        "model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz",
        "flags\t\t: fpu sse2 amx_int8 amx_bf16 avx512_bf16 avx512f avx2 avx512_vnnix xavx2 avx512_vnni",
        "",
        "processor\t: 1",
        "model name\t: Other",
        "flags\t\t: fpu avx_vnni",
        ""));
    assertEquals("Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz, 2 cores, avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_int8",
        HostCpu.describe(cpuinfo, 2));
  }

  @Test
  void withoutCpuinfoSaysTheArchitecture() {
    assertEquals(System.getProperty("os.arch") + ", 4 cores", HostCpu.describe(dir.resolve("absent"), 4));
  }

  @Test
  void aCpuWithNoneOfTheFlagsSaysOnlyModelAndCores() throws Exception {
    Path cpuinfo = Files.writeString(dir.resolve("cpuinfo"), "model name\t: AMD EPYC\nflags\t\t: fpu sse2\n");
    assertEquals("AMD EPYC, 2 cores", HostCpu.describe(cpuinfo, 2));
  }
}
