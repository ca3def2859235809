package dev.lora4j.models;

/**
 * A problem the user can act on: a bad file, an adapter that does not fit, an unknown name.
 *
 * <p>The message is the whole story (which file or name, what is wrong with it), so command lines
 * print it alone instead of a stack trace. Anything else that escapes is a bug in lora4j.
 */
public class Lora4jException extends RuntimeException {
  public Lora4jException(String message) {
    super(message);
  }

  public Lora4jException(String message, Throwable cause) {
    super(message, cause);
  }
}
