package dev.lora4j.runtime;

/** A failure with its HTTP status; the message is shown to the client, so it never holds a path or file content. */
final class HttpError extends RuntimeException {
  final int status;
  /** Seconds for a Retry-After header; 0 for none. */
  final int retryAfter;

  HttpError(int status, String message) {
    this(status, message, 0);
  }

  HttpError(int status, String message, int retryAfter) {
    super(message, null, false, false);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}
