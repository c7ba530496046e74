// Small pieces Compare's parts share: the one-line failure, progress on stderr, durations on the command line,
// the command line as typed, writing a report file.

import picocli.CommandLine;

import java.io.*;
import java.lang.management.ManagementFactory;
import java.nio.file.*;
import java.time.Duration;
import java.util.*;
import java.util.regex.Pattern;
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

    /** "1500ms", "2s", "1m", or a plain number of seconds. */
    static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
        @Override public Duration convert(String v) {
            var m = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|s|m)?").matcher(v.strip());
            if (!m.matches()) throw new CommandLine.TypeConversionException("not a duration: " + v + " (e.g. 500ms, 2s, 1m)");
            double n = Double.parseDouble(m.group(1));
            String unit = m.group(2) == null ? "s" : m.group(2);
            long ms = (long) (n * switch (unit) { case "ms" -> 1; case "m" -> 60_000; default -> 1000; });
            if (ms <= 0) throw new CommandLine.TypeConversionException("a duration must be positive: " + v);
            return Duration.ofMillis(ms);
        }
    }

    /** Writes a report file, creating its folder. */
    static void writeFile(Path file, String text) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        Files.writeString(file, text);
    }
}
