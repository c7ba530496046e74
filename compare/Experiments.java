// The experiments, each seed's lesson as one command that starts the servers itself, prints a table, and draws the chart:
//   architectures  seed 002: total time of N simultaneous one-shot /io and /cpu requests, per server model;
//   echo-race      seed 004: 10,000 connections echoing 100 bytes, every EchoServer mode (and the C epoll pair);
//   prime-race     seed 001: LongPrime, Echo, SmallPrime on three connections: who answers first, per model.
// --html FILE writes one self-contained page (tables, inline SVG drawn by Html.java, machine and command in the footer),
// --json FILE every figure, --svg DIR each chart as its own file. The servers run unpinned on purpose: how a
// model uses every core is part of what these experiments show.

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

import java.io.*;
import java.net.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.*;
import java.util.concurrent.*;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

final class Experiments {
    private Experiments() {}

    /** The report files every experiment can write (`compare` has its own --json and --html). */
    static final class ReportFiles {
        @Option(names = "--html", paramLabel = "FILE", description = "Write one self-contained HTML report (tables, SVG charts; opens offline, prints well).")
        Path html;

        @Option(names = "--json", paramLabel = "FILE", description = "Write every figure as JSON.")
        Path json;

        @Option(names = "--svg", paramLabel = "DIR", description = "Write each chart as its own SVG file into DIR.")
        Path svgDir;

        /** Writes what was asked for, and says where on stderr; a file that cannot be written is one Error: line. */
        void write(ExperimentReport report, Object results, Map<String, Object> settings) {
            try {
                writeAll(report, results, settings);
            } catch (IOException | UncheckedIOException e) {
                throw Util.Failure.of("cannot write the report: " + e.getClass().getSimpleName() + " " + e.getMessage() + " (check the path given to --html, --json or --svg)");
            }
        }

        private void writeAll(ExperimentReport report, Object results, Map<String, Object> settings) throws IOException {
            if (json != null) {
                var doc = new LinkedHashMap<String, Object>();
                doc.put("experiment", report.experiment);
                doc.put("command", report.command);
                doc.put("machine", report.machine);
                doc.put("settings", settings);
                doc.put("results", results);
                doc.put("notes", report.notes);
                doc.put("charts", report.charts.stream().map(c -> Map.of("id", c.id(), "title", c.title(),
                        "series", c.series().stream().map(s -> Map.of("name", s.name(), "points", s.points().size())).toList())).toList());
                Util.writeFile(json, JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build().writeValueAsString(doc));
                Util.Progress.say("JSON: " + json.toAbsolutePath());
            }
            if (html != null) {
                Util.writeFile(html, report.html());
                Util.Progress.say("HTML report: " + html.toAbsolutePath());
            }
            if (svgDir != null) {
                Files.createDirectories(svgDir);
                for (var c : report.charts) {
                    Path f = svgDir.resolve(report.experiment + "-" + c.id() + ".svg");
                    Util.writeFile(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + c.svg());
                    Util.Progress.say("SVG: " + f.toAbsolutePath());
                }
            }
        }
    }

    /** What every experiment shares: the report files, the command line, progress, and the servers it started. */
    abstract static class Experiment implements Callable<Integer> {
        @CommandLine.Mixin
        ReportFiles files = new ReportFiles();

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override public final Integer call() throws Exception {
            Sides.Procs.installShutdownHook();
            var report = new ExperimentReport(spec.name(), Util.commandLine());
            try {
                run(report);
            } finally {
                Sides.Procs.stopAll();
            }
            var m = report.machineAtStart;
            double load = Double.parseDouble(m.loadAverage().split(" ")[0]);
            if (load > m.cores())
                report.note("The load average was %s on %d cores when this started: other work shared the CPU, so these figures are noisy (the CPU-bound ones most). Run it on a quiet machine for figures to keep."
                        .formatted(m.loadAverage().split(" ")[0], m.cores()));
            System.out.print(report.text());
            System.out.flush();
            files.write(report, report.results, report.settings);
            return report.exitCode;
        }

        abstract void run(ExperimentReport report) throws Exception;

