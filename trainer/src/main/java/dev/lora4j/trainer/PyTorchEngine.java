package dev.lora4j.trainer;

import ai.djl.engine.Engine;
import dev.lora4j.models.Lora4jException;

/** Loads DJL's PyTorch engine from the native jars on the class path, never from DJL's download CDN. */
public final class PyTorchEngine {
  public static final String NAME = "PyTorch";

  private PyTorchEngine() {}

  /** The PyTorch engine, or one message that says which jar is missing. */
  public static Engine load() {
    // Offline unless the caller decided otherwise: the natives ship as Maven jars, and a training run
    // that silently reaches for the internet (unreachable on many build hosts) only fails later and worse.
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
    // DJL reports usage unless tracking is opted out; lora4j never reaches the network on its own.
    System.getProperties().putIfAbsent("OPT_OUT_TRACKING", "true");
    try {
      return Engine.getEngine(NAME);
    } catch (RuntimeException | UnsatisfiedLinkError | ExceptionInInitializerError e) {
      throw new Lora4jException("Cannot load the PyTorch engine (" + rootMessage(e) + "). The trainer needs "
          + "ai.djl.pytorch:pytorch-jni and the native jar ai.djl.pytorch:pytorch-native-cpu:<version>:linux-x86_64 "
          + "(or pytorch-native-cu124 with -Pcuda) on the class path; DJL runs offline and will not download them.", e);
    }
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }
}
