// Small pieces Compare's parts share: the one-line failure, progress on stderr, durations on the command line,
// the command line as typed, writing a report file, a command on the PATH, deleting a temporary folder.

import picocli.CommandLine;

import java.io.*;
import java.lang.management.ManagementFactory;
import java.nio.file.*;
import java.time.Duration;
import java.util.*;
import java.util.stream.Collectors;

final class Util {
    private Util() {}

    /** An expected failure: one line `Error: message` on stderr and this exit code (1: a side failed, 2: usage). */
    static final class Failure extends RuntimeException {
        final int exitCode;

        Failure(int exitCode, String message) {
            super(message);
            this.exitCode = exitCode;
        }

        static Failure usage(String message) { return new Failure(2, message); }

        static Failure of(String message) { return new Failure(1, message); }
    }

    /** The command line as typed (for footers and JSON). */
    static volatile String[] ARGS = new String[0];

    static String commandLine() {
        return "./jbang Compare.java " + Arrays.stream(ARGS).map(x -> x.matches("[\\w./:=,@%+-]+") ? x : "'" + x.replace("'", "'\\''") + "'").collect(Collectors.joining(" "));
    }

    /** Progress lines on stderr: phase, side, run k of n. The result goes to stdout. */
    static final class Progress {
        private static final long T0 = System.nanoTime() - ManagementFactory.getRuntimeMXBean().getUptime() * 1_000_000;

        static void say(String s) {
            System.err.printf(Locale.ROOT, "[compare %5.1fs] %s%n", (System.nanoTime() - T0) / 1e9, s);
        }
    }

    /**
     * A duration on the command line ("500ms", "2s", "1m", "1h", or a plain number of seconds), read by the one parser
     * compiled into Compare, LoadTest's; this converter also refuses 0 (an option where 0 means "none" takes
     * LoadTest.DurationConverter itself).
     */
    static final class PositiveDuration implements CommandLine.ITypeConverter<Duration> {
        @Override public Duration convert(String v) {
            Duration d = new LoadTest.DurationConverter().convert(v);
            if (d.isZero() || d.isNegative()) throw new CommandLine.TypeConversionException("a duration must be positive: " + v);
            return d;
        }
    }

    /** Writes a report file, creating its folder. */
    static void writeFile(Path file, String text) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        Files.writeString(file, text);
    }

    /** Whether a command is on the PATH (gcc, perf). */
    static boolean onPath(String command) {
        return Arrays.stream(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
                .anyMatch(d -> !d.isEmpty() && Files.isExecutable(Path.of(d, command)));
    }

    /** Deletes a folder and everything in it; a failure is said on stderr, never thrown. */
    static void deleteTree(Path root) {
        try (var files = Files.walk(root)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.err.println("[compare] could not delete " + root + ": " + e.getMessage());
        }
    }
}