        /** Starts one of our servers (its own JVM, JBang's launch excluded) and waits for its ready line. */
        static Sides.Proc startServer(String name, Sides.Script script, List<String> args) throws Exception {
            var proc = Sides.Procs.start(name, Sides.Launch.direct(script, Sides.Launch.jvmOptions(List.of()), args), false);
            proc.awaitReady(Duration.ofSeconds(180));
            return proc;
        }

        /** "a,b:c" split at commas, blanks dropped. */
        static List<String> list(String csv) {
            return Arrays.stream(csv.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
        }
    }

    // ---------------------------------------------------------------- architectures (seed 002)

    @Command(name = "architectures", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
            description = {"Seed 002's experiment: every server model x /io and /cpu x N simultaneous one-shot requests "
                    + "(LoadTest's burst). Prints the total time per N as a table per task, with what the figures show; "
                    + "--html draws a line chart per task (x: N, y: total time, one line per model).",
                    "Default run: about a minute and a half on 2 cores."})
    static final class Architectures extends Experiment {
        /** The modes of each HTTP server, simplest first (the servers' own Mode enums; tests/ExperimentsTest.java checks they match). */
        static final Map<Sides.Script, List<String>> MODES = Map.of(
                Sides.Script.SIMPLE, List.of("single", "pool", "virtual"),
                Sides.Script.THREADED, List.of("sequential", "thread", "pool", "virtual", "nio", "processes"));

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

        @Option(names = "--timeout", converter = Util.DurationConverter.class, description = "How long one request may take before it counts as failed.")
        Duration timeout = Duration.ofSeconds(120);

        /** One figure: N simultaneous requests of one task to one server. */
        record Figure(String server, String mode, String task, String path, int concurrency, double totalMs, int failed) {}

        @Override void run(ExperimentReport report) throws Exception {
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
                    for (String task : taskList) {
                        String path = task.equals("io") ? "/io?ms=" + ioMs : "/cpu?n=" + cpuN;
                        for (int n : ns) {
                            var r = LoadTest.burst("127.0.0.1", port, path, n, timeout, null);
                            int failed = (int) r.requests().stream().filter(q -> q.status() != 200).count();
                            figures.add(new Figure(s.script().serverName, s.mode(), task, path, n, r.totalMs(), failed));
                            Util.Progress.say("architectures: %s %s x %d: %.0f ms%s".formatted(label, path, n, r.totalMs(),
                                    failed > 0 ? ", " + failed + " failed (" + firstError(r) + ")" : ""));
                        }
                    }
                } finally {
                    proc.stop();
                }
            }
            report.title = "Server architectures: N simultaneous requests";
            report.intro = ("Each server model gets N simultaneous one-shot requests (a new connection each, all released "
                    + "at once, LoadTest's burst) and the table shows the total time until the last answer, in ms. "
                    + "/io?ms=%d waits %d ms without using the CPU (a slow database); /cpu?n=%d counts primes, "
                    + "about the same time of pure CPU work. Each server is started alone, in its own JVM (%s), "
                    + "warmed up with 8 unmeasured requests.").formatted(ioMs, ioMs, cpuN, String.join(" ", Sides.Launch.DEFAULT_JVM_OPTIONS));
            for (String task : taskList) {
                var of = figures.stream().filter(f -> f.task().equals(task)).toList();
                String path = of.getFirst().path();
                var table = new Verdicts.Table(concat("server", ns.stream().map(n -> "N=" + n).toList()).toArray(String[]::new));
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
            report.data(figures, Map.of("servers", chosen.stream().map(s -> s.script().command + ":" + s.mode()).toList(),
                    "concurrency", ns, "tasks", taskList, "ioMs", ioMs, "cpuN", cpuN, "jvmOptions", Sides.Launch.DEFAULT_JVM_OPTIONS));
        }

        static String firstError(LoadTest.BurstResult r) {
            return r.requests().stream().filter(q -> q.status() != 200)
                    .map(q -> q.error() != null ? q.error() : "status " + q.status()).findFirst().orElse("");
        }

        record Chosen(Sides.Script script, String mode) {}

