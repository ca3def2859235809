package dev.lora4j.runtime;

import java.util.concurrent.atomic.AtomicLong;

/**
 * One loaded value with a reference count: the registry holds one reference, each open lease
 * another; the native resource is closed when the last one goes. ONNX Runtime's adapters must not
 * be closed under a running request, and closing one twice throws, so this is the single place
 * that decides when {@code close()} happens.
 */
final class Entry<T> {
  private final String name;
  private final T value;
  private final AutoCloseable resource;
  private final long bytes;
  private final AtomicLong lastUsed = new AtomicLong();
  private int refs = 1;
  private boolean retired;

  Entry(String name, T value, AutoCloseable resource, long bytes, long now) {
    this.name = name;
    this.value = value;
    this.resource = resource;
    this.bytes = bytes;
    this.lastUsed.set(now);
  }

  String name() {
    return name;
  }

  T value() {
    return value;
  }

  long bytes() {
    return bytes;
  }

  long lastUsed() {
    return lastUsed.get();
  }

  /** Takes a reference unless the entry was retired; returns whether it did. */
  synchronized boolean acquire(long now) {
    if (retired) {
      return false;
    }
    refs++;
    lastUsed.set(now);
    return true;
  }

  synchronized void release() {
    if (--refs == 0) {
      try {
        resource.close();
      } catch (Exception e) {
        throw new IllegalStateException("closing adapter " + name + " failed", e);
      }
    }
  }

  /** Drops the registry's reference; the resource closes once running requests are done. */
  synchronized void retire() {
    if (!retired) {
      retired = true;
      release();
    }
  }

  synchronized boolean isClosed() {
    return refs == 0;
  }
}
