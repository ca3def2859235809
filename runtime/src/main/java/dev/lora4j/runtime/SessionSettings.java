package dev.lora4j.runtime;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;

/**
 * ONNX Runtime session settings that users may tune.
 *
 * @param intraOpThreads threads inside one operator; 0 lets ONNX Runtime decide (all cores); must be 0
 *     after {@link AdapterRuntime#shareThreadPool}, whose pool then serves every session
 * @param interOpThreads threads across operators; 0 lets ONNX Runtime decide; 0 with a shared pool
 * @param cudaDeviceId which GPU, when CUDA is used
 */
public record SessionSettings(Device device, int intraOpThreads, int interOpThreads, int cudaDeviceId) {
  /**
   * Most threads one ONNX Runtime pool may be given. Why a ceiling: ONNX Runtime makes every thread
   * when the session (or shared pool) is made, and past what the process may create it hangs instead
   * of failing (measured: {@code run --threads 5000} under a 3,000-thread limit had not answered
   * after 90 s, 1,024 answered); no CPU gains from more threads than it has cores anyway.
   */
  public static final int MAX_THREADS = 1024;

  public SessionSettings {
    if (intraOpThreads < 0 || interOpThreads < 0 || cudaDeviceId < 0) {
      throw new IllegalArgumentException("thread counts and the CUDA device id must not be negative");
    }
    if (intraOpThreads > MAX_THREADS || interOpThreads > MAX_THREADS) {
      throw new IllegalArgumentException("ONNX Runtime thread counts must be at most " + MAX_THREADS + " (0: one per "
          + "core), not " + Math.max(intraOpThreads, interOpThreads));
    }
  }

  public static SessionSettings defaults() {
    return new SessionSettings(Device.AUTO, 0, 0, 0);
  }

  public SessionSettings withDevice(Device d) {
    return new SessionSettings(d, intraOpThreads, interOpThreads, cudaDeviceId);
  }

  public SessionSettings withThreads(int intraOp) {
    return new SessionSettings(device, intraOp, interOpThreads, cudaDeviceId);
  }

  /**
   * Options for one session. Logging stays at ERROR: the adapter-ready graphs declare their adapter
   * weights as inputs with defaults, which ONNX Runtime warns about once per input by design.
   */
  OrtSession.SessionOptions toOptions() throws OrtException {
    OrtSession.SessionOptions o = new OrtSession.SessionOptions();
    o.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
    o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
    if (NativeThreads.sharesThreads()) {
      if (intraOpThreads > 0 || interOpThreads > 0) {
        o.close();
        throw new IllegalArgumentException("this process's sessions share one thread pool (AdapterRuntime."
            + "shareThreadPool), which sets the thread count for all of them; leave the session's thread counts "
            + "at 0, not " + intraOpThreads + " / " + interOpThreads);
      }
      o.disablePerSessionThreads();
      return o;
    }
    if (intraOpThreads > 0) {
      o.setIntraOpNumThreads(intraOpThreads);
    }
    if (interOpThreads > 0) {
      o.setInterOpNumThreads(interOpThreads);
    }
    return o;
  }
}