        static List<Chosen> parseServers(String csv) {
            var out = new ArrayList<Chosen>();
            for (String item : list(csv)) {
                String[] nm = item.split(":", 2);
                Sides.Script script = Arrays.stream(Sides.Script.values()).filter(s -> s.command.equals(nm[0]) && MODES.containsKey(s)).findFirst()
                        .orElseThrow(() -> Util.Failure.usage("--servers: unknown server " + nm[0] + " (simple, threaded, simple:MODE, threaded:MODE)"));
                var modes = MODES.get(script);
                if (nm.length == 1) {
                    modes.forEach(m -> out.add(new Chosen(script, m)));
                } else if (modes.contains(nm[1])) {
                    out.add(new Chosen(script, nm[1]));
                } else {
                    throw Util.Failure.usage("--servers: " + script.serverName + " has no mode " + nm[1] + " (" + String.join(", ", modes) + ")");
                }
            }
            if (out.isEmpty()) throw Util.Failure.usage("--servers: none given");
            return out.stream().distinct().toList();
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

        static String join(List<String> names) {
            if (names.size() == 1) return names.getFirst();
            return String.join(", ", names.subList(0, names.size() - 1)) + " and " + names.getLast();
        }
    }

    // ---------------------------------------------------------------- echo-race (seed 004)

    @Command(name = "echo-race", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
            description = {"Seed 004's race: N connections at once, each echoing S random bytes, against every EchoServer "
                    + "mode, with EchoClient's engine (and the C epoll server and client from tests/c when gcc is present). "
                    + "Total time, p99 latency, the server's CPU time and failed connections, as a table and a bar chart."})
    static final class EchoRace extends Experiment {
        @Option(names = {"-n", "--connections"}, description = "Connections per round, all at once.")
        int connections = 10_000;

        @Option(names = {"-s", "--size"}, description = "Random bytes sent, and expected back, on each connection.")
        int size = 100;

        @Option(names = "--modes", paramLabel = "LIST", description = "EchoServer modes, comma-separated.")
        String modes = "thread,nio,async,virtual";

        @Option(names = "--client-mode", description = "How EchoClient waits: ${COMPLETION-CANDIDATES} (virtual: a virtual thread per connection; nio: one Selector).")
        EchoClient.Mode clientMode = EchoClient.Mode.nio;

        @Option(names = "--warmup", description = "Unmeasured rounds against each server first (the JIT compiles its hot path).")
        int warmup = 1;

        @Option(names = "--no-c", description = "Leave out the C epoll server and client even when gcc is present.")
        boolean noC;

        @Option(names = "--timeout", converter = Util.DurationConverter.class, description = "How long a connect, or a wait for the echo, may take.")
        Duration timeout = Duration.ofSeconds(10);

        /** One measured round: a client against a server. Latency in ms, server CPU in ms (-1: not measurable). */
        record Round(String server, String client, int connections, int size, double totalMs, double p99Ms, double serverCpuMs,
                     long failed, Map<String, Long> failures) {}

        static final List<String> SERVER_MODES = List.of("thread", "nio", "async", "virtual");

        private int nextSource = 10;

