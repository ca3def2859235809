package dev.lora4j.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lora4j.models.adapter.Adapter;
import dev.lora4j.trainer.loop.TrainingListener;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Training runs on whatever thread calls it. libtorch's autograd switch is per thread and on by
 * default; only the thread that loaded the engine had it off, so a run on a host's executor thread
 * failed in the optimizer's first in-place update.
 */
class TrainingThreadTest {
  @TempDir Path dir;

  @Test
  void trainingOnAThreadOtherThanTheOneThatLoadedTheEngineGivesTheSameAdapter() throws Exception {
    TinyTask task = TinyTask.open(dir, 64, 16);
    TrainingConfig config = TrainingConfig.builder().device(DeviceChoice.CPU).targets("query,value").rank(2)
        .batchSize(16).maxLength(32).epochs(1).logEvery(1).build();
    PyTorchEngine.load(); // loaded here, on the test thread
    Adapter here = Trainer.train(task.run(config, null, false, "t"), new TrainingListener() { }).adapter();
    ExecutorService other = Executors.newSingleThreadExecutor();
    try {
      Adapter there = CompletableFuture.supplyAsync(
          () -> Trainer.train(task.run(config, null, false, "t"), new TrainingListener() { }).adapter(), other).get();
      // same seed, same data, same thread count: the runs are bit-identical (as resume is)
      assertEquals(here.modules().keySet(), there.modules().keySet());
      here.modules().forEach((name, m) -> {
        assertArrayEquals(m.a().data(), there.modules().get(name).a().data(), name);
        assertArrayEquals(m.b().data(), there.modules().get(name).b().data(), name);
      });
    } finally {
      other.shutdownNow();
    }
  }
}
