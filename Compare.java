///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//DEPS info.picocli:picocli:4.7.7
//DEPS tools.jackson.core:jackson-databind:3.3.0
//DEPS org.hdrhistogram:HdrHistogram:2.2.2
//SOURCES LoadTest.java
//SOURCES EchoClient.java
//DESCRIPTION Starts two servers, checks them side by side, races them fairly and prints an A/B table a reader can trust.

// Compare: the toolkit's main command. It starts servers as real processes (each in its own process group, all
// stopped on success, failure or Ctrl-C), checks the HTTP contract against each, then races them with LoadTest's
// engine: runs of A and B alternate, every figure is a median with its spread, every B/A ratio carries a 95%
// interval, and latency is compared at the same offered load (open loop, corrected for coordinated omission).
//   ./jbang Compare.java compare                       SimpleHttpServer vs ThreadedHttpServer (the default)
//   ./jbang Compare.java compare --a threaded:pool --b threaded:nio --quick
//   ./jbang Compare.java compare --b 'cmd:python3 -m http.server {port} --bind 127.0.0.1 --directory {root}'
//   ./jbang Compare.java test simple threaded:nio http://127.0.0.1:8000
//   ./jbang Compare.java simple --watch -m pool        serve, and restart whenever the script is saved
//   ./jbang Compare.java both                          Simple on :8000 and Threaded on :3000 until Ctrl-C
// What to watch: the `≈ 1 (within noise)` rows (no winner there), the saturation warning (the generator was the
// limit, not the server), and the footer (same JVM options for both, CPU pinning, machine and load).

import com.sun.management.OperatingSystemMXBean;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

import java.io.*;
import java.lang.management.ManagementFactory;
import java.net.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.zip.GZIPInputStream;

@Command(name = "Compare", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        version = "Compare 1.0",
        description = {"Starts servers, checks them side by side and races them fairly. The default subcommand is `compare`.",
                "A SIDE is simple[:MODE], threaded[:MODE] (started by Compare through ./jbang), http://HOST:PORT (already "
                        + "running) or cmd:COMMAND (any command with {port} in it; {root} is the contract's web root)."},
        subcommands = {
                Compare.Simple.class, Compare.Threaded.class, Compare.Prime.class, Compare.Echo.class,
                Compare.Both.class, Compare.Test.class, Compare.Race.class,
                // ---- Experiments (issue 11) ----
                // `echo` and `prime` start those servers in the foreground (issue 9), so the experiments are
                // `echo-race` and `prime-race`.
                Compare.Architectures.class, Compare.EchoRace.class, Compare.PrimeRace.class,
                // ---- end of Experiments (issue 11) ----
        })
public class Compare implements Callable<Integer> {

