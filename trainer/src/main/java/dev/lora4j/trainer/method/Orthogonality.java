package dev.lora4j.trainer.method;

import ai.djl.ndarray.NDArray;

/**
 * The orthogonality regulariser {@code ||A A^T - I||_F^2 + ||B^T B - I||_F^2} (AdaLoRA, SaLoRA): it
 * keeps the rows of A and the columns of B near-orthonormal, so each rank carries an independent
 * direction and switching a gate off removes that direction alone rather than part of its neighbours'.
 */
final class Orthogonality {
  private Orthogonality() {}

  /** For {@code a (r x in)} and {@code b (out x r)}; a scalar array, differentiable in both. */
  public static NDArray penalty(NDArray a, NDArray b) {
    long r = a.getShape().get(0);
    NDArray eye = a.getManager().eye((int) r);
    NDArray rows = a.matMul(a.transpose()).sub(eye).square().sum();
    NDArray cols = b.transpose().matMul(b).sub(eye).square().sum();
    return rows.add(cols);
  }
}
