package dev.lora4j.trainer.loop;

import ai.djl.pytorch.jni.JniUtils;

/**
 * PyTorch's autograd recording, off outside gradient collectors on whatever thread trains.
 *
 * <p>libtorch keeps that switch per thread and starts every thread with it on; DJL turns it off
 * only on the thread that loaded the engine, and a gradient collector restores what it found. A run
 * on any other thread (a host's executor, a test harness) then records the optimizer's in-place
 * updates and fails with "a leaf Variable that requires grad is being used in an in-place
 * operation", and evaluation builds autograd graphs it never uses.
 */
final class Autograd {
  private Autograd() {}

  static void offOnThisThread() {
    JniUtils.setGradMode(false);
  }
}
