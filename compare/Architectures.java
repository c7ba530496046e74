// The architectures experiment: every server model x /io and /cpu x N simultaneous one-shot requests; the total time per N.

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.*;
import java.net.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

@Command(name = "architectures", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        description = {"The from-scratch web server's experiment: every server model x /io and /cpu x N simultaneous one-shot requests "
                + "(LoadTest's burst). Prints the total time per N as a table per task, with what the figures show; "
                + "--html draws a line chart per task (x: N, y: total time, one line per model).",
                "Default run: about a minute and a half on 2 cores."})
final class Architectures extends Experiment {
    @Option(names = "--servers", paramLabel = "LIST", description = "Comma-separated: simple, threaded (every mode of it), or simple:MODE, threaded:MODE.")
    String servers = "simple,threaded";

    @Option(names = "--concurrency", split = ",", paramLabel = "N", description = "Numbers of simultaneous requests.")
    List<Integer> concurrency = new ArrayList<>(List.of(1, 2, 4, 8, 16, 32));

    @Option(names = "--tasks", paramLabel = "LIST", description = "Comma-separated: io, cpu.")
    String tasks = "io,cpu";

    @Option(names = "--io-ms", description = "Milliseconds each /io request waits (I/O-bound: sleeps, burns no CPU).")
    int ioMs = 200;

    @Option(names = "--cpu-n", description = "Each /cpu request counts the primes up to this n (CPU-bound; 1000000 is about 80 ms of one core here).")
    int cpuN = 1_000_000;

    @Option(names = "--timeout", converter = Util.PositiveDuration.class, description = "How long one request may take before it counts as failed.")
    Duration timeout = Duration.ofSeconds(120);

    /** One figure: N simultaneous requests of one task to one server. */
    record Figure(String server, String mode, String task, String path, int concurrency, double totalMs, int failed) {}