        @Override void run(ExperimentReport report) throws Exception {
            var modeList = list(modes);
            for (String m : modeList) if (!SERVER_MODES.contains(m)) throw Util.Failure.usage("--modes: EchoServer has no mode " + m + " (" + String.join(", ", SERVER_MODES) + ")");
            if (modeList.isEmpty()) throw Util.Failure.usage("--modes: none given");
            if (connections < 1 || connections > 60_000) throw Util.Failure.usage("-n: " + connections + " (1..60000)");
            if (size < 1 || size > 1 << 20) throw Util.Failure.usage("-s: " + size + " (1..1048576 bytes)");
            if (warmup < 0 || warmup > 10) throw Util.Failure.usage("--warmup: " + warmup + " (0..10)");
            var echoMode = clientMode;
            Path cDir = noC ? null : compileC();
            try {
                var servers = new ArrayList<String>();
                if (cDir != null) servers.add("C epoll");
                modeList.forEach(m -> servers.add("EchoServer " + m));
                String javaClient = "EchoClient " + echoMode;
                var clients = new ArrayList<>(List.of(javaClient));
                if (cDir != null) clients.add("C epoll");
                var rounds = new ArrayList<Round>();
                for (String server : servers) {
                    Util.Progress.say("echo-race: starting " + server);
                    var proc = server.equals("C epoll")
                            ? startC(cDir)
                            : startServer("echo:" + server, Sides.Script.ECHO, List.of("-p", "0", "-q", "-m", server.substring("EchoServer ".length())));
                    try {
                        int port = proc.port();
                        for (int w = 0; w < warmup; w++) javaRound(server, javaClient, echoMode, port, proc);
                        for (String client : clients) {
                            var r = client.equals("C epoll") ? cRound(server, cDir, port, proc) : javaRound(server, client, echoMode, port, proc);
                            rounds.add(r);
                            Util.Progress.say("echo-race: %s -> %s: %.1f ms, p99 %.1f ms, server CPU %s, %d failed".formatted(client, server,
                                    r.totalMs(), r.p99Ms(), r.serverCpuMs() < 0 ? "-" : "%.0f ms".formatted(r.serverCpuMs()), r.failed()));
                        }
                    } finally {
                        proc.stop();
                    }
                }
                report.title = "Echo race: %,d connections x %d bytes".formatted(connections, size);
                report.intro = ("Every client opens %,d connections at once, sends %d random bytes on each, reads them back, "
                        + "checks them byte for byte and closes. Total time runs from the first connect to the last close, "
                        + "measured inside the client (no JVM start-up in it); p99 is the latency of one connection, "
                        + "connect to verified echo; server CPU is the server process's user+system time during the "
                        + "round (from /proc, 10 ms resolution). Each server ran %d unmeasured round(s) first. Every "
                        + "round connects from a fresh loopback address (127.0.0.10 and up), so no round inherits the "
                        + "ports an earlier one left in TIME_WAIT.").formatted(connections, size, warmup)
                        + (cDir == null ? (noC ? " The C pair was left out (--no-c)." : " gcc was not found, so the C epoll pair from tests/c is not in the race.") : "");
                var table = new Verdicts.Table("server", "client", "total ms", "p99 ms", "server CPU ms", "failed");
                for (var r : rounds) {
                    table.row(r.failed() > 0 ? "!" : null, List.of(r.server(), r.client(), "%.1f".formatted(r.totalMs()),
                            "%.1f".formatted(r.p99Ms()), r.serverCpuMs() < 0 ? "-" : "%.0f".formatted(r.serverCpuMs()),
                            r.failed() + (r.failures().isEmpty() ? "" : " " + r.failures())));
                }
                var total = bars(rounds, servers, clients, Round::totalMs);
                var p99 = bars(rounds, servers, clients, Round::p99Ms);
                report.section("Total time, p99 latency, server CPU, failed connections", table, echoSummary(rounds, javaClient), List.of(
                        new Html.Chart("total", "Total time", Html.Svg.barChart("Echo race: total time of %,d connections (ms)".formatted(connections),
                                report.command, "total time (ms)", servers, total), total),
                        new Html.Chart("p99", "p99 latency", Html.Svg.barChart("Echo race: p99 latency of one connection (ms)",
                                report.command, "p99 latency (ms)", servers, p99), p99)));
                if (rounds.stream().anyMatch(r -> r.failed() > 0)) {
                    report.note("! marks a round with failed connections (kinds in brackets): its times are not comparable.");
                    report.exitCode = 1;
                }
                report.data(rounds, Map.of("connections", connections, "size", size, "servers", servers, "clients", clients,
                        "warmupRounds", warmup, "jvmOptions", Sides.Launch.DEFAULT_JVM_OPTIONS));
            } finally {
                if (cDir != null) deleteTree(cDir);
            }
        }

