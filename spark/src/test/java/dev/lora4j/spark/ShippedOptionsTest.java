package dev.lora4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lora4j.runtime.Device;
import dev.lora4j.runtime.RuntimeOptions;
import dev.lora4j.runtime.SessionSettings;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class ShippedOptionsTest {
  /** Every field away from its default, so a field dropped on the way to the executor shows. */
  @Test
  void everyRuntimeOptionReachesTheExecutor() throws Exception {
    RuntimeOptions o = new RuntimeOptions(new SessionSettings(Device.CPU, 3, 2, 1), 12_345L, 77, 999, 11,
        Duration.ofMillis(9), 6, 66, true);
    for (int i = 0; i < RuntimeOptions.class.getRecordComponents().length; i++) {
      Object value = RuntimeOptions.class.getRecordComponents()[i].getAccessor().invoke(o);
      Object plain = RuntimeOptions.class.getRecordComponents()[i].getAccessor().invoke(RuntimeOptions.defaults());
      assertEquals(false, value.equals(plain), RuntimeOptions.class.getRecordComponents()[i].getName()
          + " is at its default here; pick another value");
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(ShippedOptions.of(o));
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      assertEquals(o, ((ShippedOptions) in.readObject()).toOptions());
    }
  }
}
