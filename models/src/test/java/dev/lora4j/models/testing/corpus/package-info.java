/**
 * The hostile-input corpus: damaged copies of valid small files, generated at test time from a
 * fixed seed and run in-process, so every reader lora4j has is shown to refuse what it cannot read
 * with one message naming the file, or to load something sane; never another exception, an
 * {@link java.lang.Error}, a hang or a leftover file.
 *
 * <p>Adding a format takes one test where its reader lives:
 *
 * <pre>{@code
 * Path valid = ...;                                   // a directory holding a valid input
 * new HostileCorpus<Thing>("thing", valid, work, Duration.ofSeconds(20))
 *     .add(Mutators.binary("thing.bin", bytes, rnd, 60, 60, 40))   // truncations, flips, runs
 *     .add(Mutators.lengthFields("thing.bin", 4, 0, 8))            // 0, -1, 0x7fffffff, ...
 *     .add(Mutators.json("thing.json", json, rnd, 3))              // deletions, nulls, type swaps, NaN
 *     .add(Mutators.fileSystem("thing.bin"))                       // missing, empty, directory, devices
 *     .run(dir -> Thing.read(dir.resolve("thing.bin")), (thing, mutation) -> assertSane(thing));
 * }</pre>
 *
 * Each run prints {@code hostile corpus [label]: ...} and a running total per test JVM,
 * {@code hostile corpus: N cases, R refused with a message, L loaded, F failures}.
 */
package dev.lora4j.models.testing.corpus;