        /** One bar series per client, one bar per server it raced. */
        static List<Html.Svg.Series> bars(List<Round> rounds, List<String> servers, List<String> clients, java.util.function.ToDoubleFunction<Round> value) {
            var out = new ArrayList<Html.Svg.Series>();
            for (String c : clients) {
                var points = new ArrayList<Html.Svg.Point>();
                for (int i = 0; i < servers.size(); i++) {
                    String s = servers.get(i);
                    int x = i;
                    rounds.stream().filter(r -> r.server().equals(s) && r.client().equals(c)).findFirst()
                            .ifPresent(r -> points.add(new Html.Svg.Point(x, value.applyAsDouble(r))));
                }
                out.add(new Html.Svg.Series(c, points));
            }
            return out;
        }

        static List<String> echoSummary(List<Round> rounds, String javaClient) {
            var out = new ArrayList<String>();
            var java = rounds.stream().filter(r -> r.client().equals(javaClient) && r.failed() == 0).sorted(Comparator.comparingDouble(Round::totalMs)).toList();
            if (java.size() >= 2) {
                out.add("Against %s the fastest server was %s (%.0f ms), the slowest %s (%.0f ms, x%.2f).".formatted(javaClient,
                        java.getFirst().server(), java.getFirst().totalMs(), java.getLast().server(), java.getLast().totalMs(),
                        java.getLast().totalMs() / java.getFirst().totalMs()));
            }
            var cpu = rounds.stream().filter(r -> r.serverCpuMs() >= 0 && r.client().equals(javaClient)).sorted(Comparator.comparingDouble(Round::serverCpuMs)).toList();
            if (cpu.size() >= 2) {
                out.add("The cheapest server in CPU was %s (%.0f ms of CPU for the round), the dearest %s (%.0f ms): "
                        .formatted(cpu.getFirst().server(), cpu.getFirst().serverCpuMs(), cpu.getLast().server(), cpu.getLast().serverCpuMs())
                        + "on a 2-core machine the client competes for the same cores, so CPU is the fairer figure.");
            }
            long failed = rounds.stream().mapToLong(Round::failed).sum();
            out.add(failed == 0 ? "No connection failed." : failed + " connections failed: see the table for the kinds.");
            return out;
        }

        /** A measured round of EchoClient's engine, in this JVM, from the next fresh loopback address. */
        Round javaRound(String server, String client, EchoClient.Mode mode, int port, Sides.Proc proc) throws Exception {
            var config = new EchoClient.Config(new InetSocketAddress("127.0.0.1", port), InetAddress.getByName(nextSource()),
                    connections, size, connections, (int) timeout.toMillis(), mode, null);
            double cpuBefore = Verdicts.Sample.cpuMs(proc);
            var r = EchoClient.run(config);
            double cpuAfter = Verdicts.Sample.cpuMs(proc);
            return new Round(server, client, connections, size, r.totalMs(), r.latencyUs().p99() / 1000, Double.isNaN(cpuBefore) ? -1 : cpuAfter - cpuBefore,
                    r.failed(), r.failures());
        }

        private static final Pattern C_RESULT = Pattern.compile("total time = ([0-9.]+) ms.* p99 = ([0-9.]+) µs.*failed = (\\d+)(.*)");

        /** A measured round of the C epoll client (tests/c/echo_client.c). */
        Round cRound(String server, Path cDir, int port, Sides.Proc proc) throws Exception {
            var cmd = List.of(cDir.resolve("echo_client").toString(), "-p", String.valueOf(port), "-n", String.valueOf(connections),
                    "-s", String.valueOf(size), "-t", String.valueOf(timeout.toMillis()), "-S", nextSource());
            double cpuBefore = Verdicts.Sample.cpuMs(proc);
            var p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            Sides.Procs.track(p);
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            double cpuAfter = Verdicts.Sample.cpuMs(proc);
            Matcher m = C_RESULT.matcher(out);
            if (!m.find()) throw Util.Failure.of("the C echo client printed no result: " + out.strip());
            var failures = new LinkedHashMap<String, Long>();
            for (String kind : m.group(4).split(",")) {
                var km = Pattern.compile("\\s*(.+?) = (\\d+)").matcher(kind);
                if (km.matches()) failures.put(km.group(1), Long.parseLong(km.group(2)));
            }
            return new Round(server, "C epoll", connections, size, Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2)) / 1000,
                    Double.isNaN(cpuBefore) ? -1 : cpuAfter - cpuBefore, Long.parseLong(m.group(3)), failures);
        }

