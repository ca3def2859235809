package dev.lora4j.trainer;

import ai.djl.Device;
import ai.djl.engine.Engine;
import dev.lora4j.models.Lora4jException;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Where training runs: {@code auto} takes a CUDA GPU when the PyTorch engine sees one, else the CPU. */
public enum DeviceChoice {
  AUTO,
  CPU,
  GPU;

  private static final Logger LOG = LoggerFactory.getLogger(DeviceChoice.class);

  public static DeviceChoice parse(String s) {
    return switch (s.trim().toLowerCase(Locale.ROOT)) {
      case "auto" -> AUTO;
      case "cpu" -> CPU;
      case "gpu", "cuda" -> GPU;
      default -> throw new Lora4jException("--device must be auto, cpu or gpu, not '" + s + "'");
    };
  }

  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The DJL device for this choice on the PyTorch engine; loads the engine if needed. */
  public Device resolve() {
    Engine engine = PyTorchEngine.load();
    int gpus = engine.getGpuCount();
    return switch (this) {
      case CPU -> Device.cpu();
      case GPU -> {
        if (gpus == 0) {
          throw new Lora4jException("--device gpu: PyTorch " + engine.getVersion() + " sees no CUDA GPU. The CPU "
              + "natives are on the class path unless the project was built with -Pcuda; use --device cpu or auto.");
        }
        yield Device.gpu();
      }
      case AUTO -> {
        if (gpus > 0) {
          LOG.info("Training on {} (PyTorch {}, {} GPU(s) visible)", Device.gpu(), engine.getVersion(), gpus);
          yield Device.gpu();
        }
        // Say so: a user who expected the GPU should learn it from the log, not from the wall clock.
        LOG.info("No CUDA GPU visible to PyTorch {}: training on the CPU ({} threads)", engine.getVersion(),
            Runtime.getRuntime().availableProcessors());
        yield Device.cpu();
      }
    };
  }
}