    @Override void run(Report report) throws Exception {
        var chosen = parseServers(servers);
        var taskList = list(tasks);
        for (String t : taskList) if (!t.equals("io") && !t.equals("cpu")) throw Util.Failure.usage("--tasks: unknown task " + t + " (io, cpu)");
        if (taskList.isEmpty()) throw Util.Failure.usage("--tasks: none given (io, cpu)");
        if (concurrency.isEmpty() || concurrency.stream().anyMatch(n -> n < 1 || n > 10_000))
            throw Util.Failure.usage("--concurrency: each N must be 1..10000: " + concurrency);
        if (ioMs < 0 || ioMs > 10_000) throw Util.Failure.usage("--io-ms: " + ioMs + " (0..10000, the servers' limit)");
        if (cpuN < 0 || cpuN > 10_000_000) throw Util.Failure.usage("--cpu-n: " + cpuN + " (0..10000000, the servers' limit)");
        var ns = concurrency.stream().distinct().sorted().toList();
        var figures = new ArrayList<Figure>();
        int k = 0;
        for (var s : chosen) {
            k++;
            String label = s.script().serverName + " " + s.mode();
            Util.Progress.say("architectures: starting " + label + " (" + k + " of " + chosen.size() + ")");
            var proc = startServer(s.script().command + ":" + s.mode(), s.script(), List.of("-p", "0", "-q", "-m", s.mode()));
            try {
                int port = proc.port();
                // Warm-up, unmeasured: the JIT compiles the request path before the first figure.
                LoadTest.burst("127.0.0.1", port, "/cpu?n=" + Math.min(cpuN, 100_000), 4, timeout, null);
                LoadTest.burst("127.0.0.1", port, "/io?ms=1", 4, timeout, null);
                // Every measured burst of this model with its mechanism counted (compare/Counts.java).
                counted(report, label, proc, () -> {
                    long requests = 0;
                    for (String task : taskList) {
                        String path = task.equals("io") ? "/io?ms=" + ioMs : "/cpu?n=" + cpuN;
                        for (int n : ns) {
                            var r = LoadTest.burst("127.0.0.1", port, path, n, timeout, null);
                            int failed = (int) r.requests().stream().filter(q -> q.status() != 200).count();
                            figures.add(new Figure(s.script().serverName, s.mode(), task, path, n, r.totalMs(), failed));
                            Util.Progress.say("architectures: %s %s x %d: %.0f ms%s".formatted(label, path, n, r.totalMs(),
                                    failed > 0 ? ", " + failed + " failed (" + firstError(r) + ")" : ""));
                            requests += n;
                        }
                    }
                    return requests;
                }, Long::longValue);
            } finally {
                proc.stop();
            }
        }
        report.title = "Server architectures: N simultaneous requests";
        report.intro = ("Each server model gets N simultaneous one-shot requests (a new connection each, all released "
                + "at once, LoadTest's burst) and the table shows the total time until the last answer, in ms. "
                + "/io?ms=%d waits %d ms without using the CPU (a slow database); /cpu?n=%d counts primes, "
                + "about the same time of pure CPU work. Each server is started alone, in its own JVM (%s), "
                + "warmed up with 8 unmeasured requests.").formatted(ioMs, ioMs, cpuN, String.join(" ", Processes.Launch.DEFAULT_JVM_OPTIONS));
        for (String task : taskList) {
            var of = figures.stream().filter(f -> f.task().equals(task)).toList();
            String path = of.getFirst().path();
            var table = new TextTable(concat("server", ns.stream().map(n -> "N=" + n).toList()).toArray(String[]::new));
            var series = new ArrayList<Html.Svg.Series>();
            for (var s : chosen) {
                var row = of.stream().filter(f -> f.server().equals(s.script().serverName) && f.mode().equals(s.mode())).toList();
                String name = s.script().serverName + " " + s.mode();
                table.row(row.stream().anyMatch(f -> f.failed() > 0) ? "!" : null,
                        concat(name, row.stream().map(f -> "%.0f".formatted(f.totalMs()) + (f.failed() > 0 ? " (" + f.failed() + " failed)" : "")).toList()));
                series.add(new Html.Svg.Series(name, row.stream().map(f -> new Html.Svg.Point(f.concurrency(), f.totalMs())).toList()));
            }
            String title = (task.equals("io") ? "I/O-bound task " : "CPU-bound task ") + path;
            report.section(title + ": total time (ms) of N simultaneous requests", table, summary(task, of, ns), List.of(
                    new Html.Chart(task, title, Html.Svg.lineChart(title + ": total time of N simultaneous requests",
                            report.command, "concurrent requests (N)", "total time (ms)", series), series)));
        }
        if (figures.stream().anyMatch(f -> f.failed() > 0)) {
            report.note("! marks a row with failed requests (see the progress lines on stderr): its times are not comparable.");
            report.exitCode = 1;
        }
        mechanismSection(report, "every measured burst of a model (each request on a connection of its own)");
        report.data(figures, Map.of("servers", chosen.stream().map(s -> s.script().command + ":" + s.mode()).toList(),
                "concurrency", ns, "tasks", taskList, "ioMs", ioMs, "cpuN", cpuN, "jvmOptions", Processes.Launch.DEFAULT_JVM_OPTIONS));
    }

    static String firstError(LoadTest.BurstResult r) {
        return r.requests().stream().filter(q -> q.status() != 200)
                .map(q -> q.error() != null ? q.error() : "status " + q.status()).findFirst().orElse("");
    }