        /** 127.0.0.10, .11, ...: a fresh loopback address per round (127.0.0.0/8 is all loopback). */
        String nextSource() {
            if (nextSource > 254) throw Util.Failure.of("out of fresh loopback source addresses (fewer --modes or --warmup)");
            return "127.0.0." + nextSource++;
        }

        /** The C pair compiled with gcc -O2 into a temporary folder, or null when gcc is not there. */
        static Path compileC() throws Exception {
            if (!onPath("gcc")) return null;
            Path dir = Files.createTempDirectory("echo-race-c-");
            for (String name : List.of("echo_server", "echo_client")) {
                var p = new ProcessBuilder("gcc", "-O2", "-o", dir.resolve(name).toString(), Sides.Home.dir().resolve("tests/c/" + name + ".c").toString())
                        .redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (p.waitFor() != 0) {
                    deleteTree(dir);
                    throw Util.Failure.of("gcc could not compile tests/c/" + name + ".c:\n" + out.strip());
                }
            }
            return dir;
        }

        static Sides.Proc startC(Path cDir) throws Exception {
            var proc = Sides.Procs.start("c-epoll", new Sides.Launch(List.of(cDir.resolve("echo_server").toString(), "-p", "0"), false), false);
            proc.awaitReady(Duration.ofSeconds(30));
            return proc;
        }
    }

    // ---------------------------------------------------------------- prime-race (seed 001)

    @Command(name = "prime-race", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
            description = {"Seed 001's demonstration, per model: PrimeEchoServer's demo client opens three connections, "
                    + "LongPrime (seconds of trial division) first, then Echo and SmallPrime. When each answer arrived, as "
                    + "a table and a timeline per model: where Echo waits for LongPrime, the model blocks."})
    static final class PrimeRace extends Experiment {
        static final List<String> MODES = List.of("sequential", "thread", "pool", "nio", "async", "virtual");
        static final List<String> DEFAULT_RUNS = List.of("sequential", "thread", "pool", "nio", "async", "virtual",
                "nio:no-offload", "async:no-offload", "virtual:no-offload");

        @Option(names = "--modes", paramLabel = "LIST", description = "Comma-separated MODE or MODE:no-offload (prime checks on the thread that read the request).")
        String modes = String.join(",", DEFAULT_RUNS);

        @Option(names = "--timeout", description = "Seconds the demo client waits for an answer.")
        int timeoutS = 120;

        /** One answer as the demo client printed it: milliseconds from the client's start to its arrival. */
        record Arrival(String name, String payload, String reply, long ms, int order) {}

        /** One model's run; blocked when Echo came back later than half of LongPrime's time. */
        record Run(String mode, boolean offload, boolean noOffloadFlag, List<Arrival> arrivals, boolean blocked) {
            String label() { return mode + (noOffloadFlag ? " --no-offload" : ""); }
        }

        private static final Pattern LINE = Pattern.compile("^(\\w+)\\s+(\\S+)\\s+->\\s+(.*?)\\s+(\\d+) ms$");

        @Override void run(ExperimentReport report) throws Exception {
            var specs = list(modes);
            if (specs.isEmpty()) throw Util.Failure.usage("--modes: none given");
            for (String s : specs) {
                String[] mo = s.split(":", 2);
                if (!MODES.contains(mo[0]) || (mo.length == 2 && !mo[1].equals("no-offload")))
                    throw Util.Failure.usage("--modes: " + s + " (MODE or MODE:no-offload; modes: " + String.join(", ", MODES) + ")");
            }
            if (timeoutS < 1) throw Util.Failure.usage("--timeout: " + timeoutS + " (at least 1 second)");
            var runs = new ArrayList<Run>();
            for (String s : specs) {
                String[] mo = s.split(":", 2);
                boolean offload = mo.length == 1 ? !List.of("sequential", "thread", "pool").contains(mo[0]) : false;
                var args = new ArrayList<>(List.of("-p", "0", "-q", "-m", mo[0]));
                if (mo.length == 2) args.add("--no-offload");
                Util.Progress.say("prime-race: starting PrimeEchoServer -m " + mo[0] + (mo.length == 2 ? " --no-offload" : ""));
                var server = startServer("prime:" + s, Sides.Script.PRIME, args);
                try {
                    var client = Sides.Procs.start("prime-client", Sides.Launch.direct(Sides.Script.PRIME, Sides.Launch.jvmOptions(List.of()),
                            List.of("client", "-p", String.valueOf(server.port()), "--timeout", String.valueOf(timeoutS))), false);
                    int exit = client.waitForExit();
                    awaitOutputEnd(client);
                    client.stop();
                    var arrivals = new ArrayList<Arrival>();
                    List<String> lines;
                    synchronized (client.last) {
                        lines = new ArrayList<>(client.last);
                    }
                    var printed = new ArrayList<Matcher>();
                    for (String l : lines) {
                        Matcher m = LINE.matcher(l.strip());
                        if (m.matches()) printed.add(m);
                    }
                    if (exit != 0 || printed.size() != 3) throw Util.Failure.of("the demo client against -m " + s + " ended with exit " + exit + client.lastLines(10));
                    // Ordered by the time each answer arrived (the client prints two answers that arrive together
                    // in either order).
                    printed.sort(Comparator.comparingLong(m -> Long.parseLong(m.group(4))));
                    for (var m : printed) arrivals.add(new Arrival(m.group(1), m.group(2), m.group(3), Long.parseLong(m.group(4)), arrivals.size() + 1));
                    // Blocked: Echo, which needs no computation, waited for most of LongPrime's (on a model that does not
                    // block it comes back in milliseconds; on one that blocks, right around LongPrime's answer).
                    var run = new Run(mo[0], offload, mo.length == 2, arrivals, arrivalOf(arrivals, "Echo").ms() * 2 > arrivalOf(arrivals, "LongPrime").ms());
                    runs.add(run);
                    Util.Progress.say("prime-race: %s: %s".formatted(run.label(), arrivals.stream().map(a -> a.name() + " " + a.ms() + " ms").collect(Collectors.joining(", "))));
                } finally {
                    server.stop();
                }
            }
            report.title = "Prime race: does a long computation block the others?";
            report.intro = "For each model, PrimeEchoServer's demo client (./jbang PrimeEchoServer.java client) opens three "
                    + "connections: LongPrime (P2305843009213693951, seconds of deliberately slow trial division) first, then, "
                    + "once it is sent, Echo and SmallPrime (P7) at once. Each time is from the client's start to that answer. "
                    + "A model that does not block answers Echo and SmallPrime at once and LongPrime last; one that blocks "
                    + "makes them wait for LongPrime.";
            var table = new Verdicts.Table("model", "offload", "LongPrime ms", "Echo ms", "SmallPrime ms", "order of arrival", "Echo waited?");
            var charts = new ArrayList<Html.Chart>();
            double maxMs = runs.stream().flatMap(r -> r.arrivals().stream()).mapToLong(Arrival::ms).max().orElse(1);
            for (var r : runs) {
                table.row(null, List.of(r.label(), r.offload() ? "on" : "off", ms(r, "LongPrime"), ms(r, "Echo"), ms(r, "SmallPrime"),
                        r.arrivals().stream().map(Arrival::name).collect(Collectors.joining(" > ")), r.blocked() ? "yes: blocked" : "no"));
                var series = List.of(new Html.Svg.Series(r.label(), r.arrivals().stream()
                        .sorted(Comparator.comparingInt(a -> Client.ORDER.indexOf(a.name())))
                        .map(a -> new Html.Svg.Point(Client.ORDER.indexOf(a.name()), a.ms())).toList()));
                String id = r.mode() + (r.noOffloadFlag() ? "-no-offload" : "");
                charts.add(new Html.Chart(id, r.label(), Html.Svg.timeline("PrimeEchoServer -m " + r.label() + (r.blocked() ? ": blocked" : ": not blocked"),
                        report.command, Client.ORDER, series.getFirst(), maxMs), series));
            }
            var blocked = runs.stream().filter(Run::blocked).map(Run::label).toList();
            var free = runs.stream().filter(r -> !r.blocked()).map(Run::label).toList();
            var summary = new ArrayList<String>();
            if (!blocked.isEmpty())
                summary.add("Blocked: " + Architectures.join(blocked) + ". Echo came back only after LongPrime, because the one "
                        + "thread that serves every connection (or the event loop) was busy dividing.");
            if (!free.isEmpty())
                summary.add("Not blocked: " + Architectures.join(free) + ". Echo and SmallPrime came back at once, LongPrime last: "
                        + "the long check ran on a thread of its own (a connection's thread, a pool worker, or the prime pool).");
            report.section("When each answer arrived (ms from the client's start)", table, summary, charts);
            report.data(runs, Map.of("runs", specs, "longPrime", "P2305843009213693951", "jvmOptions", Sides.Launch.DEFAULT_JVM_OPTIONS));
        }

        /** Waits until Proc's reader has taken the last line of a process that printed no ready line (it has ended). */
        static void awaitOutputEnd(Sides.Proc p) throws InterruptedException {
            try {
                p.ready.get(10, TimeUnit.SECONDS);
            } catch (ExecutionException endOfOutput) {
                // the reader completes `ready` exceptionally once the output has ended: every line is in
            } catch (TimeoutException e) {
                throw Util.Failure.of(p.name + ": its output did not end 10 s after it exited");
            }
        }

        /** The demo client's three jobs in the order it sends them. */
        static final class Client {
            static final List<String> ORDER = List.of("LongPrime", "Echo", "SmallPrime");
        }

        static Arrival arrivalOf(List<Arrival> arrivals, String name) {
            return arrivals.stream().filter(a -> a.name().equals(name)).findFirst()
                    .orElseThrow(() -> Util.Failure.of("the demo client printed no " + name + " line"));
        }

        static String ms(Run r, String name) { return String.valueOf(arrivalOf(r.arrivals(), name).ms()); }
    }

    /** An experiment's findings: a page of tables, sentences and charts, and every figure with its settings for --json. */
    static final class ExperimentReport extends Html.Page {
        final String experiment;
        final Verdicts.Machine machineAtStart = Verdicts.Machine.now();
        final Map<String, Object> machine = Map.of("date", machineAtStart.at().toString(), "cores", machineAtStart.cores(),
                "memory_mb", machineAtStart.memoryMb(), "kernel", machineAtStart.kernel(), "load_average", machineAtStart.loadAverage(),
                "jdk", machineAtStart.jdk());
        int exitCode = 0;

        ExperimentReport(String experiment, String command) {
            super(command);
            this.experiment = experiment;
            var m = machineAtStart;
            footer = "%s; machine: %d cores, %.1f GiB, %s; JDK %s; load average %s at start; servers unpinned, JVM options %s. Command: %s".formatted(
                    DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'").withZone(ZoneOffset.UTC).format(m.at()), m.cores(),
                    m.memoryMb() / 1024.0, m.kernel(), m.jdk(), m.loadAverage(), String.join(" ", Sides.Launch.DEFAULT_JVM_OPTIONS), command);
        }

        /** What --json writes besides the machine and the command: every figure, and the settings that made them. */
        Object results = List.of();
        Map<String, Object> settings = Map.of();

        void data(Object results, Map<String, Object> settings) {
            this.results = results;
            this.settings = settings;
        }
    }

    static List<String> concat(String first, List<String> rest) {
        var all = new ArrayList<String>();
        all.add(first);
        all.addAll(rest);
        return all;
    }

    static boolean onPath(String command) {
        return Arrays.stream(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
                .anyMatch(d -> !d.isEmpty() && Files.isExecutable(Path.of(d, command)));
    }

    static void deleteTree(Path root) {
        try (var files = Files.walk(root)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.err.println("[compare] could not delete " + root + ": " + e.getMessage());
        }
    }
}
