package dev.lora4j.runtime;

/**
 * A request's hold on a loaded adapter. While any lease is open the adapter's native memory stays
 * alive, even if the adapter is unloaded or evicted meanwhile: an in-flight request keeps the
 * adapter it started with. Close it when the run is done.
 */
final class Lease<T> implements AutoCloseable {
  private final Entry<T> entry;
  private boolean closed;

  Lease(Entry<T> entry) {
    this.entry = entry;
  }

  public T value() {
    if (closed) {
      throw new IllegalStateException("lease on " + entry.name() + " already closed");
    }
    return entry.value();
  }

  public String name() {
    return entry.name();
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      entry.release();
    }
  }
}
