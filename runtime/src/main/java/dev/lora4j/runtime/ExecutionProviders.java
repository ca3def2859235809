package dev.lora4j.runtime;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import dev.lora4j.models.Lora4jException;
import java.lang.System.Logger.Level;

/**
 * Opens ONNX Runtime sessions on the requested device. The CUDA provider exists only in the
 * {@code onnxruntime_gpu} jar (Maven profile {@code -Pcuda}) and works only where a GPU and its
 * driver are present, so {@link Device#AUTO} tries it and falls back to CPU, saying why once.
 */
public final class ExecutionProviders {
  private static final System.Logger LOG = System.getLogger("lora4j.runtime");

  private ExecutionProviders() {}

  /**
   * The process-wide ORT environment. Its log level is left alone (asking for another level once it
   * exists only earns a warning); sessions set their own level, see {@link SessionSettings}. The
   * first call creates it on a thread with a stack big enough for ONNX Runtime's start-up (see
   * {@link NativeThreads}): code in lora4j asks here rather than {@code OrtEnvironment} directly.
   */
  public static OrtEnvironment environment() {
    return NativeThreads.environment();
  }

  /** Whether this ONNX Runtime build has the CUDA provider at all (it may still find no GPU). */
  static boolean cudaCompiledIn() {
    return OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA);
  }

  /**
   * The CUDA provider as {@link #open} sees it. Package-private so a test can make CUDA fail on any
   * machine (with or without a GPU) and run the fallback branch.
   */
  interface Cuda {
    boolean compiledIn();

    void addTo(OrtSession.SessionOptions opts, int deviceId) throws OrtException;
  }

  static final Cuda REAL_CUDA = new Cuda() {
    @Override
    public boolean compiledIn() {
      return cudaCompiledIn();
    }

    @Override
    public void addTo(OrtSession.SessionOptions opts, int deviceId) throws OrtException {
      opts.addCUDA(deviceId);
    }
  };

  static volatile Cuda cuda = REAL_CUDA;

  /** A session plus the device it really runs on. */
  record OpenedSession(OrtSession session, Device device) {}

  /** Opens {@code modelBytes} on {@code settings.device()}, falling back to CPU for AUTO. */
  static OpenedSession open(byte[] modelBytes, SessionSettings settings, String what) {
    OrtEnvironment env = environment();
    if (settings.device() != Device.CPU) {
      String why;
      if (!cuda.compiledIn()) {
        why = "this ONNX Runtime build has no CUDA execution provider (build with -Pcuda for onnxruntime_gpu)";
      } else {
        try (OrtSession.SessionOptions opts = settings.toOptions()) {
          cuda.addTo(opts, settings.cudaDeviceId());
          return new OpenedSession(env.createSession(modelBytes, opts), Device.CUDA);
        } catch (OrtException | RuntimeException | UnsatisfiedLinkError e) {
          why = "the CUDA execution provider failed to start: " + e.getMessage();
        }
      }
      if (settings.device() == Device.CUDA) {
        throw new Lora4jException("device cuda was requested for " + what + " but " + why);
      }
      LOG.log(Level.INFO, "lora4j: running " + what + " on CPU because " + why);
    }
    try (OrtSession.SessionOptions opts = settings.toOptions()) {
      return new OpenedSession(env.createSession(modelBytes, opts), Device.CPU);
    } catch (OrtException e) {
      throw new Lora4jException(what + ": ONNX Runtime cannot load this model: " + e.getMessage(), e);
    }
  }
}