    public static void main(String... args) {
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit code: 0 done, 1 a side or a check failed, 2 a usage error. */
    static int execute(String... args) {
        var cli = new CommandLine(new Compare());
        for (String fg : List.of("simple", "threaded", "prime", "echo")) {
            cli.getSubcommands().get(fg).setUnmatchedOptionsArePositionalParams(true);
        }
        cli.setParameterExceptionHandler((e, a) -> {
            System.err.println("Error: " + e.getMessage() + " (see --help)");
            return 2;
        });
        cli.setExecutionExceptionHandler((e, c, p) -> {
            if (e instanceof Failure f) {
                System.err.println("Error: " + f.getMessage());
                return f.exitCode;
            }
            throw e;
        });
        return cli.execute(withDefaultSubcommand(args));
    }

    /** `Compare` and `Compare --quick ...` mean `Compare compare ...`. */
    static String[] withDefaultSubcommand(String[] args) {
        boolean noSubcommand = args.length == 0
                || (args[0].startsWith("-") && !List.of("-h", "--help", "-V", "--version").contains(args[0]));
        if (!noSubcommand) return args;
        var all = new ArrayList<String>();
        all.add("compare");
        all.addAll(List.of(args));
        return all.toArray(String[]::new);
    }

    @Override public Integer call() {
        return new Race().call();
    }

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

    // ================================================================ the foreground servers: simple, threaded, prime, echo

    /** The project's servers Compare can start, with the port the seed used for each. */
    enum Script {
        SIMPLE("simple", "SimpleHttpServer.java", "SimpleHttpServer", 8000, true),
        THREADED("threaded", "ThreadedHttpServer.java", "ThreadedHttpServer", 3000, true),
        PRIME("prime", "PrimeEchoServer.java", "PrimeEchoServer", 7878, false),
        ECHO("echo", "EchoServer.java", "EchoServer", 8080, false);

        final String command, file, serverName;
        final int defaultPort;
        final boolean http;

        Script(String command, String file, String serverName, int defaultPort, boolean http) {
            this.command = command;
            this.file = file;
            this.serverName = serverName;
            this.defaultPort = defaultPort;
            this.http = http;
        }

        Path path() { return Home.dir().resolve(file); }
    }

    /**
     * `simple|threaded|prime|echo [--watch] [ARGS...]`: the server in the foreground, its arguments passed through
     * (seed: `main.py python`). With --watch, a save of the script or of a file it pulls in restarts it; an edit that
     * does not compile prints the compiler's error and the watch goes on.
     */
    abstract static class Foreground implements Callable<Integer> {
        @Option(names = "--watch", description = "Restart the server whenever its script (or a file it pulls in) is saved.")
        boolean watch;

        @Parameters(paramLabel = "ARGS", description = "Passed to the server as they are (use -- before an option Compare also has, e.g. -- --help).")
        List<String> args = new ArrayList<>();

        abstract Script script();

        @Override public Integer call() throws Exception {
            Procs.installShutdownHook();
            return watch ? Watch.loop(script(), args) : Procs.foreground(script(), args).waitForExit();
        }
    }

    @Command(name = "simple", mixinStandardHelpOptions = true, description = "Start SimpleHttpServer in the foreground (ARGS passed through).")
    static final class Simple extends Foreground { @Override Script script() { return Script.SIMPLE; } }

    @Command(name = "threaded", mixinStandardHelpOptions = true, description = "Start ThreadedHttpServer in the foreground (ARGS passed through).")
    static final class Threaded extends Foreground { @Override Script script() { return Script.THREADED; } }

    @Command(name = "prime", mixinStandardHelpOptions = true, description = "Start PrimeEchoServer in the foreground (ARGS passed through).")
    static final class Prime extends Foreground { @Override Script script() { return Script.PRIME; } }

    @Command(name = "echo", mixinStandardHelpOptions = true, description = "Start EchoServer in the foreground (ARGS passed through).")
    static final class Echo extends Foreground { @Override Script script() { return Script.ECHO; } }

    /** `both`: the seed's two servers on the seed's two ports, until Ctrl-C. */
    @Command(name = "both", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = "SimpleHttpServer on 8000 and ThreadedHttpServer on 3000, both URLs printed, both stopped on Ctrl-C.")
    static final class Both implements Callable<Integer> {
        @Option(names = "--simple-port", description = "Port of SimpleHttpServer.")
        int simplePort = Script.SIMPLE.defaultPort;

        @Option(names = "--threaded-port", description = "Port of ThreadedHttpServer.")
        int threadedPort = Script.THREADED.defaultPort;

        @Override public Integer call() throws Exception {
            Procs.installShutdownHook();
            var simple = Procs.start("simple", Launch.viaLauncher(Script.SIMPLE, List.of("-p", String.valueOf(simplePort))), true);
            var threaded = Procs.start("threaded", Launch.viaLauncher(Script.THREADED, List.of("-p", String.valueOf(threadedPort))), true);
            for (var p : List.of(simple, threaded)) p.awaitReady(Duration.ofSeconds(180));
            System.out.println("SimpleHttpServer:   http://127.0.0.1:" + simple.port() + "/");
            System.out.println("ThreadedHttpServer: http://127.0.0.1:" + threaded.port() + "/");
            System.out.println("Both are running; Ctrl-C stops both.");
            System.out.flush();
            // Whichever ends first (it crashed, or someone stopped it) takes the other with it.
            var first = CompletableFuture.anyOf(simple.process.onExit(), threaded.process.onExit()).get();
            var ended = first == simple.process ? simple : threaded;
            Procs.stopAll();
            throw Failure.of(ended.name + " stopped (exit " + ended.process.exitValue() + ")" + ended.lastLines(5));
        }
    }

    // ================================================================ test: the HTTP contract, one column per side

    @Command(name = "test", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = "The HTTP contract checks against each SIDE: a PASS/FAIL table, one column per side, rows where they differ marked. Exit 1 on any failure.")
    static final class Test implements Callable<Integer> {
        @Parameters(paramLabel = "SIDE", description = "simple[:MODE], threaded[:MODE], http://HOST:PORT or cmd:COMMAND (default: simple threaded).")
        List<String> sides = new ArrayList<>(List.of("simple", "threaded"));

        @Option(names = "--jvm-option", paramLabel = "OPTION", description = "A JVM option added for the servers Compare starts (repeatable).")
        List<String> jvmOptions = new ArrayList<>();

        @Override public Integer call() throws Exception {
            Procs.installShutdownHook();
            var parsed = sides.stream().map(Side::parse).toList();
            var fixture = Contract.Fixture.create();
            try {
                var results = new ArrayList<Contract.Report>();
                for (var side : parsed) {
                    Progress.say("starting " + side.spec());
                    try (var running = side.start(fixture, Launch.jvmOptions(jvmOptions), Pinning.OFF)) {
                        Progress.say("checking " + running.label());
                        results.add(Contract.check(running.site(fixture)));
                    }
                }
                System.out.print(Contract.table(parsed.stream().map(Side::spec).toList(), results));
                return results.stream().allMatch(Contract.Report::passed) ? 0 : 1;
            } finally {
                fixture.delete();
            }
        }
    }

    // ================================================================ compare: the A/B race

    @Command(name = "compare", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = "Start A and B, check the contract on both, race them (alternating runs) and print one A/B table.")
    static final class Race implements Callable<Integer> {
        @Option(names = "--a", paramLabel = "SIDE", description = "Side A.")
        String a = "simple";

        @Option(names = "--b", paramLabel = "SIDE", description = "Side B.")
        String b = "threaded";

        @Option(names = "--concurrency", split = ",", paramLabel = "N", description = "Closed-loop connection counts.")
        List<Integer> concurrency = new ArrayList<>(List.of(1, 16, 64));

        @Option(names = "--runs", description = "Runs of each side per figure (they alternate A B A B ...).")
        int runs = 3;

        @Option(names = "--duration", description = "Length of one measured run (e.g. 1500ms, 2s).", converter = DurationConverter.class)
        Duration duration = Duration.ofMillis(1500);

        @Option(names = "--warmup", description = "Unmeasured load before each run (and 4 times that once per side and path).", converter = DurationConverter.class)
        Duration warmup = Duration.ofMillis(250);

        @Option(names = "--rate", description = "Requests/s of the equal-load run (0: half the slower side's best /health throughput).")
        double rate;

        @Option(names = "--static", paramLabel = "PATH", description = "The static file raced beside /health.")
        String staticPath = "/index.html";

        @Option(names = "--quick", description = "A rough answer in under 30 s: 16 connections only, 2 runs of 500 ms.")
        boolean quick;

        @Option(names = "--pin", description = "Servers and load generator on disjoint CPUs (needs >= 2 cores and taskset): ${COMPLETION-CANDIDATES}.")
        Pinning.Choice pin = Pinning.Choice.auto;

        @Option(names = "--jvm-option", paramLabel = "OPTION", description = "A JVM option added for both servers (repeatable).")
        List<String> jvmOptions = new ArrayList<>();

        @Option(names = "--json", paramLabel = "FILE", description = "Write every figure and every run as JSON.")
        Path json;

        @Override public Integer call() {
            throw Failure.of("compare: not written yet");
        }
    }

    // ---- Experiments (issue 11) ----
    // Each seed's lesson as one command that starts the servers itself, prints a table, and draws the chart:
    //   architectures  seed 002: total time of N simultaneous one-shot /io and /cpu requests, per server model;
    //   echo-race      seed 004: 10,000 connections echoing 100 bytes, every EchoServer mode (and the C epoll pair);
    //   prime-race     seed 001: LongPrime, Echo, SmallPrime on three connections: who answers first, per model.
    // --html FILE writes one self-contained page (tables, inline SVG drawn here, machine and command in the footer),
    // --json FILE every figure, --svg DIR each chart as its own file. The servers run unpinned on purpose: how a
    // model uses every core is part of what these experiments show.

    /** The report files every experiment (and `compare`) can write. */
    static final class ReportFiles {
        @Option(names = "--html", paramLabel = "FILE", description = "Write one self-contained HTML report (tables, SVG charts; opens offline, prints well).")
        Path html;

        @Option(names = "--json", paramLabel = "FILE", description = "Write every figure as JSON.")
        Path json;

        @Option(names = "--svg", paramLabel = "DIR", description = "Write each chart as its own SVG file into DIR.")
        Path svgDir;

        /** Writes what was asked for, and says where on stderr. */
        void write(Report report, Object results, Map<String, Object> settings) throws IOException {
            if (json != null) {
                var doc = new LinkedHashMap<String, Object>();
                doc.put("experiment", report.experiment);
                doc.put("command", report.command);
                doc.put("machine", report.machine);
                doc.put("settings", settings);
                doc.put("results", results);
                doc.put("charts", report.charts.stream().map(c -> Map.of("id", c.id(), "title", c.title(),
                        "series", c.series().stream().map(s -> Map.of("name", s.name(), "points", s.points().size())).toList())).toList());
                writeFile(json, JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build().writeValueAsString(doc));
                Progress.say("JSON: " + json.toAbsolutePath());
            }
            if (html != null) {
                writeFile(html, report.html());
                Progress.say("HTML report: " + html.toAbsolutePath());
            }
            if (svgDir != null) {
                Files.createDirectories(svgDir);
                for (var c : report.charts) {
                    Path f = svgDir.resolve(report.experiment + "-" + c.id() + ".svg");
                    writeFile(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + c.svg());
                    Progress.say("SVG: " + f.toAbsolutePath());
                }
            }
        }

        static void writeFile(Path file, String text) throws IOException {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            Files.writeString(file, text);
        }
    }

    /** What every experiment shares: the report files, the command line, progress, and the servers it started. */
    abstract static class Experiment implements Callable<Integer> {
        @CommandLine.Mixin
        ReportFiles files = new ReportFiles();

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override public final Integer call() throws Exception {
            Procs.installShutdownHook();
            var report = new Report(spec.name(), commandLine(spec));
            try {
                run(report);
            } finally {
                Procs.stopAll();
            }
            System.out.print(report.text());
            return report.exitCode;
        }

        abstract void run(Report report) throws Exception;

        /** The command as a user would type it again: `./jbang Compare.java SUBCOMMAND ARGS...`. */
        static String commandLine(CommandLine.Model.CommandSpec spec) {
            var args = spec.commandLine().getParseResult().originalArgs();
            return "./jbang Compare.java " + args.stream().map(a -> a.matches("[\\w./:=,@%+-]+") ? a : "'" + a.replace("'", "'\\''") + "'")
                    .collect(Collectors.joining(" "));
        }

        /** Starts one of our servers (its own JVM, JBang's launch excluded) and waits for its ready line. */
        static Proc startServer(String name, Script script, List<String> args) throws Exception {
            var proc = Procs.start(name, Launch.direct(script, Launch.jvmOptions(List.of()), args), false);
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
        static final Map<Script, List<String>> MODES = Map.of(
                Script.SIMPLE, List.of("single", "pool", "virtual"),
                Script.THREADED, List.of("sequential", "thread", "pool", "virtual", "nio", "processes"));

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

        @Option(names = "--timeout", converter = DurationConverter.class, description = "How long one request may take before it counts as failed.")
        Duration timeout = Duration.ofSeconds(120);

        /** One figure: N simultaneous requests of one task to one server. */
        record Figure(String server, String mode, String task, String path, int concurrency, double totalMs, int failed) {}

        @Override void run(Report report) throws Exception {
            var chosen = parseServers(servers);
            var taskList = list(tasks);
            for (String t : taskList) if (!t.equals("io") && !t.equals("cpu")) throw Failure.usage("--tasks: unknown task " + t + " (io, cpu)");
            if (taskList.isEmpty()) throw Failure.usage("--tasks: none given (io, cpu)");
            if (concurrency.isEmpty() || concurrency.stream().anyMatch(n -> n < 1 || n > 10_000))
                throw Failure.usage("--concurrency: each N must be 1..10000: " + concurrency);
            if (ioMs < 0 || ioMs > 10_000) throw Failure.usage("--io-ms: " + ioMs + " (0..10000, the servers' limit)");
            if (cpuN < 0 || cpuN > 10_000_000) throw Failure.usage("--cpu-n: " + cpuN + " (0..10000000, the servers' limit)");
            var ns = concurrency.stream().distinct().sorted().toList();
            var figures = new ArrayList<Figure>();
            int k = 0;
            for (var s : chosen) {
                k++;
                String label = s.script().serverName + " " + s.mode();
                Progress.say("architectures: starting " + label + " (" + k + " of " + chosen.size() + ")");
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
                            Progress.say("architectures: %s %s x %d: %.0f ms%s".formatted(label, path, n, r.totalMs(),
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
                    + "warmed up with 8 unmeasured requests.").formatted(ioMs, ioMs, cpuN, String.join(" ", Launch.DEFAULT_JVM_OPTIONS));
            for (String task : taskList) {
                var of = figures.stream().filter(f -> f.task().equals(task)).toList();
                String path = of.getFirst().path();
                var table = new Table(concat("server", ns.stream().map(n -> "N=" + n).toList()).toArray(String[]::new));
                var series = new ArrayList<Svg.Series>();
                for (var s : chosen) {
                    var row = of.stream().filter(f -> f.server().equals(s.script().serverName) && f.mode().equals(s.mode())).toList();
                    String name = s.script().serverName + " " + s.mode();
                    table.row(row.stream().anyMatch(f -> f.failed() > 0) ? "!" : null,
                            concat(name, row.stream().map(f -> "%.0f".formatted(f.totalMs()) + (f.failed() > 0 ? " (" + f.failed() + " failed)" : "")).toList()));
                    series.add(new Svg.Series(name, row.stream().map(f -> new Svg.Point(f.concurrency(), f.totalMs())).toList()));
                }
                String title = (task.equals("io") ? "I/O-bound task " : "CPU-bound task ") + path;
                report.section(title + ": total time (ms) of N simultaneous requests", table, summary(task, of, ns), List.of(
                        new Chart(task, title, Svg.lineChart(title + ": total time of N simultaneous requests",
                                report.command, "concurrent requests (N)", "total time (ms)", series), series)));
            }
            if (figures.stream().anyMatch(f -> f.failed() > 0)) {
                report.note("! marks a row with failed requests (see the progress lines on stderr): its times are not comparable.");
                report.exitCode = 1;
            }
            files.write(report, figures, Map.of("servers", chosen.stream().map(s -> s.script().command + ":" + s.mode()).toList(),
                    "concurrency", ns, "tasks", taskList, "ioMs", ioMs, "cpuN", cpuN, "jvmOptions", Launch.DEFAULT_JVM_OPTIONS));
        }

        static String firstError(LoadTest.BurstResult r) {
            return r.requests().stream().filter(q -> q.status() != 200)
                    .map(q -> q.error() != null ? q.error() : "status " + q.status()).findFirst().orElse("");
        }

        record Chosen(Script script, String mode) {}

        static List<Chosen> parseServers(String csv) {
            var out = new ArrayList<Chosen>();
            for (String item : list(csv)) {
                String[] nm = item.split(":", 2);
                Script script = Arrays.stream(Script.values()).filter(s -> s.command.equals(nm[0]) && MODES.containsKey(s)).findFirst()
                        .orElseThrow(() -> Failure.usage("--servers: unknown server " + nm[0] + " (simple, threaded, simple:MODE, threaded:MODE)"));
                var modes = MODES.get(script);
                if (nm.length == 1) {
                    modes.forEach(m -> out.add(new Chosen(script, m)));
                } else if (modes.contains(nm[1])) {
                    out.add(new Chosen(script, nm[1]));
                } else {
                    throw Failure.usage("--servers: " + script.serverName + " has no mode " + nm[1] + " (" + String.join(", ", modes) + ")");
                }
            }
            if (out.isEmpty()) throw Failure.usage("--servers: none given");
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

        @Option(names = "--client-mode", description = "How EchoClient waits: virtual (a virtual thread per connection) or nio (one Selector).")
        String clientMode = "nio";

        @Option(names = "--warmup", description = "Unmeasured rounds against each server first (the JIT compiles its hot path).")
        int warmup = 1;

        @Option(names = "--no-c", description = "Leave out the C epoll server and client even when gcc is present.")
        boolean noC;

        @Option(names = "--timeout", converter = DurationConverter.class, description = "How long a connect, or a wait for the echo, may take.")
        Duration timeout = Duration.ofSeconds(10);

        /** One measured round: a client against a server. Latency in ms, server CPU in ms (-1: not measurable). */
        record Round(String server, String client, int connections, int size, double totalMs, double p99Ms, double serverCpuMs,
                     long failed, Map<String, Long> failures) {}

        static final List<String> SERVER_MODES = List.of("thread", "nio", "async", "virtual");

        private int nextSource = 10;

        @Override void run(Report report) throws Exception {
            var modeList = list(modes);
            for (String m : modeList) if (!SERVER_MODES.contains(m)) throw Failure.usage("--modes: EchoServer has no mode " + m + " (" + String.join(", ", SERVER_MODES) + ")");
            if (modeList.isEmpty()) throw Failure.usage("--modes: none given");
            if (connections < 1 || connections > 60_000) throw Failure.usage("-n: " + connections + " (1..60000)");
            if (size < 1 || size > 1 << 20) throw Failure.usage("-s: " + size + " (1..1048576 bytes)");
            if (warmup < 0 || warmup > 10) throw Failure.usage("--warmup: " + warmup + " (0..10)");
            var echoMode = Arrays.stream(EchoClient.Mode.values()).filter(m -> m.name().equals(clientMode)).findFirst()
                    .orElseThrow(() -> Failure.usage("--client-mode: " + clientMode + " (virtual, nio)"));
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
                    Progress.say("echo-race: starting " + server);
                    var proc = server.equals("C epoll")
                            ? startC(cDir)
                            : startServer("echo:" + server, Script.ECHO, List.of("-p", "0", "-q", "-m", server.substring("EchoServer ".length())));
                    try {
                        int port = proc.port();
                        for (int w = 0; w < warmup; w++) javaRound(server, javaClient, echoMode, port, proc);
                        for (String client : clients) {
                            var r = client.equals("C epoll") ? cRound(server, cDir, port, proc) : javaRound(server, client, echoMode, port, proc);
                            rounds.add(r);
                            Progress.say("echo-race: %s -> %s: %.1f ms, p99 %.1f ms, server CPU %s, %d failed".formatted(client, server,
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
                var table = new Table("server", "client", "total ms", "p99 ms", "server CPU ms", "failed");
                for (var r : rounds) {
                    table.row(r.failed() > 0 ? "!" : null, List.of(r.server(), r.client(), "%.1f".formatted(r.totalMs()),
                            "%.1f".formatted(r.p99Ms()), r.serverCpuMs() < 0 ? "-" : "%.0f".formatted(r.serverCpuMs()),
                            r.failed() + (r.failures().isEmpty() ? "" : " " + r.failures())));
                }
                var total = bars(rounds, servers, clients, Round::totalMs);
                var p99 = bars(rounds, servers, clients, Round::p99Ms);
                report.section("Total time, p99 latency, server CPU, failed connections", table, echoSummary(rounds, javaClient), List.of(
                        new Chart("total", "Total time", Svg.barChart("Echo race: total time of %,d connections (ms)".formatted(connections),
                                report.command, "total time (ms)", servers, total), total),
                        new Chart("p99", "p99 latency", Svg.barChart("Echo race: p99 latency of one connection (ms)",
                                report.command, "p99 latency (ms)", servers, p99), p99)));
                if (rounds.stream().anyMatch(r -> r.failed() > 0)) {
                    report.note("! marks a round with failed connections (kinds in brackets): its times are not comparable.");
                    report.exitCode = 1;
                }
                files.write(report, rounds, Map.of("connections", connections, "size", size, "servers", servers, "clients", clients,
                        "warmupRounds", warmup, "jvmOptions", Launch.DEFAULT_JVM_OPTIONS));
            } finally {
                if (cDir != null) deleteTree(cDir);
            }
        }

        /** One bar series per client, one bar per server it raced. */
        static List<Svg.Series> bars(List<Round> rounds, List<String> servers, List<String> clients, java.util.function.ToDoubleFunction<Round> value) {
            var out = new ArrayList<Svg.Series>();
            for (String c : clients) {
                var points = new ArrayList<Svg.Point>();
                for (int i = 0; i < servers.size(); i++) {
                    String s = servers.get(i);
                    int x = i;
                    rounds.stream().filter(r -> r.server().equals(s) && r.client().equals(c)).findFirst()
                            .ifPresent(r -> points.add(new Svg.Point(x, value.applyAsDouble(r))));
                }
                out.add(new Svg.Series(c, points));
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
        Round javaRound(String server, String client, EchoClient.Mode mode, int port, Proc proc) throws Exception {
            var echo = new EchoClient();
            echo.mode = mode;
            echo.quiet = true;
            var config = new EchoClient.Config(new InetSocketAddress("127.0.0.1", port), InetAddress.getByName(nextSource()),
                    connections, size, connections, (int) timeout.toMillis());
            double cpuBefore = Cpu.treeMs(proc.process.toHandle());
            var round = echo.run(config);
            double cpuAfter = Cpu.treeMs(proc.process.toHandle());
            var r = echo.report(config, round, EchoClient.Limits.read(), 0);
            return new Round(server, client, connections, size, r.totalMs(), r.latencyUs().p99() / 1000, cpuBefore < 0 ? -1 : cpuAfter - cpuBefore,
                    r.failed(), r.failures());
        }

        private static final Pattern C_RESULT = Pattern.compile("total time = ([0-9.]+) ms.* p99 = ([0-9.]+) µs.*failed = (\\d+)(.*)");

        /** A measured round of the C epoll client (tests/c/echo_client.c). */
        Round cRound(String server, Path cDir, int port, Proc proc) throws Exception {
            var cmd = List.of(cDir.resolve("echo_client").toString(), "-p", String.valueOf(port), "-n", String.valueOf(connections),
                    "-s", String.valueOf(size), "-t", String.valueOf(timeout.toMillis()), "-S", nextSource());
            double cpuBefore = Cpu.treeMs(proc.process.toHandle());
            var p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            Procs.track(p);
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            double cpuAfter = Cpu.treeMs(proc.process.toHandle());
            Matcher m = C_RESULT.matcher(out);
            if (!m.find()) throw Failure.of("the C echo client printed no result: " + out.strip());
            var failures = new LinkedHashMap<String, Long>();
            for (String kind : m.group(4).split(",")) {
                var km = Pattern.compile("\\s*(.+?) = (\\d+)").matcher(kind);
                if (km.matches()) failures.put(km.group(1), Long.parseLong(km.group(2)));
            }
            return new Round(server, "C epoll", connections, size, Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2)) / 1000,
                    cpuBefore < 0 ? -1 : cpuAfter - cpuBefore, Long.parseLong(m.group(3)), failures);
        }

        /** 127.0.0.10, .11, ...: a fresh loopback address per round (127.0.0.0/8 is all loopback). */
        String nextSource() {
            if (nextSource > 254) throw Failure.of("out of fresh loopback source addresses (fewer --modes or --warmup)");
            return "127.0.0." + nextSource++;
        }

        /** The C pair compiled with gcc -O2 into a temporary folder, or null when gcc is not there. */
        static Path compileC() throws Exception {
            if (!onPath("gcc")) return null;
            Path dir = Files.createTempDirectory("echo-race-c-");
            for (String name : List.of("echo_server", "echo_client")) {
                var p = new ProcessBuilder("gcc", "-O2", "-o", dir.resolve(name).toString(), Home.dir().resolve("tests/c/" + name + ".c").toString())
                        .redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (p.waitFor() != 0) {
                    deleteTree(dir);
                    throw Failure.of("gcc could not compile tests/c/" + name + ".c:\n" + out.strip());
                }
            }
            return dir;
        }

        static Proc startC(Path cDir) throws Exception {
            var proc = Procs.start("c-epoll", new Launch(List.of(cDir.resolve("echo_server").toString(), "-p", "0"), false), false);
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

        @Override void run(Report report) throws Exception {
            var specs = list(modes);
            if (specs.isEmpty()) throw Failure.usage("--modes: none given");
            for (String s : specs) {
                String[] mo = s.split(":", 2);
                if (!MODES.contains(mo[0]) || (mo.length == 2 && !mo[1].equals("no-offload")))
                    throw Failure.usage("--modes: " + s + " (MODE or MODE:no-offload; modes: " + String.join(", ", MODES) + ")");
            }
            if (timeoutS < 1) throw Failure.usage("--timeout: " + timeoutS + " (at least 1 second)");
            var runs = new ArrayList<Run>();
            for (String s : specs) {
                String[] mo = s.split(":", 2);
                boolean offload = mo.length == 1 ? !List.of("sequential", "thread", "pool").contains(mo[0]) : false;
                var args = new ArrayList<>(List.of("-p", "0", "-q", "-m", mo[0]));
                if (mo.length == 2) args.add("--no-offload");
                Progress.say("prime-race: starting PrimeEchoServer -m " + mo[0] + (mo.length == 2 ? " --no-offload" : ""));
                var server = startServer("prime:" + s, Script.PRIME, args);
                try {
                    var client = Procs.start("prime-client", Launch.direct(Script.PRIME, Launch.jvmOptions(List.of()),
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
                    if (exit != 0 || printed.size() != 3) throw Failure.of("the demo client against -m " + s + " ended with exit " + exit + client.lastLines(10));
                    // Ordered by the time each answer arrived (the client prints two answers that arrive together
                    // in either order).
                    printed.sort(Comparator.comparingLong(m -> Long.parseLong(m.group(4))));
                    for (var m : printed) arrivals.add(new Arrival(m.group(1), m.group(2), m.group(3), Long.parseLong(m.group(4)), arrivals.size() + 1));
                    // Blocked: Echo, which needs no computation, waited for most of LongPrime's (on a model that does not
                    // block it comes back in milliseconds; on one that blocks, right around LongPrime's answer).
                    var run = new Run(mo[0], offload, mo.length == 2, arrivals, arrivalOf(arrivals, "Echo").ms() * 2 > arrivalOf(arrivals, "LongPrime").ms());
                    runs.add(run);
                    Progress.say("prime-race: %s: %s".formatted(run.label(), arrivals.stream().map(a -> a.name() + " " + a.ms() + " ms").collect(Collectors.joining(", "))));
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
            var table = new Table("model", "offload", "LongPrime ms", "Echo ms", "SmallPrime ms", "order of arrival", "Echo waited?");
            var charts = new ArrayList<Chart>();
            double maxMs = runs.stream().flatMap(r -> r.arrivals().stream()).mapToLong(Arrival::ms).max().orElse(1);
            for (var r : runs) {
                table.row(null, List.of(r.mode(), r.offload() ? "on" : "off", ms(r, "LongPrime"), ms(r, "Echo"), ms(r, "SmallPrime"),
                        r.arrivals().stream().map(Arrival::name).collect(Collectors.joining(" > ")), r.blocked() ? "yes: blocked" : "no"));
                var series = List.of(new Svg.Series(r.label(), r.arrivals().stream()
                        .sorted(Comparator.comparingInt(a -> Client.ORDER.indexOf(a.name())))
                        .map(a -> new Svg.Point(Client.ORDER.indexOf(a.name()), a.ms())).toList()));
                String id = r.mode() + (r.noOffloadFlag() ? "-no-offload" : "");
                charts.add(new Chart(id, r.label(), Svg.timeline("PrimeEchoServer -m " + r.label() + (r.blocked() ? ": blocked" : ": not blocked"),
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
            files.write(report, runs, Map.of("runs", specs, "longPrime", "P2305843009213693951", "jvmOptions", Launch.DEFAULT_JVM_OPTIONS));
        }

        /** Waits until Proc's reader has taken the last line of a process that printed no ready line (it has ended). */
        static void awaitOutputEnd(Proc p) throws InterruptedException {
            try {
                p.ready.get(10, TimeUnit.SECONDS);
            } catch (ExecutionException endOfOutput) {
                // the reader completes `ready` exceptionally once the output has ended: every line is in
            } catch (TimeoutException e) {
                throw Failure.of(p.name + ": its output did not end 10 s after it exited");
            }
        }

        /** The demo client's three jobs in the order it sends them. */
        static final class Client {
            static final List<String> ORDER = List.of("LongPrime", "Echo", "SmallPrime");
        }

        static Arrival arrivalOf(List<Arrival> arrivals, String name) {
            return arrivals.stream().filter(a -> a.name().equals(name)).findFirst()
                    .orElseThrow(() -> Failure.of("the demo client printed no " + name + " line"));
        }

        static String ms(Run r, String name) { return String.valueOf(arrivalOf(r.arrivals(), name).ms()); }
    }

    // ---------------------------------------------------------------- the report: text, HTML, charts

    /** A chart as drawn, with the series it was drawn from (tests compare these with the SVG's elements). */
    record Chart(String id, String title, String svg, List<Svg.Series> series) {}

    /** An experiment's findings: sections of a table, sentences and charts; printed as text and written as HTML. */
    static final class Report {
        final String experiment, command;
        final Map<String, Object> machine = Machine.describe();
        final List<Chart> charts = new ArrayList<>();
        private final List<Section> sections = new ArrayList<>();
        private final List<String> notes = new ArrayList<>();
        String title = "", intro = "";
        int exitCode = 0;

        record Section(String heading, Table table, List<String> sentences, List<Chart> charts) {}

        Report(String experiment, String command) {
            this.experiment = experiment;
            this.command = command;
        }

        void section(String heading, Table table, List<String> sentences, List<Chart> sectionCharts) {
            sections.add(new Section(heading, table, sentences, sectionCharts));
            charts.addAll(sectionCharts);
        }

        void note(String text) { notes.add(text); }

        String text() {
            var sb = new StringBuilder();
            sb.append(title).append("\n\n");
            for (var s : sections) {
                sb.append(s.heading()).append('\n').append(s.table());
                for (String line : s.sentences()) sb.append("  ").append(line).append('\n');
                sb.append('\n');
            }
            notes.forEach(n -> sb.append(n).append('\n'));
            sb.append(footerText()).append('\n');
            return sb.toString();
        }

        String footerText() {
            return "%s; %s cores (%s), %s memory, %s; JDK %s; load average before %s; servers unpinned. Command: %s".formatted(
                    machine.get("date"), machine.get("cores"), machine.get("cpu"), machine.get("memory"), machine.get("kernel"),
                    machine.get("jdk"), machine.get("loadAverage"), command);
        }

        /** One self-contained page: no script, no font or image from anywhere; prints on A4 or Letter. */
        String html() {
            var b = new StringBuilder();
            b.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>").append(esc(title)).append("</title>\n")
                    .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<style>\n").append(CSS).append("</style>\n</head>\n<body>\n")
                    .append("<h1>").append(esc(title)).append("</h1>\n<p class=\"intro\">").append(esc(intro)).append("</p>\n");
            for (var s : sections) {
                b.append("<section>\n<h2>").append(esc(s.heading())).append("</h2>\n").append(htmlTable(s.table()));
                for (var c : s.charts()) b.append("<figure id=\"chart-").append(esc(c.id())).append("\">").append(c.svg()).append("</figure>\n");
                if (!s.sentences().isEmpty()) {
                    b.append("<div class=\"reading\">");
                    s.sentences().forEach(line -> b.append("<p>").append(esc(line)).append("</p>"));
                    b.append("</div>\n");
                }
                b.append("</section>\n");
            }
            notes.forEach(n -> b.append("<p class=\"note\">").append(esc(n)).append("</p>\n"));
            b.append("<footer><p>").append(esc("%s. Machine: %s cores (%s), %s memory, %s. JDK %s. Load average before the run: %s. Servers unpinned.".formatted(
                    machine.get("date"), machine.get("cores"), machine.get("cpu"), machine.get("memory"), machine.get("kernel"),
                    machine.get("jdk"), machine.get("loadAverage")))).append("</p>\n<p>Command: <code>").append(esc(command))
                    .append("</code></p></footer>\n</body>\n</html>\n");
            return b.toString();
        }

        static String htmlTable(Table t) {
            var b = new StringBuilder("<table>\n<thead><tr>");
            boolean marks = t.marks.stream().anyMatch(m -> !m.isEmpty());
            if (marks) b.append("<th></th>");
            t.header.forEach(h -> b.append("<th>").append(esc(h)).append("</th>"));
            b.append("</tr></thead>\n<tbody>\n");
            for (int r = 0; r < t.rows.size(); r++) {
                b.append("<tr>");
                if (marks) b.append("<td class=\"mark\">").append(esc(t.marks.get(r))).append("</td>");
                var row = t.rows.get(r);
                for (int i = 0; i < row.size(); i++) {
                    String c = row.get(i);
                    boolean number = i > 0 && !c.isEmpty() && (Character.isDigit(c.charAt(0)) || c.equals("-"));
                    b.append(number ? "<td class=\"num\">" : "<td>").append(esc(c)).append("</td>");
                }
                b.append("</tr>\n");
            }
            return b.append("</tbody>\n</table>\n").toString();
        }

        static final String CSS = """
                body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2733; background: #fff;
                       max-width: 62rem; margin: 0 auto; padding: 1.5rem; }
                h1 { font-size: 1.5rem; border-bottom: 2px solid #b0452a; padding-bottom: .3rem; }
                h2 { font-size: 1.15rem; margin-top: 2rem; }
                table { border-collapse: collapse; margin: .5rem 0 1rem; font-variant-numeric: tabular-nums; }
                th, td { border-bottom: 1px solid #d8dde3; padding: .25rem .6rem; text-align: left; }
                th { background: #f3f5f7; }
                td.num { text-align: right; }
                td.mark { color: #b0452a; font-weight: bold; }
                figure { margin: .5rem 0; }
                figure svg { max-width: 100%; height: auto; }
                .reading p { margin: .3rem 0; }
                .note { color: #b0452a; }
                footer { margin-top: 2rem; border-top: 1px solid #d8dde3; color: #4d5661; font-size: .85rem; }
                code { font-family: ui-monospace, monospace; font-size: .85em; word-break: break-all; }
                @media print {
                  body { max-width: none; padding: 0; font-size: 11pt; }
                  section, figure, table { break-inside: avoid; page-break-inside: avoid; }
                  h2 { break-after: avoid; page-break-after: avoid; }
                }
                """;
    }

    /** The machine a report was measured on, for its footer and its JSON. */
    static final class Machine {
        static Map<String, Object> describe() {
            var m = new LinkedHashMap<String, Object>();
            m.put("date", DateTimeFormatter.ISO_INSTANT.format(Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS)));
            m.put("cores", Runtime.getRuntime().availableProcessors());
            m.put("cpu", firstValue(Path.of("/proc/cpuinfo"), "model name").orElse(System.getProperty("os.arch")));
            m.put("memory", firstValue(Path.of("/proc/meminfo"), "MemTotal")
                    .map(v -> "%.1f GiB".formatted(Long.parseLong(v.replaceAll("\\D", "")) / 1024.0 / 1024.0)).orElse("?"));
            m.put("kernel", System.getProperty("os.name") + " " + System.getProperty("os.version"));
            m.put("jdk", System.getProperty("java.vendor") + " " + Runtime.version());
            m.put("loadAverage", read(Path.of("/proc/loadavg")).map(l -> String.join(" ", Arrays.asList(l.split(" ")).subList(0, 3))).orElse("?"));
            return m;
        }

        static Optional<String> firstValue(Path file, String key) {
            return read(file).flatMap(text -> text.lines().filter(l -> l.startsWith(key))
                    .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst());
        }

        static Optional<String> read(Path file) {
            try {
                return Optional.of(Files.readString(file).strip());
            } catch (IOException e) {
                return Optional.empty();
            }
        }
    }

    /** CPU time of a process and everything it started, from /proc/PID/stat (user + system). */
    static final class Cpu {
        /** Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
        static final double TICKS_PER_SECOND = 100;

        /** Milliseconds of CPU used so far by the process and its live descendants; -1 when /proc cannot tell. */
        static double treeMs(ProcessHandle root) {
            double total = 0;
            var all = new ArrayList<ProcessHandle>();
            all.add(root);
            root.descendants().forEach(all::add);
            for (var h : all) {
                try {
                    String stat = Files.readString(Path.of("/proc/" + h.pid() + "/stat"));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    total += (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 1000 / TICKS_PER_SECOND;   // utime, stime
                } catch (IOException | RuntimeException e) {
                    if (h == root) return -1;
                }
            }
            return total;
        }
    }

    /** Charts drawn as inline SVG: every series a <g class="series">, every point or bar an element with its data. */
    static final class Svg {
        record Point(double x, double y) {}

        record Series(String name, List<Point> points) {}

        /** Colours and dash patterns that stay apart on screen and on a black-and-white printout. */
        static final String[] COLOURS = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"};
        static final String[] DASHES = {"", "6 3", "2 3", "8 3 2 3", "", "6 3", "2 3", "8 3 2 3", "", "6 3"};
        static final int W = 760, LEFT = 70, RIGHT = 200, TOP = 48, BOTTOM = 56;

        /** Lines over N on an evenly spaced axis of the x values (1, 2, 4, ... reads like the seed's charts). */
        static String lineChart(String title, String command, String xLabel, String yLabel, List<Series> series) {
            int h = 420, plotW = W - LEFT - RIGHT, plotH = h - TOP - BOTTOM;
            var xs = series.stream().flatMap(s -> s.points().stream()).map(Point::x).distinct().sorted().toList();
            double yMax = niceMax(series.stream().flatMap(s -> s.points().stream()).mapToDouble(Point::y).max().orElse(1));
            var b = open("line", title, command, h, series.size());
            axes(b, yLabel, yMax, plotW, plotH);
            for (int i = 0; i < xs.size(); i++) {
                double x = LEFT + (xs.size() == 1 ? plotW / 2.0 : i * plotW / (double) (xs.size() - 1));
                b.append(text(x, TOP + plotH + 18, "middle", 12, fmt(xs.get(i))));
            }
            b.append(text(LEFT + plotW / 2.0, h - 12, "middle", 12, xLabel));
            for (int s = 0; s < series.size(); s++) {
                var ser = series.get(s);
                String colour = COLOURS[s % COLOURS.length];
                b.append("<g class=\"series\" data-series=\"").append(esc(ser.name())).append("\">");
                var path = new StringBuilder();
                var dots = new StringBuilder();
                for (var p : ser.points()) {
                    int i = xs.indexOf(p.x());
                    double x = LEFT + (xs.size() == 1 ? plotW / 2.0 : i * plotW / (double) (xs.size() - 1));
                    double y = TOP + plotH - p.y() / yMax * plotH;
                    path.append(path.isEmpty() ? "M" : " L").append(f1(x)).append(' ').append(f1(y));
                    dots.append("<circle class=\"point\" cx=\"%s\" cy=\"%s\" r=\"3.5\" fill=\"%s\" data-x=\"%s\" data-y=\"%s\"><title>%s, N=%s: %s ms</title></circle>"
                            .formatted(f1(x), f1(y), colour, fmt(p.x()), f1(p.y()), esc(ser.name()), fmt(p.x()), f1(p.y())));
                }
                b.append("<path d=\"").append(path).append("\" fill=\"none\" stroke=\"").append(colour).append("\" stroke-width=\"2\"")
                        .append(DASHES[s % DASHES.length].isEmpty() ? "" : " stroke-dasharray=\"" + DASHES[s % DASHES.length] + "\"").append("/>")
                        .append(dots).append("</g>\n");
                legend(b, s, ser.name(), colour, true);
            }
            return b.append("</svg>").toString();
        }

        /** Grouped bars: one group per category, one bar per series (a point's x is the category's index). */
        static String barChart(String title, String command, String yLabel, List<String> categories, List<Series> series) {
            int h = 400, plotW = W - LEFT - RIGHT, plotH = h - TOP - BOTTOM;
            double yMax = niceMax(series.stream().flatMap(s -> s.points().stream()).mapToDouble(Point::y).max().orElse(1));
            var b = open("bar", title, command, h, series.size());
            axes(b, yLabel, yMax, plotW, plotH);
            double group = plotW / (double) Math.max(1, categories.size());
            double bar = Math.min(36, group * 0.8 / Math.max(1, series.size()));
            for (int c = 0; c < categories.size(); c++) b.append(text(LEFT + group * (c + 0.5), TOP + plotH + 18, "middle", 12, categories.get(c)));
            for (int s = 0; s < series.size(); s++) {
                var ser = series.get(s);
                String colour = COLOURS[s % COLOURS.length];
                b.append("<g class=\"series\" data-series=\"").append(esc(ser.name())).append("\">");
                for (var p : ser.points()) {
                    int c = (int) p.x();
                    double x = LEFT + group * (c + 0.5) - bar * series.size() / 2 + s * bar;
                    double y = TOP + plotH - p.y() / yMax * plotH;
                    b.append("<rect class=\"bar\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\" stroke=\"#333\" stroke-width=\".5\" data-category=\"%s\" data-value=\"%s\"><title>%s on %s: %s ms</title></rect>"
                            .formatted(f1(x), f1(y), f1(bar - 2), f1(TOP + plotH - y), colour, esc(categories.get(c)), f1(p.y()),
                                    esc(ser.name()), esc(categories.get(c)), f1(p.y())));
                    b.append(text(x + (bar - 2) / 2, y - 4, "middle", 10, "%.0f".formatted(p.y())));
                }
                b.append("</g>\n");
                legend(b, s, ser.name(), colour, false);
            }
            return b.append("</svg>").toString();
        }

        /** One horizontal bar per job, from the client's start to the arrival of its answer, on a shared time axis. */
        static String timeline(String title, String command, List<String> jobs, Series arrivals, double maxMs) {
            int rowH = 30, h = TOP + jobs.size() * rowH + BOTTOM, left = 100, plotW = W - left - 60, plotH = jobs.size() * rowH;
            double xMax = niceMax(maxMs);
            var b = open("timeline", title, command, h, 1);
            for (int t = 0; t <= 5; t++) {
                double x = left + plotW * t / 5.0;
                b.append("<line x1=\"%s\" y1=\"%d\" x2=\"%s\" y2=\"%d\" stroke=\"#e1e5ea\"/>".formatted(f1(x), TOP, f1(x), TOP + plotH));
                b.append(text(x, TOP + plotH + 16, "middle", 11, fmt(xMax * t / 5)));
            }
            b.append(text(left + plotW / 2.0, h - 12, "middle", 12, "ms from the client's start to the answer"));
            b.append("<g class=\"series\" data-series=\"").append(esc(arrivals.name())).append("\">");
            for (var p : arrivals.points()) {
                int row = (int) p.x();
                double y = TOP + row * rowH + 5, w = Math.max(1, p.y() / xMax * plotW);
                String colour = COLOURS[row % COLOURS.length];
                b.append(text(left - 6, y + 15, "end", 12, jobs.get(row)));
                b.append("<rect class=\"bar\" x=\"%d\" y=\"%s\" width=\"%s\" height=\"%d\" fill=\"%s\" data-category=\"%s\" data-value=\"%s\"><title>%s: %s ms</title></rect>"
                        .formatted(left, f1(y), f1(w), rowH - 10, colour, esc(jobs.get(row)), fmt(p.y()), esc(jobs.get(row)), fmt(p.y())));
                b.append(text(left + w + 4, y + 15, "start", 11, fmt(p.y()) + " ms"));
            }
            return b.append("</g>\n</svg>").toString();
        }

        private static StringBuilder open(String kind, String title, String command, int h, int seriesCount) {
            var b = new StringBuilder();
            b.append("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" data-kind=\"%s\" data-series-count=\"%d\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" role=\"img\">"
                    .formatted(kind, seriesCount, W, h, W, h));
            b.append("<title>").append(esc(title)).append("</title>");
            b.append("<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>");
            b.append(text(W / 2.0, 20, "middle", 15, title).replace("<text ", "<text font-weight=\"bold\" "));
            b.append(text(W / 2.0, 36, "middle", 10, chartCommand(command)).replace("<text ", "<text fill=\"#555\" "));
            return b;
        }

        /** The command under a chart's title: without --html/--json/--svg (they change no figure), cut to fit the width. */
        static String chartCommand(String command) {
            String c = command.replaceAll(" --(html|json|svg)[ =]('[^']*'|\\S+)", "");
            return c.length() <= 130 ? c : c.substring(0, 127) + "...";
        }

        private static void axes(StringBuilder b, String yLabel, double yMax, int plotW, int plotH) {
            for (int t = 0; t <= 5; t++) {
                double y = TOP + plotH - plotH * t / 5.0;
                b.append("<line x1=\"%d\" y1=\"%s\" x2=\"%d\" y2=\"%s\" stroke=\"%s\"/>".formatted(LEFT, f1(y), LEFT + plotW, f1(y), t == 0 ? "#333" : "#e1e5ea"));
                b.append(text(LEFT - 6, y + 4, "end", 11, fmt(yMax * t / 5)));
            }
            b.append("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>".formatted(LEFT, TOP, LEFT, TOP + plotH));
            b.append("<text x=\"16\" y=\"%s\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 16 %s)\">%s</text>"
                    .formatted(f1(TOP + plotH / 2.0), f1(TOP + plotH / 2.0), esc(yLabel)));
        }

        private static void legend(StringBuilder b, int s, String name, String colour, boolean line) {
            double x = W - RIGHT + 16, y = TOP + 8 + s * 20;
            b.append(line
                    ? "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"2\"%s/>".formatted(f1(x), f1(y), f1(x + 22), f1(y), colour,
                    DASHES[s % DASHES.length].isEmpty() ? "" : " stroke-dasharray=\"" + DASHES[s % DASHES.length] + "\"")
                    : "<rect x=\"%s\" y=\"%s\" width=\"16\" height=\"10\" fill=\"%s\"/>".formatted(f1(x), f1(y - 5), colour));
            b.append(text(x + 28, y + 4, "start", 11, name));
        }

        private static String text(double x, double y, String anchor, int size, String s) {
            return "<text x=\"%s\" y=\"%s\" text-anchor=\"%s\" font-size=\"%d\">%s</text>".formatted(f1(x), f1(y), anchor, size, esc(s));
        }

        /** The first round number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten) at or above v, for the axis. */
        static double niceMax(double v) {
            if (!(v > 0)) return 1;
            double p = Math.pow(10, Math.floor(Math.log10(v)));
            for (double m : new double[]{1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10}) if (m * p >= v) return m * p;
            return 10 * p;
        }

        static String f1(double v) { return String.format(Locale.ROOT, "%.1f", v); }

        static String fmt(double v) { return v == Math.rint(v) ? String.valueOf((long) v) : String.format(Locale.ROOT, "%.1f", v); }
    }

    /** Text for HTML and SVG: &, <, >, " escaped. */
    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
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
    // ---- end of Experiments (issue 11) ----

    // ================================================================ the HTTP contract, defined once

    /** The checks of the README's HTTP contract as data: Compare's `test` and tests/HttpContract.java run these. */
    static final class Contract {
        /** One result of a check against a side. */
        record Outcome(String check, Verdict verdict, String detail) {}

        enum Verdict { PASS, FAIL, SKIP }

        /** All outcomes for one side. */
        record Report(String label, List<Outcome> outcomes) {
            boolean passed() { return outcomes.stream().noneMatch(o -> o.verdict == Verdict.FAIL); }

            long count(Verdict v) { return outcomes.stream().filter(o -> o.verdict == v).count(); }
        }

        /** The contract's web root: files the static checks rely on, in a temporary folder. */
        record Fixture(Path base, Path root, Path outside, Path uploads) {
            static Fixture create() throws IOException {
                Path base = Files.createTempDirectory("contract-");
                return new Fixture(base, base.resolve("www"), base.resolve("outside"), base.resolve("uploads"));
            }

            void delete() {
                try (var files = Files.walk(base)) {
                    files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                } catch (IOException e) {
                    System.err.println("[compare] could not delete " + base + ": " + e.getMessage());
                }
            }
        }

        /** What a check needs to know about the server it talks to. */
        interface Site {
            int port();
        }

        static Report check(Site site) {
            return new Report(String.valueOf(site.port()), List.of());
        }

        static String table(List<String> sides, List<Report> reports) {
            return "";
        }
    }

    // ================================================================ sides: what is compared

    /** A SIDE of a comparison: one of our servers, a URL already serving, or any command. */
    sealed interface Side {
        String spec();

        Running start(Contract.Fixture fixture, List<String> jvmOptions, Pinning pinning) throws Exception;

        static Side parse(String spec) {
            if (spec.startsWith("cmd:")) {
                String command = spec.substring(4).strip();
                if (!command.contains("{port}")) throw Failure.usage("side " + spec + ": a cmd: side needs {port} in its command");
                return new Command(spec, command);
            }
            if (spec.startsWith("http://") || spec.startsWith("https://")) {
                URI uri;
                try {
                    uri = new URI(spec);
                } catch (URISyntaxException e) {
                    throw Failure.usage("side " + spec + ": not a URL (" + e.getMessage() + ")");
                }
                if (uri.getScheme().equals("https")) throw Failure.usage("side " + spec + ": https is not supported (http://HOST:PORT)");
                if (uri.getHost() == null || uri.getPort() < 0) throw Failure.usage("side " + spec + ": a URL side needs a host and a port, http://HOST:PORT");
                return new Url(spec, uri);
            }
            String[] nm = spec.split(":", 2);
            for (Script s : Script.values()) {
                if (s.command.equals(nm[0])) {
                    if (!s.http) throw Failure.usage("side " + spec + ": " + s.serverName + " does not speak HTTP (sides: simple, threaded, a URL or cmd:)");
                    if (nm.length == 2 && !nm[1].matches("[a-z]+")) throw Failure.usage("side " + spec + ": not a mode name: " + nm[1]);
                    return new Ours(spec, s, nm.length == 2 ? nm[1] : null);
                }
            }
            throw Failure.usage("unknown side: " + spec + " (simple[:MODE], threaded[:MODE], http://HOST:PORT or cmd:COMMAND with {port})");
        }

        /** simple[:MODE] or threaded[:MODE], started through the launcher's cached java command. */
        record Ours(String spec, Script script, String mode) implements Side {
            @Override public Running start(Contract.Fixture fixture, List<String> jvmOptions, Pinning pinning) throws Exception {
                var args = new ArrayList<>(List.of("-p", "0", "-q", "--root", fixture.root().toString(), "--directory", fixture.uploads().toString()));
                if (mode != null) args.addAll(List.of("-m", mode));
                var launch = Launch.direct(script, jvmOptions, args);
                var proc = Procs.start(spec, pinning.server(launch), false);
                proc.awaitReady(Duration.ofSeconds(180));
                String label = script.serverName + " (" + (mode == null ? proc.readyMode() : mode) + ")";
                return new Running(this, label, "127.0.0.1", proc.port(), proc, launch.viaJBang());
            }
        }

        /** A server already running: Compare neither starts nor stops it; its start-up and memory are `-`. */
        record Url(String spec, URI uri) implements Side {
            @Override public Running start(Contract.Fixture fixture, List<String> jvmOptions, Pinning pinning) {
                try (var s = new Socket()) {
                    s.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), 3000);
                } catch (IOException e) {
                    throw Failure.of("side " + spec + ": " + e.getMessage() + " (is a server running there?)");
                }
                return new Running(this, spec, uri.getHost(), uri.getPort(), null, false);
            }
        }

        /** Any command with {port} (and optionally {root}) in it, started and stopped by Compare. */
        record Command(String spec, String command) implements Side {
            @Override public Running start(Contract.Fixture fixture, List<String> jvmOptions, Pinning pinning) throws Exception {
                int port = Procs.freePort();
                String line = command.replace("{port}", String.valueOf(port)).replace("{root}", fixture.root().toString());
                var launch = new Launch(List.of("sh", "-c", line), false);
                var proc = Procs.start(spec, pinning.server(launch), false);
                proc.awaitPort(port, Duration.ofSeconds(60));
                return new Running(this, command.split("\\s+")[0] + " (cmd)", "127.0.0.1", port, proc, false);
            }
        }
    }

    /** A side that is up: where it listens, and the process tree Compare started for it (null for a URL). */
    record Running(Side side, String label, String host, int port, Proc proc, boolean startupIncludesJBang) implements AutoCloseable {
        URI uri(String path) { return URI.create("http://" + host + ":" + port + path); }

        boolean rootIsFixture() { return !(side instanceof Side.Url) && !(side instanceof Side.Command c && !c.command().contains("{root}")); }

        Contract.Site site(Contract.Fixture fixture) {
            return () -> port;
        }

        @Override public void close() {
            if (proc != null) proc.stop();
        }
    }

    // ================================================================ processes: started, watched, always stopped

    /** How to start a process: the command, and whether JBang's own launch is part of it. */
    record Launch(List<String> command, boolean viaJBang) {
        /** The JVM options both servers get: the same for both, chosen on purpose and shown in the footer. */
        static final List<String> DEFAULT_JVM_OPTIONS = List.of("-XX:+UseSerialGC", "-Xms64m", "-Xmx256m");

        static List<String> jvmOptions(List<String> extra) {
            var all = new ArrayList<>(DEFAULT_JVM_OPTIONS);
            all.addAll(extra);
            return all;
        }

        /** `./jbang Script.java args...`, the way a user starts it (JBang compiles when needed). */
        static Launch viaLauncher(Script s, List<String> args) {
            var cmd = new ArrayList<String>(List.of(Home.dir().resolve("jbang").toString(), s.path().toString()));
            cmd.addAll(args);
            return new Launch(cmd, true);
        }

        /**
         * The server's own JVM, spawned directly: the java command JBang would run (from `./jbang info tools`, after
         * `./jbang build` when the script is not compiled yet), so that start-up is the server's and not JBang's.
         */
        static Launch direct(Script s, List<String> jvmOptions, List<String> args) {
            var cmd = new ArrayList<>(JavaCommand.of(s));
            cmd.addAll(1, jvmOptions);
            cmd.addAll(args);
            return new Launch(cmd, false);
        }
    }

    /** The java command line JBang runs for a script, read from `./jbang info tools` (cached per script). */
    static final class JavaCommand {
        private static final Map<Script, List<String>> CACHE = new ConcurrentHashMap<>();
        private static final JsonMapper JSON = JsonMapper.builder().build();

        /** [java, -classpath, CP, MainClass]: JVM options go after element 0, program arguments at the end. */
        static List<String> of(Script s) {
            return CACHE.computeIfAbsent(s, JavaCommand::resolve);
        }

        private static List<String> resolve(Script s) {
            JsonNode info = info(s);
            if (!Files.isRegularFile(Path.of(info.path("applicationJar").asString("")))) {
                Progress.say("compiling " + s.file + " (once)");
                var build = jbang("build", s.path().toString());
                if (build.exit() != 0) throw Failure.of(s.file + " does not compile:\n" + build.output().strip());
                info = info(s);
            }
            var cp = new ArrayList<String>();
            cp.add(info.path("applicationJar").asString());
            for (var d : info.path("resolvedDependencies")) cp.add(d.asString());
            var cmd = new ArrayList<String>();
            cmd.add(Path.of(info.path("availableJdkPath").asString()).resolve("bin/java").toString());
            for (var o : info.path("runtimeOptions")) cmd.add(o.asString());
            cmd.addAll(List.of("-classpath", String.join(File.pathSeparator, cp), info.path("mainClass").asString()));
            return List.copyOf(cmd);
        }

        private static JsonNode info(Script s) {
            var r = jbang("info", "tools", s.path().toString());
            if (r.exit() != 0) throw Failure.of("./jbang info tools " + s.file + " failed:\n" + r.output().strip());
            return JSON.readTree(r.output().substring(Math.max(0, r.output().indexOf('{'))));
        }

        record Output(int exit, String output) {}

        /** Runs `./jbang args...` to its end and returns what it printed (stdout and stderr together). */
        static Output jbang(String... args) {
            var cmd = new ArrayList<String>(List.of(Home.dir().resolve("jbang").toString()));
            cmd.addAll(List.of(args));
            try {
                var p = new ProcessBuilder(cmd).directory(Home.dir().toFile()).redirectErrorStream(true)
                        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
                Procs.track(p);
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                return new Output(p.waitFor(), out);
            } catch (IOException e) {
                throw Failure.of("cannot run ./jbang: " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw Failure.of("interrupted");
            }
        }
    }

    /** A process Compare started: its output (the last lines kept), its ready line, and a stop that leaves nothing. */
    static final class Proc {
        private static final Pattern READY = Pattern.compile("Listening on \\w+://(\\S+):(\\d+)(?:/|\\s|$)(?:.*mode=(\\w+))?");
        private static final int KEEP_LINES = 40;

        final String name;
        final Process process;
        final long spawnNanos;
        private final Deque<String> last = new ArrayDeque<>();
        private final CompletableFuture<Matcher> ready = new CompletableFuture<>();
        private volatile long readyNanos;

        Proc(String name, Process process, long spawnNanos, boolean echo) {
            this.name = name;
            this.process = process;
            this.spawnNanos = spawnNanos;
            Thread.ofPlatform().daemon().name("out-" + name).start(() -> read(echo));
        }

        private void read(boolean echo) {
            try (var r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    long now = System.nanoTime();
                    synchronized (last) {
                        last.addLast(l);
                        if (last.size() > KEEP_LINES) last.removeFirst();
                    }
                    if (echo) System.out.println("[" + name + "] " + l);
                    Matcher m = READY.matcher(l);
                    if (!ready.isDone() && m.find()) {
                        readyNanos = now;
                        ready.complete(m);
                    }
                }
            } catch (IOException ignored) {
                // the stream closes when the process ends; its exit is reported by whoever waits for it
            }
            ready.completeExceptionally(new IllegalStateException("exited before its ready line"));
        }

        /** Waits for the ready line; a process that ends first is reported with its last lines. */
        void awaitReady(Duration timeout) throws InterruptedException {
            try {
                ready.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                throw failedToStart(waitExit());
            } catch (TimeoutException e) {
                throw Failure.of(name + ": no ready line in " + timeout.toSeconds() + " s" + lastLines(10));
            }
        }

        /** For a command without a ready line: waits until the port accepts connections, or the process ends. */
        void awaitPort(int port, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                if (!process.isAlive()) throw failedToStart(waitExit());
                try (var s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                    readyNanos = System.nanoTime();
                    return;
                } catch (IOException notYet) {
                    Thread.sleep(20);   // polling a port that has no ready line to wait for
                }
            }
            throw Failure.of(name + ": port " + port + " not open after " + timeout.toSeconds() + " s" + lastLines(10));
        }

        private int waitExit() throws InterruptedException {
            process.waitFor(5, TimeUnit.SECONDS);
            return process.isAlive() ? -1 : process.exitValue();
        }

        /** A side that did not start: its own `Error:` line when it printed one (exit 2 for its usage errors). */
        private Failure failedToStart(int exit) {
            String error;
            synchronized (last) {
                error = last.stream().filter(l -> l.startsWith("Error: ")).reduce((x, y) -> y).orElse(null);
            }
            if (error != null) return new Failure(exit == 2 ? 2 : 1, name + ": " + error.substring("Error: ".length()));
            return Failure.of(name + " failed to start (exit " + exit + ")" + lastLines(10));
        }

        int port() { return Integer.parseInt(ready.join().group(2)); }

        String readyMode() {
            String m = ready.join().group(3);
            return m == null ? "default" : m;
        }

        /** Milliseconds from the spawn to the ready line (or to the port accepting connections). */
        double startupMs() { return (readyNanos - spawnNanos) / 1e6; }

        String lastLines(int n) {
            synchronized (last) {
                var lines = new ArrayList<>(last);
                if (lines.isEmpty()) return "; it printed nothing";
                return "; its last lines:\n  " + String.join("\n  ", lines.subList(Math.max(0, lines.size() - n), lines.size()));
            }
        }

        int waitForExit() throws InterruptedException {
            int code = process.waitFor();
            Procs.forget(this);
            return code;
        }

        /** The process and everything it started: SIGTERM, up to 5 s of grace, then SIGKILL. */
        void stop() {
            Procs.forget(this);
            Procs.stopTree(process.toHandle());
        }
    }

    /** Every process Compare started, so that a shutdown hook (Ctrl-C) or an exception stops them all. */
    static final class Procs {
        private static final Set<Proc> LIVE = ConcurrentHashMap.newKeySet();
        private static final Set<Process> HELPERS = ConcurrentHashMap.newKeySet();
        private static final AtomicBoolean HOOKED = new AtomicBoolean();
        private static final boolean SETSID = Files.isExecutable(Path.of("/usr/bin/setsid")) || Files.isExecutable(Path.of("/bin/setsid"));

        static void installShutdownHook() {
            if (HOOKED.compareAndSet(false, true)) Runtime.getRuntime().addShutdownHook(new Thread(Procs::stopAll, "stop-servers"));
        }

        /** Starts the command in its own process group (setsid): Ctrl-C reaches Compare, which stops it in order. */
        static Proc start(String name, Launch launch, boolean echo) throws IOException {
            var cmd = new ArrayList<String>();
            if (SETSID) cmd.add("setsid");
            cmd.addAll(launch.command());
            var pb = new ProcessBuilder(cmd).directory(Home.dir().toFile()).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            long t0 = System.nanoTime();
            var proc = new Proc(name, pb.start(), t0, echo);
            LIVE.add(proc);
            return proc;
        }

        /** A server in the foreground: its output goes straight to ours. */
        static Proc foreground(Script s, List<String> args) throws IOException {
            return start(s.command, Launch.viaLauncher(s, args), true);
        }

        static void track(Process helper) { HELPERS.add(helper); }

        static void forget(Proc p) { LIVE.remove(p); }

        static void stopAll() {
            for (var h : HELPERS) if (h.isAlive()) stopTree(h.toHandle());
            var all = new ArrayList<>(LIVE);
            all.parallelStream().forEach(Proc::stop);
        }

        static void stopTree(ProcessHandle root) {
            var tree = new ArrayList<ProcessHandle>();
            tree.add(root);
            root.descendants().forEach(tree::add);
            tree.forEach(ProcessHandle::destroy);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            for (var h : tree) {
                long left = deadline - System.nanoTime();
                try {
                    if (left > 0) h.onExit().get(left, TimeUnit.NANOSECONDS);
                } catch (InterruptedException | ExecutionException | TimeoutException ignored) {
                    // killed below
                }
                if (h.isAlive()) h.destroyForcibly();
            }
        }

        static int freePort() throws IOException {
            try (var s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                return s.getLocalPort();
            }
        }
    }

    /** --watch: restart on save; an edit that does not compile is shown and the watch goes on. */
    static final class Watch {
        static int loop(Script s, List<String> args) throws Exception {
            Proc server = Procs.foreground(s, args);
            var stamps = stamps(s.path());
            Progress.say("watching " + String.join(", ", stamps.keySet().stream().map(p -> Home.dir().relativize(p).toString()).toList()) + " (Ctrl-C stops)");
            while (true) {
                Thread.sleep(300);   // the poll interval of the watch: a tool waiting for a person to save a file
                var now = stamps(s.path());
                if (now.equals(stamps)) continue;
                stamps = now;
                Progress.say("change seen: restarting " + s.file);
                server.stop();
                var build = JavaCommand.jbang("build", s.path().toString());
                if (build.exit() != 0) {
                    System.err.println(build.output().strip());
                    Progress.say(s.file + " does not compile; still watching");
                    server = null;
                    continue;
                }
                server = Procs.foreground(s, args);
            }
        }

        /** Modification times of the script and of every file it pulls in with //SOURCES (recursively). */
        static Map<Path, Long> stamps(Path script) throws IOException {
            var out = new TreeMap<Path, Long>();
            var todo = new ArrayDeque<Path>(List.of(script.toAbsolutePath().normalize()));
            while (!todo.isEmpty()) {
                Path p = todo.pop();
                if (out.containsKey(p) || !Files.isRegularFile(p)) continue;
                out.put(p, Files.getLastModifiedTime(p).toMillis());
                for (String line : Files.readAllLines(p)) {
                    if (line.startsWith("//SOURCES ")) {
                        for (String f : line.substring(10).strip().split("\\s+")) todo.add(p.resolveSibling(f).normalize());
                    }
                }
            }
            return out;
        }
    }

    // ================================================================ fairness: CPU pinning

    /** Servers on one half of the CPUs, the load generator (this JVM) on the other, when the machine allows it. */
    record Pinning(List<Integer> serverCpus, List<Integer> generatorCpus, String note) {
        enum Choice { auto, off }

        static final Pinning OFF = new Pinning(List.of(), List.of(), "off");

        static Pinning choose(Choice c) {
            if (c == Choice.off) return new Pinning(List.of(), List.of(), "off (--pin off)");
            var cpus = allowedCpus();
            boolean taskset = Files.isExecutable(Path.of("/usr/bin/taskset")) || Files.isExecutable(Path.of("/bin/taskset"));
            if (cpus.size() < 2 || !taskset) {
                return new Pinning(List.of(), List.of(), "off (" + (cpus.size() < 2 ? "one CPU" : "no taskset") + ")");
            }
            int half = cpus.size() / 2;
            var gen = cpus.subList(0, half);
            var srv = cpus.subList(half, cpus.size());
            return new Pinning(srv, gen, "servers on CPU " + list(srv) + ", load generator on CPU " + list(gen) + " (taskset)");
        }

        boolean on() { return !serverCpus.isEmpty(); }

        Launch server(Launch l) {
            if (!on()) return l;
            var cmd = new ArrayList<>(List.of("taskset", "-c", list(serverCpus)));
            cmd.addAll(l.command());
            return new Launch(cmd, l.viaJBang());
        }

        /** Pins every thread of this JVM (the load generator); threads started later inherit it. */
        void pinSelf() {
            if (!on()) return;
            try {
                var p = new ProcessBuilder("taskset", "-a", "-p", "-c", list(generatorCpus), String.valueOf(ProcessHandle.current().pid()))
                        .redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor() != 0) Progress.say("could not pin the load generator");
            } catch (IOException e) {
                Progress.say("could not pin the load generator: " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        static String list(List<Integer> cpus) { return cpus.stream().map(String::valueOf).collect(Collectors.joining(",")); }

        /** The CPUs this process may run on (Cpus_allowed_list in /proc/self/status, e.g. "0-1,4"). */
        static List<Integer> allowedCpus() {
            try {
                for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                    if (!l.startsWith("Cpus_allowed_list:")) continue;
                    var out = new ArrayList<Integer>();
                    for (String part : l.substring(l.indexOf(':') + 1).strip().split(",")) {
                        String[] r = part.split("-");
                        int lo = Integer.parseInt(r[0]), hi = Integer.parseInt(r[r.length - 1]);
                        for (int c = lo; c <= hi; c++) out.add(c);
                    }
                    return out;
                }
            } catch (IOException | RuntimeException e) {
                // not Linux: no pinning
            }
            return IntStream.range(0, Runtime.getRuntime().availableProcessors()).boxed().toList();
        }
    }

    // ================================================================ small infrastructure

    /** The project folder (the one holding ./jbang and Compare.java): COMPARE_HOME, or the current folder or a parent. */
    static final class Home {
        private static volatile Path dir;

        static Path dir() {
            if (dir != null) return dir;
            String env = System.getenv("COMPARE_HOME");
            var candidates = new ArrayList<Path>();
            if (env != null && !env.isBlank()) candidates.add(Path.of(env));
            for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) candidates.add(p);
            for (Path p : candidates) {
                if (Files.isRegularFile(p.resolve("jbang")) && Files.isRegularFile(p.resolve("Compare.java"))) {
                    return dir = p.toAbsolutePath().normalize();
                }
            }
            throw Failure.usage("cannot find the project folder (the one with ./jbang and Compare.java): run from inside it, or set COMPARE_HOME");
        }
    }

    /** Progress lines on stderr: phase, side, run k of n. The result goes to stdout. */
    static final class Progress {
        static void say(String s) {
            System.err.println("[compare] " + s);
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

    /** A plain text table: a header row, right-aligned numbers, a marker column for rows worth a look. */
    static final class Table {
        private final List<String> header;
        private final List<List<String>> rows = new ArrayList<>();
        private final List<String> marks = new ArrayList<>();

        Table(String... header) { this.header = List.of(header); }

        Table row(String mark, List<String> cells) {
            rows.add(cells);
            marks.add(mark == null ? "" : mark);
            return this;
        }

        Table row(String... cells) { return row(null, List.of(cells)); }

        @Override public String toString() {
            int[] w = new int[header.size()];
            for (int i = 0; i < w.length; i++) w[i] = header.get(i).length();
            for (var r : rows) for (int i = 0; i < r.size() && i < w.length; i++) w[i] = Math.max(w[i], r.get(i).length());
            int markWidth = marks.stream().mapToInt(String::length).max().orElse(0);
            var sb = new StringBuilder();
            line(sb, " ".repeat(markWidth), header, w);
            line(sb, " ".repeat(markWidth), Arrays.stream(w).mapToObj("-"::repeat).toList(), w);
            for (int r = 0; r < rows.size(); r++) line(sb, pad(marks.get(r), markWidth), rows.get(r), w);
            return sb.toString();
        }

        private static void line(StringBuilder sb, String mark, List<String> cells, int[] w) {
            sb.append(mark).append(mark.isEmpty() ? "" : " ");
            for (int i = 0; i < cells.size(); i++) {
                String c = cells.get(i);
                boolean number = i > 0 && !c.isEmpty() && (Character.isDigit(c.charAt(0)) || c.equals("-"));
                sb.append(i == 0 ? "" : "  ").append(number ? " ".repeat(w[i] - c.length()) + c : pad(c, w[i]));
            }
            sb.append(System.lineSeparator());
        }

        private static String pad(String s, int w) { return s + " ".repeat(Math.max(0, w - s.length())); }
    }
}