    /** Two or three sentences, made from the figures, that say what the chart shows. */
    static List<String> summary(String task, List<Figure> figures, List<Integer> ns) {
        int first = ns.getFirst(), last = ns.getLast();
        var byModel = new LinkedHashMap<String, List<Figure>>();
        figures.forEach(f -> byModel.computeIfAbsent(f.server() + " " + f.mode(), x -> new ArrayList<>()).add(f));
        var linear = new ArrayList<String>();
        var flat = new ArrayList<String>();
        var between = new ArrayList<String>();
        double spread = (double) last / first;
        for (var e : byModel.entrySet()) {
            double growth = at(e.getValue(), last) / Math.max(1e-9, at(e.getValue(), first));
            if (growth >= 0.6 * spread) linear.add(e.getKey());
            else if (growth <= Math.max(2.5, spread * 0.1)) flat.add(e.getKey());
            else between.add(e.getKey() + " (x%.1f)".formatted(growth));
        }
        var best = figures.stream().filter(f -> f.concurrency() == last).min(Comparator.comparingDouble(Figure::totalMs)).orElseThrow();
        var worst = figures.stream().filter(f -> f.concurrency() == last).max(Comparator.comparingDouble(Figure::totalMs)).orElseThrow();
        var out = new ArrayList<String>();
        if (ns.size() < 2) {
            out.add("Only N=%d was measured: fastest %s %s (%.0f ms), slowest %s %s (%.0f ms).".formatted(last,
                    best.server(), best.mode(), best.totalMs(), worst.server(), worst.mode(), worst.totalMs()));
            return out;
        }
        if (task.equals("io")) {
            if (!linear.isEmpty())
                out.add("%s grew linearly with N (from %d to %d requests, about x%.0f in time): %s one request at a time."
                        .formatted(join(linear), first, last, spread, linear.size() == 1 ? "it serves" : "they serve"));
            if (!flat.isEmpty())
                out.add("%s stayed nearly flat: %d waiting requests overlap, because a blocked request holds a thread "
                        .formatted(join(flat), last) + "(or virtual thread, or a timer on an event loop) and no CPU.");
            if (!between.isEmpty())
                out.add("%s grew less than linearly from N=%d to N=%d: a fixed number of workers takes the requests in turns."
                        .formatted(join(between), first, last));
        } else {
            // CPU work grows with N on every model; what differs is whether it is spread over the cores.
            int cores = Runtime.getRuntime().availableProcessors();
            var serial = new ArrayList<String>();
            var spreadOut = new ArrayList<String>();
            for (var e : byModel.entrySet()) {
                double one = at(e.getValue(), first) / first;
                (at(e.getValue(), last) >= 0.75 * last * one ? serial : spreadOut).add(e.getKey());
            }
            if (!serial.isEmpty())
                out.add("%s took about %d times one request's time for %d requests: %s one request at a time, on one core."
                        .formatted(join(serial), last / first, last, serial.size() == 1 ? "it computes" : "they compute"));
            if (!spreadOut.isEmpty())
                out.add("%s took clearly less than that: %s the requests over the %d cores.".formatted(join(spreadOut),
                        spreadOut.size() == 1 ? "it spreads" : "they spread", cores));
            double oneBest = figures.stream().filter(f -> f.concurrency() == first).mapToDouble(Figure::totalMs).min().orElse(0) / first;
            double bound = last * oneBest / cores;
            out.add((best.totalMs() >= 0.9 * bound
                    ? "No model beats the core count: the fastest at N=%d, %s %s, took %.0f ms, against %.0f ms if %d requests of about %.0f ms each shared %d cores perfectly."
                    : "The fastest at N=%d, %s %s, took %.0f ms, under the %.0f ms that %d requests of about %.0f ms each need on %d cores: requests this short are mostly noise (raise --cpu-n).")
                    .formatted(last, best.server(), best.mode(), best.totalMs(), bound, last, oneBest, cores));
        }
        if (out.size() < 2)
            out.add("At N=%d the fastest was %s %s (%.0f ms) and the slowest %s %s (%.0f ms).".formatted(last, best.server(),
                    best.mode(), best.totalMs(), worst.server(), worst.mode(), worst.totalMs()));
        return out;
    }

    static double at(List<Figure> fs, int n) {
        return fs.stream().filter(f -> f.concurrency() == n).mapToDouble(Figure::totalMs).findFirst().orElse(Double.NaN);
    }
}
