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
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

@Command(name = "Compare", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        version = "Compare 1.0",
        description = {"Starts servers, checks them side by side and races them fairly. The default subcommand is `compare`.",
                "A SIDE is simple[:MODE], threaded[:MODE] (started by Compare: the java command ./jbang would run), http://HOST:PORT (already "
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
            if (Procs.stopping) return 130;
            if (e instanceof Failure f) {
                System.err.println("Error: " + f.getMessage());
                return f.exitCode;
            }
            throw e;
        });
        ARGS = args.clone();
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

    @Override public Integer call() throws Exception {
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
            if (Procs.stopping) return 0;
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
                // Every side at once: the checks mostly wait (a 2 s slow request, closes), so this takes the time of one.
                parsed.stream().parallel().forEach(Side::prepare);
                var started = new ArrayList<CompletableFuture<Contract.Report>>();
                try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
                    for (var side : parsed) {
                        started.add(CompletableFuture.supplyAsync(() -> {
                            Progress.say("starting " + side.spec());
                            try (var running = side.start(fixture, Launch.jvmOptions(jvmOptions), Pinning.OFF)) {
                                return checkContract(running, fixture);
                            } catch (Failure f) {
                                throw f;
                            } catch (Exception e) {
                                throw new CompletionException(e);
                            }
                        }, pool));
                    }
                }
                var reports = new ArrayList<Contract.Report>();
                for (var f : started) {
                    try {
                        reports.add(f.join());
                    } catch (CompletionException e) {
                        if (e.getCause() instanceof Failure failure) throw failure;
                        throw e;
                    }
                }
                System.out.print(Contract.table(reports));
                return reports.stream().allMatch(Contract.Report::passed) ? 0 : 1;
            } finally {
                fixture.delete();
            }
        }
    }

    /** The contract checks against one running side, with a progress line per check. */
    static Contract.Report checkContract(Running running, Contract.Fixture fixture) {
        int[] n = {0};
        int total = Contract.CHECKS.size();
        return Contract.check(running.side().spec(), running.site(fixture),
                o -> Progress.say("contract " + running.label() + ": " + (++n[0]) + "/" + total + " " + o.check() + " " + o.verdict()));
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

        @Option(names = "--html", paramLabel = "FILE", description = "Write one self-contained HTML report (table, chart; opens offline, prints well).")
        Path html;

        @CommandLine.Spec CommandLine.Model.CommandSpec spec;

        @Override public Integer call() throws Exception {
            Procs.installShutdownHook();
            if (quick) {
                // --quick changes the defaults only: an option given beside it still counts.
                var given = spec.commandLine().getParseResult();
                if (!given.hasMatchedOption("--concurrency")) concurrency = List.of(16);
                if (!given.hasMatchedOption("--runs")) runs = 2;
                if (!given.hasMatchedOption("--duration")) duration = Duration.ofMillis(500);
                if (!given.hasMatchedOption("--warmup")) warmup = Duration.ofMillis(150);
            }
            if (runs < 1) throw Failure.usage("--runs must be at least 1: " + runs);
            if (concurrency.isEmpty() || concurrency.stream().anyMatch(c -> c < 1)) throw Failure.usage("--concurrency needs counts of at least 1: " + concurrency);
            if (rate < 0) throw Failure.usage("--rate must not be negative: " + rate);
            if (!staticPath.startsWith("/")) throw Failure.usage("--static must be a path starting with /: " + staticPath);
            var sideA = Side.parse(a);
            var sideB = Side.parse(b);
            var machineAtStart = Machine.now();
            var pinning = Pinning.choose(pin);
            pinning.pinSelf();
            var jvm = Launch.jvmOptions(jvmOptions);
            var fixture = Contract.Fixture.create();
            try {
                // The java commands of both scripts first (JBang compiles here when needed), so start-up is only the JVM's.
                Stream.of(sideA, sideB).parallel().forEach(Side::prepare);
                Progress.say("start-up: A " + sideA.spec());
                try (var runA = sideA.start(fixture, jvm, pinning)) {
                    var sampleA = Sample.afterStart(runA);
                    Progress.say("start-up: B " + sideB.spec());
                    try (var runB = sideB.start(fixture, jvm, pinning)) {
                        var sampleB = Sample.afterStart(runB);
                        var race = new Race.Run(this, runA, runB, sampleA, sampleB, pinning, jvm, machineAtStart);
                        return race.all(fixture);
                    }
                }
            } finally {
                fixture.delete();
            }
        }

        /** One comparison, phase by phase: contract, warm-up, closed loop, equal load, cost; then the table. */
        record Run(Race opts, Running a, Running b, Sample startA, Sample startB, Pinning pinning, List<String> jvm, Machine machineAtStart) {
            int all(Contract.Fixture fixture) throws Exception {
                // Contract: both sides at once (the checks mostly wait), each with its own progress lines.
                Progress.say("contract: " + Contract.CHECKS.size() + " checks on A and B");
                var reportA = CompletableFuture.supplyAsync(() -> checkContract(a, fixture));
                var reportB = CompletableFuture.supplyAsync(() -> checkContract(b, fixture));
                var reports = List.of(reportA.join(), reportB.join());
                var notes = new ArrayList<String>();
                for (var r : reports) {
                    if (!r.passed()) notes.add("side " + r.side() + " fails " + r.count(Contract.Verdict.FAIL) + " contract check(s): see `test` for the reasons");
                }

                // Race only the paths both sides answer with 2xx.
                var paths = new ArrayList<String>();
                for (String path : List.of("/health", opts.staticPath)) {
                    int sa = probe(a, path), sb = probe(b, path);
                    if (sa / 100 == 2 && sb / 100 == 2) paths.add(path);
                    else notes.add("GET " + path + " not raced: A answered " + sa + ", B answered " + sb + " (only paths both answer with 2xx are raced)");
                }
                if (paths.isEmpty()) throw Failure.of("no path both sides answer with 2xx: nothing to race");

                var runs = new ArrayList<RunRecord>();
                // Warm-up: the JIT and the caches of both servers, once per path, unmeasured.
                for (String path : paths) {
                    for (var side : List.of(a, b)) {
                        Progress.say("warm-up: GET " + path + ", " + key(side) + " " + side.label());
                        load(side, path, 16, opts.warmup.multipliedBy(4), 0);
                    }
                }
                // Closed loop: A B A B ..., so that a change of the machine's load hits both sides alike.
                int total = paths.size() * opts.concurrency.size() * opts.runs * 2, done = 0;
                for (String path : paths) {
                    for (int c : opts.concurrency) {
                        for (int k = 1; k <= opts.runs; k++) {
                            for (var side : List.of(a, b)) {
                                Progress.say("throughput GET " + path + " c=" + c + ": run " + k + " of " + opts.runs + ", " + key(side) + " "
                                        + side.label() + " (" + (++done) + "/" + total + ")");
                                runs.add(measure(side, path, c, k, 0));
                            }
                        }
                    }
                }
                // Equal load: the same fixed rate for both, open loop, latency from each request's intended start.
                String equalPath = paths.getFirst();
                int equalConnections = Collections.max(opts.concurrency);
                double rate = opts.rate > 0 ? opts.rate : Math.floor(0.5 * Math.min(best(runs, "A", equalPath), best(runs, "B", equalPath)));
                if (rate >= 1) {
                    for (int k = 1; k <= opts.runs; k++) {
                        for (var side : List.of(a, b)) {
                            Progress.say("equal load GET " + equalPath + " at " + fmtInt(rate) + " req/s: run " + k + " of " + opts.runs + ", " + key(side) + " " + side.label());
                            runs.add(measure(side, equalPath, equalConnections, k, rate));
                        }
                    }
                } else {
                    notes.add("no equal-load run: the slower side's throughput was too low to halve");
                }
                var peakA = Sample.peak(a);
                var peakB = Sample.peak(b);
                if (Procs.stopping) return 130;
                var report = new Report(this, reports, paths, runs, rate, equalPath, equalConnections, peakA, peakB, notes, Machine.now());
                System.out.print(report.text());
                if (opts.json != null) report.writeJson(opts.json);
                if (opts.html != null) ExperimentReport.writeCompareHtml(opts.html, report);
                return 0;
            }

            String key(Running side) { return side == a ? "A" : "B"; }

            /** The status of one GET (any failure to get an answer is 0). */
            static int probe(Running side, String path) {
                try {
                    return Wire.exchange(side.port(), "GET " + path + " HTTP/1.1\r\nHost: " + side.host() + "\r\nConnection: close\r\n\r\n").status();
                } catch (IOException e) {
                    return 0;
                }
            }

            LoadTest.Result load(Running side, String path, int connections, Duration d, double rate) throws IOException, InterruptedException {
                var config = LoadTest.Config.of(side.uri(path)).withConnections(connections).withDuration(d).withWarmup(Duration.ZERO)
                        .withTimeout(Duration.ofSeconds(5));
                try {
                    return LoadTest.run(rate > 0 ? config.withRate(rate) : config);
                } catch (IOException e) {
                    // The side went away in the middle of the race (it crashed, or someone stopped it).
                    throw Failure.of(side.label() + " stopped answering: " + e.getMessage()
                            + (side.proc() == null ? "" : side.proc().process.isAlive() ? "" : side.proc().lastLines(10)));
                }
            }

            /** One measured run: an unmeasured warm-up, then the run with the server tree's CPU time read before and after. */
            RunRecord measure(Running side, String path, int c, int k, double rate) throws IOException, InterruptedException {
                if (!opts.warmup.isZero()) load(side, path, c, opts.warmup, rate);
                double cpu0 = Sample.cpuMs(side.proc());
                var r = load(side, path, c, opts.duration, rate);
                double cpu1 = Sample.cpuMs(side.proc());
                long ok = r.status().entrySet().stream().filter(e -> e.getKey() / 100 == 2).mapToLong(Map.Entry::getValue).sum();
                double cpuUs = r.requests() > 0 ? (cpu1 - cpu0) * 1000 / r.requests() : Double.NaN;
                var service = r.serviceTime();
                return new RunRecord(key(side), path, rate > 0 ? "open" : "closed", c, k, rate, r.rps(), r.latency().p50(), r.latency().p99(),
                        r.latency().p999(), service == null ? Double.NaN : service.p50(), service == null ? Double.NaN : service.p99(),
                        cpuUs, r.requests(), r.requests() - ok, r.errors().total(), r.generatorSaturated(), r.generatorCpuUsPerRequest());
            }

            /** The best median requests/s of a side on a path over the connection counts. */
            static double best(List<RunRecord> runs, String side, String path) {
                return runs.stream().filter(r -> r.side().equals(side) && r.path().equals(path) && r.loop().equals("closed"))
                        .collect(Collectors.groupingBy(RunRecord::connections, Collectors.mapping(RunRecord::rps, Collectors.toList())))
                        .values().stream().mapToDouble(v -> Stats.median(v.stream().mapToDouble(Double::doubleValue).toArray())).max().orElse(0);
            }
        }
    }

    /** One measured run of one side, as the JSON lists it. NaN where a side has no such figure (a URL has no CPU). */
    record RunRecord(String side, String path, String loop, int connections, int run, double targetRps, double rps,
                     double p50Ms, double p99Ms, double p999Ms, double serviceP50Ms, double serviceP99Ms,
                     double serverCpuUsPerRequest, long requests, long non2xx, long errors, boolean generatorSaturated,
                     double generatorCpuUsPerRequest) {}

    /** A figure of the table: the values of A's runs and of B's runs. */
    record Figure(String name, String unit, double[] a, double[] b) {
        double ratio() { return Stats.median(b) / Stats.median(a); }

        /** The 95% interval of the ratio, bootstrapped over the runs; null with fewer than 2 runs a side. */
        double[] interval() { return a.length < 2 || b.length < 2 ? null : Stats.bootstrapRatio(a, b); }

        boolean withinNoise() {
            double[] ci = interval();
            return ci != null && ci[0] <= 1.0 && ci[1] >= 1.0;
        }

        String ratioCell() {
            double r = ratio();
            if (Double.isNaN(r) || Double.isInfinite(r)) return "-";
            double[] ci = interval();
            if (ci == null) return fmtRatio(r) + "× (one sample)";
            if (withinNoise()) return "≈ 1 (within noise)";
            return fmtRatio(r) + "× (" + fmtRatio(ci[0]) + "–" + fmtRatio(ci[1]) + ")";
        }

        String cell(double[] v) {
            if (v.length == 0 || Double.isNaN(Stats.median(v))) return "-";
            String m = fmt(Stats.median(v), unit);
            return v.length == 1 ? m : m + " (" + fmt(Stats.min(v), unit) + "–" + fmt(Stats.max(v), unit) + ")";
        }
    }

    /** What one side cost: start-up, resident memory of its process tree, CPU time. NaN for a side Compare did not start. */
    record Sample(double startupMs, double rssMb) {
        static Sample afterStart(Running r) {
            if (r.proc() == null) return new Sample(Double.NaN, Double.NaN);
            return new Sample(r.proc().startupMs(), procSum(r.proc(), "VmRSS:") / 1024.0);
        }

        static Sample peak(Running r) {
            return new Sample(Double.NaN, r.proc() == null ? Double.NaN : procSum(r.proc(), "VmHWM:") / 1024.0);
        }

        /** CPU time (user + system) of the process and all its descendants, in ms, from /proc/PID/stat. */
        static double cpuMs(Proc p) {
            if (p == null) return Double.NaN;
            long ticks = 0;
            for (var h : tree(p)) {
                try {
                    String stat = Files.readString(Path.of("/proc/" + h.pid() + "/stat"));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);   // utime, stime (fields 14 and 15)
                } catch (IOException | RuntimeException gone) {
                    // the process ended between listing and reading
                }
            }
            return ticks * 1000.0 / CLOCK_TICKS;
        }

        /** The sum of a /proc/PID/status field (kB) over the process tree. */
        static long procSum(Proc p, String field) {
            long kb = 0;
            for (var h : tree(p)) {
                try {
                    for (String l : Files.readAllLines(Path.of("/proc/" + h.pid() + "/status"))) {
                        if (l.startsWith(field)) kb += Long.parseLong(l.substring(field.length()).strip().split("\\s+")[0]);
                    }
                } catch (IOException | RuntimeException gone) {
                    // the process ended between listing and reading
                }
            }
            return kb;
        }

        static List<ProcessHandle> tree(Proc p) {
            var all = new ArrayList<ProcessHandle>();
            all.add(p.process.toHandle());
            p.process.toHandle().descendants().forEach(all::add);
            return all;
        }

        /** USER_HZ: 100 on every Linux this runs on (the kernel's ABI, independent of CONFIG_HZ). */
        static final double CLOCK_TICKS = 100;
    }

    /** Median, spread, and a bootstrap interval for a ratio of medians. */
    static final class Stats {
        static double median(double[] v) {
            if (v.length == 0) return Double.NaN;
            double[] s = v.clone();
            Arrays.sort(s);
            return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
        }

        static double min(double[] v) { return Arrays.stream(v).min().orElse(Double.NaN); }

        static double max(double[] v) { return Arrays.stream(v).max().orElse(Double.NaN); }

        /** 2.5th and 97.5th percentiles of median(B*)/median(A*) over resamples of the runs (fixed seed: reproducible). */
        static double[] bootstrapRatio(double[] a, double[] b) {
            var rnd = new Random(42);
            int n = 4000;
            double[] ratios = new double[n];
            for (int i = 0; i < n; i++) ratios[i] = median(resample(b, rnd)) / median(resample(a, rnd));
            Arrays.sort(ratios);
            return new double[]{ratios[(int) (0.025 * (n - 1))], ratios[(int) Math.ceil(0.975 * (n - 1))]};
        }

        private static double[] resample(double[] v, Random rnd) {
            double[] r = new double[v.length];
            for (int i = 0; i < v.length; i++) r[i] = v[rnd.nextInt(v.length)];
            return r;
        }
    }

    /** The machine as the footer names it: cores, memory, kernel, load average, JDK. */
    record Machine(Instant at, int cores, long memoryMb, String kernel, String loadAverage, String jdk) {
        static Machine now() {
            long memMb = 0;
            try {
                for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
                    if (l.startsWith("MemTotal:")) memMb = Long.parseLong(l.replaceAll("\\D", "")) / 1024;
                }
            } catch (IOException | RuntimeException e) {
                memMb = ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize() >> 20;
            }
            String load;
            try {
                String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
                load = f[0] + " " + f[1] + " " + f[2];
            } catch (IOException | RuntimeException e) {
                load = String.format(Locale.ROOT, "%.2f", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
            }
            return new Machine(Instant.now(), Runtime.getRuntime().availableProcessors(), memMb,
                    System.getProperty("os.name") + " " + System.getProperty("os.version"), load,
                    System.getProperty("java.vm.vendor") + " " + System.getProperty("java.runtime.version"));
        }
    }

    /** The result of a comparison: the A/B table, the verdict, the warnings, the footer; and the same as JSON. */
    record Report(Race.Run run, List<Contract.Report> contract, List<String> paths, List<RunRecord> runs, double equalRate,
                  String equalPath, int equalConnections, Sample peakA, Sample peakB, List<String> notes, Machine machineAtEnd) {

        List<Figure> figures() {
            var f = new ArrayList<Figure>();
            f.add(new Figure("start-up to ready line", "ms", one(run.startA().startupMs()), one(run.startB().startupMs())));
            f.add(new Figure("idle RSS of the process tree", "MB", one(run.startA().rssMb()), one(run.startB().rssMb())));
            for (String path : paths) {
                for (int c : run.opts().concurrency) {
                    String at = "GET " + path + " c=" + c;
                    f.add(new Figure(at + " throughput", "req/s", values("A", path, "closed", c, RunRecord::rps), values("B", path, "closed", c, RunRecord::rps)));
                    f.add(new Figure(at + " latency p50", "ms", values("A", path, "closed", c, RunRecord::p50Ms), values("B", path, "closed", c, RunRecord::p50Ms)));
                    f.add(new Figure(at + " latency p99", "ms", values("A", path, "closed", c, RunRecord::p99Ms), values("B", path, "closed", c, RunRecord::p99Ms)));
                    f.add(new Figure(at + " server CPU per request", "µs", values("A", path, "closed", c, RunRecord::serverCpuUsPerRequest), values("B", path, "closed", c, RunRecord::serverCpuUsPerRequest)));
                }
            }
            if (equalRate >= 1) {
                String at = "equal load " + fmtInt(equalRate) + " req/s GET " + equalPath;
                f.add(new Figure(at + ": p50, corrected", "ms", values("A", equalPath, "open", equalConnections, RunRecord::p50Ms), values("B", equalPath, "open", equalConnections, RunRecord::p50Ms)));
                f.add(new Figure(at + ": p99, corrected", "ms", values("A", equalPath, "open", equalConnections, RunRecord::p99Ms), values("B", equalPath, "open", equalConnections, RunRecord::p99Ms)));
                f.add(new Figure(at + ": p99.9, corrected", "ms", values("A", equalPath, "open", equalConnections, RunRecord::p999Ms), values("B", equalPath, "open", equalConnections, RunRecord::p999Ms)));
            }
            f.add(new Figure("peak RSS of the process tree", "MB", one(peakA.rssMb()), one(peakB.rssMb())));
            return f;
        }

        static double[] one(double v) { return Double.isNaN(v) ? new double[0] : new double[]{v}; }

        double[] values(String side, String path, String loop, int c, java.util.function.ToDoubleFunction<RunRecord> f) {
            return runs.stream().filter(r -> r.side().equals(side) && r.path().equals(path) && r.loop().equals(loop) && r.connections() == c)
                    .mapToDouble(f).filter(v -> !Double.isNaN(v)).toArray();
        }

        String text() {
            var t = new Table("figure", "A: " + run.a().label(), "B: " + run.b().label(), "B/A (95% interval)");
            t.row("contract checks passed", passed(contract.get(0)), passed(contract.get(1)), "");
            for (var f : figures()) t.row(f.name() + " (" + f.unit() + ")", f.cell(f.a()), f.cell(f.b()), f.ratioCell());
            var sb = new StringBuilder(t.toString()).append('\n');
            sb.append(verdict()).append('\n');
            long saturated = runs.stream().filter(RunRecord::generatorSaturated).count();
            if (saturated > 0) {
                sb.append("Warning: LoadTest reported itself saturated in ").append(saturated).append(" of ").append(runs.size())
                        .append(" runs: there the generator, not the server, was the limit (see \"generator_saturated\" in --json).\n");
            }
            long failed = runs.stream().filter(r -> r.errors() > 0 || r.non2xx() > 0).count();
            if (failed > 0) sb.append("Warning: ").append(failed).append(" runs had errors or non-2xx answers (see --json).\n");
            for (String n : notes) sb.append("Note: ").append(n).append('\n');
            sb.append('\n').append(footer());
            return sb.toString();
        }

        static String passed(Contract.Report r) {
            return r.count(Contract.Verdict.PASS) + "/" + (r.outcomes().size() - r.count(Contract.Verdict.SKIP));
        }

        /** One sentence in words, on /health (or the first raced path) at the highest connection count. */
        String verdict() {
            String path = paths.getFirst();
            int c = Collections.max(run.opts().concurrency);
            String at = "GET " + path + " c=" + c;
            var figs = figures();
            Figure rps = figs.stream().filter(f -> f.name().equals(at + " throughput")).findFirst().orElseThrow();
            Figure cpu = figs.stream().filter(f -> f.name().equals(at + " server CPU per request")).findFirst().orElseThrow();
            String A = run.a().label(), B = run.b().label();
            var sb = new StringBuilder("Verdict: ");
            if (rps.withinNoise()) {
                sb.append(B).append(" and ").append(A).append(" answered ").append("GET ").append(path)
                        .append(" at the same rate within noise (").append(c).append(" connections)");
            } else {
                double[] ci = rps.interval();
                sb.append(B).append(" answered GET ").append(path).append(" at ").append(fmtRatio(rps.ratio())).append("×")
                        .append(ci == null ? "" : " (" + fmtRatio(ci[0]) + "–" + fmtRatio(ci[1]) + ")")
                        .append(" the rate of ").append(A).append(" (").append(c).append(" connections)");
            }
            double cr = cpu.ratio();
            if (!Double.isNaN(cr) && !Double.isInfinite(cr)) {
                sb.append(cpu.withinNoise() ? ", at about the same CPU per request (within noise)" : ", at " + fmtRatio(cr) + "× its CPU per request");
            }
            return sb.append('.').toString();
        }

        String footer() {
            var m = run.machineAtStart();
            var o = run.opts();
            var sb = new StringBuilder();
            sb.append("Date: ").append(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'").withZone(ZoneOffset.UTC).format(m.at()))
                    .append("; machine: ").append(m.cores()).append(" cores, ").append(m.memoryMb() / 1024.0 > 10 ? String.format(Locale.ROOT, "%.0f", m.memoryMb() / 1024.0) : String.format(Locale.ROOT, "%.1f", m.memoryMb() / 1024.0))
                    .append(" GiB, ").append(m.kernel()).append("; load average ").append(m.loadAverage()).append(" at start, ")
                    .append(machineAtEnd.loadAverage()).append(" at end\n");
            sb.append("JDK: ").append(m.jdk()).append(" (the servers' JVMs and LoadTest's)\n");
            sb.append("JVM options of both servers: ").append(String.join(" ", run.jvm())).append(" (not applied to URL and cmd: sides)\n");
            sb.append("Start-up: from the spawn of the server's own JVM to its ready line").append(
                    run.a().startupIncludesJBang() || run.b().startupIncludesJBang() ? " (includes JBang's launch)" : "; JBang's compile and launch excluded (Compare spawns the java command JBang would run)")
                    .append("; a cmd: side until its port accepts connections\n");
            sb.append("CPU pinning: ").append(run.pinning().note()).append('\n');
            sb.append("Load: LoadTest's engine in-process (nio, 1 thread); closed loop at ").append(o.concurrency).append(" connections, ")
                    .append(o.runs).append(" runs of ").append(fmtDuration(o.duration)).append(" per side after ").append(fmtDuration(o.warmup))
                    .append(" of warm-up each, A and B alternating; equal load: open loop, ").append(equalConnections).append(" connections\n");
            sb.append("Command: ").append(commandLine()).append('\n');
            return sb.toString();
        }

        void writeJson(Path file) throws IOException {
            var root = new LinkedHashMap<String, Object>();
            root.put("command", commandLine());
            var m = run.machineAtStart();
            root.put("machine", Map.of("date", m.at().toString(), "cores", m.cores(), "memory_mb", m.memoryMb(), "kernel", m.kernel(),
                    "load_average_start", m.loadAverage(), "load_average_end", machineAtEnd.loadAverage(), "jdk", m.jdk()));
            root.put("jvm_options", run.jvm());
            root.put("pinning", run.pinning().note());
            var sides = new LinkedHashMap<String, Object>();
            for (var e : List.of(Map.entry("A", run.a()), Map.entry("B", run.b()))) {
                var s = new LinkedHashMap<String, Object>();
                var start = e.getKey().equals("A") ? run.startA() : run.startB();
                var peak = e.getKey().equals("A") ? peakA : peakB;
                var rep = contract.get(e.getKey().equals("A") ? 0 : 1);
                s.put("spec", e.getValue().side().spec());
                s.put("label", e.getValue().label());
                s.put("url", e.getValue().uri("/").toString());
                s.put("startup_ms", num(start.startupMs()));
                s.put("idle_rss_mb", num(start.rssMb()));
                s.put("peak_rss_mb", num(peak.rssMb()));
                s.put("contract", Map.of("passed", rep.count(Contract.Verdict.PASS), "failed", rep.count(Contract.Verdict.FAIL),
                        "skipped", rep.count(Contract.Verdict.SKIP), "checks", rep.outcomes().stream().map(x -> Map.of("check", x.check(), "verdict", x.verdict().name(), "detail", x.detail())).toList()));
                sides.put(e.getKey(), s);
            }
            root.put("sides", sides);
            root.put("paths", paths);
            var equal = new LinkedHashMap<String, Object>();  // num() may be null, which Map.of refuses
            equal.put("rate", num(equalRate)); equal.put("path", equalPath); equal.put("connections", equalConnections);
            root.put("equal_load", equal);
            var figs = new ArrayList<Map<String, Object>>();
            for (var f : figures()) {
                var x = new LinkedHashMap<String, Object>();
                x.put("figure", f.name());
                x.put("unit", f.unit());
                x.put("a", stats(f.a()));
                x.put("b", stats(f.b()));
                x.put("ratio", num(f.ratio()));
                double[] ci = f.interval();
                x.put("ratio_interval", ci == null ? null : Arrays.asList(num(ci[0]), num(ci[1])));  // null where unbounded (List.of refuses null)
                x.put("within_noise", f.withinNoise());
                figs.add(x);
            }
            root.put("figures", figs);
            root.put("runs", runs.stream().map(r -> {
                var x = new LinkedHashMap<String, Object>();
                x.put("side", r.side()); x.put("path", r.path()); x.put("loop", r.loop()); x.put("connections", r.connections());
                x.put("run", r.run()); x.put("target_rps", num(r.targetRps())); x.put("rps", num(r.rps()));
                x.put("p50_ms", num(r.p50Ms())); x.put("p99_ms", num(r.p99Ms())); x.put("p999_ms", num(r.p999Ms()));
                x.put("service_p50_ms", num(r.serviceP50Ms())); x.put("service_p99_ms", num(r.serviceP99Ms()));
                x.put("server_cpu_us_per_request", num(r.serverCpuUsPerRequest())); x.put("requests", r.requests());
                x.put("non_2xx", r.non2xx()); x.put("errors", r.errors()); x.put("generator_saturated", r.generatorSaturated());
                x.put("generator_cpu_us_per_request", num(r.generatorCpuUsPerRequest()));
                return x;
            }).toList());
            root.put("verdict", verdict());
            root.put("notes", notes);
            Files.writeString(file, Contract.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n");
        }

        static Map<String, Object> stats(double[] v) {
            var x = new LinkedHashMap<String, Object>();
            x.put("median", num(Stats.median(v)));
            x.put("min", num(Stats.min(v)));
            x.put("max", num(Stats.max(v)));
            x.put("values", Arrays.stream(v).boxed().toList());
            return x;
        }

        static Double num(double v) { return Double.isNaN(v) || Double.isInfinite(v) ? null : v; }
    }

    /** The command line as typed (for footers and JSON). */
    static volatile String[] ARGS = new String[0];

    static String commandLine() {
        return "./jbang Compare.java " + Arrays.stream(ARGS).map(x -> x.matches("[\\w./:=,@%+-]+") ? x : "'" + x.replace("'", "'\\''") + "'").collect(Collectors.joining(" "));
    }

    static String fmt(double v, String unit) {
        return switch (unit) {
            case "req/s" -> fmtInt(v);
            case "MB" -> String.format(Locale.ROOT, "%.1f", v);
            default -> v < 10 ? String.format(Locale.ROOT, "%.2f", v) : v < 100 ? String.format(Locale.ROOT, "%.1f", v) : fmtInt(v);
        };
    }

    static String fmtInt(double v) { return String.format(Locale.ROOT, "%,.0f", v); }

    static String fmtRatio(double r) { return String.format(Locale.ROOT, r >= 10 ? "%.0f" : "%.2f", r); }

    static String fmtDuration(Duration d) { return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms"; }

    // ---- Experiments (issue 11) ----
    // Each seed's lesson as one command that starts the servers itself, prints a table, and draws the chart:
    //   architectures  seed 002: total time of N simultaneous one-shot /io and /cpu requests, per server model;
    //   echo-race      seed 004: 10,000 connections echoing 100 bytes, every EchoServer mode (and the C epoll pair);
    //   prime-race     seed 001: LongPrime, Echo, SmallPrime on three connections: who answers first, per model.
    // --html FILE writes one self-contained page (tables, inline SVG drawn here, machine and command in the footer),
    // --json FILE every figure, --svg DIR each chart as its own file. The servers run unpinned on purpose: how a
    // model uses every core is part of what these experiments show.

    /** The report files every experiment can write (`compare` has its own --json, and --html through writeCompareHtml). */
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
                throw Failure.of("cannot write the report: " + e.getClass().getSimpleName() + " " + e.getMessage() + " (check the path given to --html, --json or --svg)");
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
            var report = new ExperimentReport(spec.name(), commandLine());
            try {
                run(report);
            } finally {
                Procs.stopAll();
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

        @Override void run(ExperimentReport report) throws Exception {
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
            report.data(figures, Map.of("servers", chosen.stream().map(s -> s.script().command + ":" + s.mode()).toList(),
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

        @Option(names = "--client-mode", description = "How EchoClient waits: ${COMPLETION-CANDIDATES} (virtual: a virtual thread per connection; nio: one Selector).")
        EchoClient.Mode clientMode = EchoClient.Mode.nio;

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

        @Override void run(ExperimentReport report) throws Exception {
            var modeList = list(modes);
            for (String m : modeList) if (!SERVER_MODES.contains(m)) throw Failure.usage("--modes: EchoServer has no mode " + m + " (" + String.join(", ", SERVER_MODES) + ")");
            if (modeList.isEmpty()) throw Failure.usage("--modes: none given");
            if (connections < 1 || connections > 60_000) throw Failure.usage("-n: " + connections + " (1..60000)");
            if (size < 1 || size > 1 << 20) throw Failure.usage("-s: " + size + " (1..1048576 bytes)");
            if (warmup < 0 || warmup > 10) throw Failure.usage("--warmup: " + warmup + " (0..10)");
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
                report.data(rounds, Map.of("connections", connections, "size", size, "servers", servers, "clients", clients,
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
            double cpuBefore = Sample.cpuMs(proc);
            var round = echo.run(config);
            double cpuAfter = Sample.cpuMs(proc);
            var r = echo.report(config, round, EchoClient.Limits.read(), 0);
            return new Round(server, client, connections, size, r.totalMs(), r.latencyUs().p99() / 1000, Double.isNaN(cpuBefore) ? -1 : cpuAfter - cpuBefore,
                    r.failed(), r.failures());
        }

        private static final Pattern C_RESULT = Pattern.compile("total time = ([0-9.]+) ms.* p99 = ([0-9.]+) µs.*failed = (\\d+)(.*)");

        /** A measured round of the C epoll client (tests/c/echo_client.c). */
        Round cRound(String server, Path cDir, int port, Proc proc) throws Exception {
            var cmd = List.of(cDir.resolve("echo_client").toString(), "-p", String.valueOf(port), "-n", String.valueOf(connections),
                    "-s", String.valueOf(size), "-t", String.valueOf(timeout.toMillis()), "-S", nextSource());
            double cpuBefore = Sample.cpuMs(proc);
            var p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            Procs.track(p);
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            double cpuAfter = Sample.cpuMs(proc);
            Matcher m = C_RESULT.matcher(out);
            if (!m.find()) throw Failure.of("the C echo client printed no result: " + out.strip());
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

        @Override void run(ExperimentReport report) throws Exception {
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
                table.row(null, List.of(r.label(), r.offload() ? "on" : "off", ms(r, "LongPrime"), ms(r, "Echo"), ms(r, "SmallPrime"),
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
            report.data(runs, Map.of("runs", specs, "longPrime", "P2305843009213693951", "jvmOptions", Launch.DEFAULT_JVM_OPTIONS));
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
    static final class ExperimentReport {
        final String experiment, command;
        final Machine machineAtStart = Machine.now();
        final Map<String, Object> machine = Map.of("date", machineAtStart.at().toString(), "cores", machineAtStart.cores(),
                "memory_mb", machineAtStart.memoryMb(), "kernel", machineAtStart.kernel(), "load_average", machineAtStart.loadAverage(),
                "jdk", machineAtStart.jdk());
        final List<Chart> charts = new ArrayList<>();
        private final List<Section> sections = new ArrayList<>();
        private final List<String> notes = new ArrayList<>();
        String title = "", intro = "";
        int exitCode = 0;

        record Section(String heading, Table table, List<String> sentences, List<Chart> charts) {}

        ExperimentReport(String experiment, String command) {
            this.experiment = experiment;
            this.command = command;
        }

        void section(String heading, Table table, List<String> sentences, List<Chart> sectionCharts) {
            sections.add(new Section(heading, table, sentences, sectionCharts));
            charts.addAll(sectionCharts);
        }

        void note(String text) { notes.add(text); }

        /** What --json writes besides the machine and the command: every figure, and the settings that made them. */
        Object results = List.of();
        Map<String, Object> settings = Map.of();

        void data(Object results, Map<String, Object> settings) {
            this.results = results;
            this.settings = settings;
        }

        /** The footer as text; `compare` hands in its own (pinning, JVM options, start-up rules). */
        String footer;

        /**
         * `compare --html FILE`: the A/B table, the throughput per path and connection count as a bar chart (medians
         * of the runs), the verdict and the warnings, with compare's own footer. Called once, from Race.Run.all.
         */
        static void writeCompareHtml(Path file, Report r) throws IOException {
            var page = new ExperimentReport("compare", commandLine());
            page.title = "Compare: " + r.run().a().label() + " (A) vs " + r.run().b().label() + " (B)";
            page.intro = r.verdict();
            var t = new Table("figure", "A: " + r.run().a().label(), "B: " + r.run().b().label(), "B/A (95% interval)");
            t.row("contract checks passed", Report.passed(r.contract().get(0)), Report.passed(r.contract().get(1)), "");
            var categories = new ArrayList<String>();
            var a = new ArrayList<Svg.Point>();
            var b = new ArrayList<Svg.Point>();
            for (var f : r.figures()) {
                t.row(f.name() + " (" + f.unit() + ")", f.cell(f.a()), f.cell(f.b()), f.ratioCell());
                if (!f.name().endsWith(" throughput")) continue;
                int x = categories.size();
                categories.add(f.name().substring(0, f.name().length() - " throughput".length()));
                if (f.a().length > 0) a.add(new Svg.Point(x, Stats.median(f.a())));
                if (f.b().length > 0) b.add(new Svg.Point(x, Stats.median(f.b())));
            }
            var series = List.of(new Svg.Series("A: " + r.run().a().label(), a), new Svg.Series("B: " + r.run().b().label(), b));
            String title = "Throughput, median of the runs (req/s)";
            var sentences = new ArrayList<String>();
            String text = r.text();
            text.lines().filter(l -> l.startsWith("Warning: ") || l.startsWith("Note: ")).forEach(sentences::add);
            page.section("A/B table", t, sentences, List.of(new Chart("throughput", title,
                    Svg.barChart(title, page.command, "requests/s", categories, series), series)));
            page.footer = r.footer().strip().replace("\n", ". ");
            ReportFiles.writeFile(file, page.html());
            Progress.say("HTML report: " + file.toAbsolutePath());
        }

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
            if (footer != null) return footer.contains(" Command: ") ? footer : footer + " Command: " + command;
            var m = machineAtStart;
            return "%s; machine: %d cores, %.1f GiB, %s; JDK %s; load average %s at start; servers unpinned, JVM options %s. Command: %s".formatted(
                    DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'").withZone(ZoneOffset.UTC).format(m.at()), m.cores(),
                    m.memoryMb() / 1024.0, m.kernel(), m.jdk(), m.loadAverage(), String.join(" ", Launch.DEFAULT_JVM_OPTIONS), command);
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
            String footer = footerText();
            b.append("<footer><p>").append(esc(footer.substring(0, footer.indexOf(" Command: ")))).append("</p>\n<p>Command: <code>").append(esc(command))
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
                td.num { text-align: right; white-space: nowrap; }
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

    /** Charts drawn as inline SVG: every series a <g class="series">, every point or bar an element with its data. */
    static final class Svg {
        record Point(double x, double y) {}

        record Series(String name, List<Point> points) {}

        /** Colours and dash patterns that stay apart on screen and on a black-and-white printout. */
        static final String[] COLOURS = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"};
        static final String[] DASHES = {"", "6 3", "2 3", "8 3 2 3", "", "6 3", "2 3", "8 3 2 3", "", "6 3"};
        static final int W = 800, LEFT = 70, RIGHT = 230, TOP = 48, BOTTOM = 56;

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

    /**
     * The checks of the README's HTTP contract, as data: each is a name, a line a reader understands, and a body that
     * talks raw bytes to a server and fails with what it sent and what came back. Compare's `test` and `compare` run
     * them against any side; tests/HttpContract.java turns the same list into JUnit tests for every mode of both
     * servers. There is no second copy.
     */
    public static final class Contract {
        private Contract() {}

        /** A check: its name (the test's name in the suite), what it pins down, and how. */
        public record Check(String name, String what, Body body) {}

        public interface Body { void run(Site site) throws Exception; }

        /** A check that cannot say anything about this side (the reason says why); not a failure. */
        public static final class Skip extends RuntimeException {
            public Skip(String reason) { super(reason, null, false, false); }
        }

        /** A check that failed: the message says what was sent and what came back. */
        public static final class CheckFailed extends AssertionError {
            CheckFailed(String message) { super(message); }
        }

        /** What a check needs to know about the server it talks to. */
        public interface Site {
            int port();

            /** The value of "server" in /health; null: any non-blank string. */
            default String expectedServer() { return null; }

            /** The value of "mode" in /health; null: any non-blank string. */
            default String expectedMode() { return null; }

            /** The web root holds the contract's files (Fixture), and --directory is its uploads folder; null: unknown root. */
            default Fixture fixture() { return null; }

            default boolean servesConnectionsConcurrently() { return true; }

            /** Whether one slow request delays requests on other connections; null: unknown (that check is skipped). */
            default Boolean slowRequestBlocksOthers() { return null; }

            /** The port of the same server started without --directory; -1: none (that check is skipped). */
            default int portWithoutDirectory() throws Exception { return -1; }
        }

        /** The contract's web root: the files the static checks rely on, in a temporary folder. */
        public record Fixture(Path base, Path root, Path outside, Path uploads) {
            public static Fixture create() throws IOException {
                Path base = Files.createTempDirectory("contract-");
                var f = new Fixture(base, base.resolve("www"), base.resolve("outside"), base.resolve("uploads"));
                Path root = f.root;
                Files.createDirectories(root.resolve("docs"));
                Files.createDirectories(f.outside);
                Files.createDirectories(f.uploads);
                Files.writeString(root.resolve("index.html"), "<!DOCTYPE html><html><head><title>Test root</title></head><body>" + "hello ".repeat(100) + "</body></html>");
                Files.writeString(root.resolve("docs/index.html"), "<html><body>nested page</body></html>");
                Files.writeString(root.resolve("style.css"), "body { color: red; }\n".repeat(20));
                Files.writeString(root.resolve("app.js"), "console.log('hi');\n");
                Files.writeString(root.resolve("logo.svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>");
                Files.writeString(root.resolve("data.json"), "{\"a\":1}");
                Files.writeString(root.resolve("note.txt"), "plain text\n");
                Files.write(root.resolve("blob.bin"), new byte[]{0, 1, 2, (byte) 255});
                Files.writeString(root.resolve(".hidden"), "SECRET-HIDDEN");
                Files.writeString(f.outside.resolve("secret.txt"), "SECRET-OUTSIDE");
                Files.createSymbolicLink(root.resolve("link-out"), f.outside.resolve("secret.txt"));
                Files.createSymbolicLink(root.resolve("dir-out"), f.outside);
                return f;
            }

            public void delete() {
                try (var files = Files.walk(base)) {
                    files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                } catch (IOException e) {
                    System.err.println("[compare] could not delete " + base + ": " + e.getMessage());
                }
            }
        }

        /** One result of a check against a side. */
        public record Outcome(String check, Verdict verdict, String detail) {
            public Outcome { detail = detail == null ? "" : detail; }  // an exception without a message
        }

        public enum Verdict { PASS, FAIL, SKIP }

        /** All outcomes for one side. */
        public record Report(String side, List<Outcome> outcomes) {
            public boolean passed() { return outcomes.stream().noneMatch(o -> o.verdict == Verdict.FAIL); }

            public long count(Verdict v) { return outcomes.stream().filter(o -> o.verdict == v).count(); }
        }

        /** Runs one check: PASS, FAIL with the reason, or SKIP with the reason. */
        public static Outcome run(Check c, Site site) {
            try {
                c.body.run(site);
                return new Outcome(c.name, Verdict.PASS, "");
            } catch (Skip s) {
                return new Outcome(c.name, Verdict.SKIP, s.getMessage());
            } catch (AssertionError | Exception e) {
                return new Outcome(c.name, Verdict.FAIL, e instanceof AssertionError ? e.getMessage() : e.toString());
            }
        }

        public static Report check(String side, Site site, Consumer<Outcome> each) {
            var out = new ArrayList<Outcome>();
            for (var c : CHECKS) {
                var o = run(c, site);
                out.add(o);
                if (each != null) each.accept(o);
            }
            return new Report(side, out);
        }

        /** The PASS/FAIL table: one row per check, one column per side; `≠` marks a row where the sides differ. */
        public static String table(List<Report> reports) {
            var header = new ArrayList<String>(List.of("check"));
            reports.forEach(r -> header.add(r.side));
            var t = new Table(header.toArray(String[]::new));
            for (int i = 0; i < CHECKS.size(); i++) {
                int row = i;
                var cells = new ArrayList<String>(List.of(CHECKS.get(i).what));
                var verdicts = reports.stream().map(r -> r.outcomes.get(row).verdict).toList();
                verdicts.forEach(v -> cells.add(v.name()));
                t.row(reports.size() > 1 && new HashSet<>(verdicts).size() > 1 ? "≠" : null, cells);
            }
            var totals = new ArrayList<String>(List.of("passed"));
            reports.forEach(r -> totals.add(r.count(Verdict.PASS) + "/" + (r.outcomes.size() - r.count(Verdict.SKIP))));
            t.row(null, totals);
            var sb = new StringBuilder(t.toString());
            for (var r : reports) {
                for (var o : r.outcomes) {
                    if (o.verdict != Verdict.PASS) sb.append(o.verdict).append(" ").append(r.side).append(": ").append(o.check).append(": ").append(oneLine(o.detail)).append('\n');
                }
            }
            return sb.toString();
        }

        static String oneLine(String s) {
            String l = s == null ? "" : s.replace("\r", "\\r").replace("\n", "\\n");
            return l.length() > 400 ? l.substring(0, 400) + "..." : l;
        }

        // ---------------------------------------------------------------- the checks, in the README's order

        public static final List<Check> CHECKS = List.of(
                new Check("rootServesIndexHtmlWithValidators", "GET / serves index.html, exact length, ETag, Last-Modified", Contract::rootServesIndexHtmlWithValidators),
                new Check("contentTypeFollowsTheExtension", "Content-Type follows the extension", Contract::contentTypeFollowsTheExtension),
                new Check("headSendsTheHeadersOfGetAndNoBody", "HEAD: the headers of GET, no body", Contract::headSendsTheHeadersOfGetAndNoBody),
                new Check("matchingValidatorsGive304WithoutBody", "If-None-Match / If-Modified-Since give 304", Contract::matchingValidatorsGive304WithoutBody),
                new Check("aDirectoryServesItsIndexAndRedirectsWithoutSlash", "a directory: its index, 301 without slash", Contract::aDirectoryServesItsIndexAndRedirectsWithoutSlash),
                new Check("nothingOutsideTheRootIsServed", "traversal, hidden files, symlinks out: 404", Contract::nothingOutsideTheRootIsServed),
                new Check("gzipWhenAcceptEncodingAllowsIt", "gzip when Accept-Encoding allows it", Contract::gzipWhenAcceptEncodingAllowsIt),
                new Check("healthSaysWhoIsAnswering", "GET /health says who answers", Contract::healthSaysWhoIsAnswering),
                new Check("createReturns201WithLocationAndTheItemCanBeRead", "POST /api/create: 201, Location, item listed", Contract::createReturns201WithLocationAndTheItemCanBeRead),
                new Check("createRejectsBadInputWithAReason", "POST /api/create: 400/413/415 with a reason", Contract::createRejectsBadInputWithAReason),
                new Check("concurrentCreatesGetUniqueIdsAndNoneIsLost", "200 concurrent creates: unique ids, none lost", Contract::concurrentCreatesGetUniqueIdsAndNoneIsLost),
                new Check("chunkedRequestBodyIsAccepted", "a chunked request body", Contract::chunkedRequestBodyIsAccepted),
                new Check("expect100ContinueIsAnsweredBeforeTheBody", "Expect: 100-continue", Contract::expect100ContinueIsAnsweredBeforeTheBody),
                new Check("apiEchoReturnsTheJsonItReceived", "POST /api/echo returns the JSON", Contract::apiEchoReturnsTheJsonItReceived),
                new Check("echoReturnsThePercentDecodedText", "GET /echo/{text}, percent-decoded", Contract::echoReturnsThePercentDecodedText),
                new Check("userAgentIsEchoedAndRequired", "GET /user-agent, 400 without one", Contract::userAgentIsEchoedAndRequired),
                new Check("filesAreWrittenAndReadInTheDirectoryOnly", "/files/{name}: written, read, no escape", Contract::filesAreWrittenAndReadInTheDirectoryOnly),
                new Check("filesAre404WithoutADirectory", "/files without --directory: 404", Contract::filesAre404WithoutADirectory),
                new Check("ioAndCpuTasksAnswerWithTheirResult", "/io and /cpu answer, 400 on bad input", Contract::ioAndCpuTasksAnswerWithTheirResult),
                new Check("aSlowRequestBlocksOthersOnlyWhereTheModelSaysSo", "a slow request blocks others only where the model says so", Contract::aSlowRequestBlocksOthersOnlyWhereTheModelSaysSo),
                new Check("wrongMethodIs405WithAllowAndUnknownMethodIs501", "405 with Allow, 501 for unknown methods", Contract::wrongMethodIs405WithAllowAndUnknownMethodIs501),
                new Check("badRequestsGet4xxAndTheServerKeepsServing", "malformed requests: 4xx, server goes on", Contract::badRequestsGet4xxAndTheServerKeepsServing),
                new Check("connectionsAreKeptAliveUntilCloseIsAsked", "keep-alive until Connection: close", Contract::connectionsAreKeptAliveUntilCloseIsAsked));

        static final JsonMapper JSON = JsonMapper.builder().build();

        static Fixture needFixture(Site s) {
            if (s.fixture() == null) throw new Skip("needs the contract's web root (a side Compare starts, or a cmd: side with {root})");
            return s.fixture();
        }

        // ---------------------------------------------------------------- static files

        static void rootServesIndexHtmlWithValidators(Site s) throws Exception {
            needFixture(s);
            var r = request(s, "GET", "/");
            status(200, r, "GET /");
            equal("text/html; charset=utf-8", r.header("Content-Type"), "GET / Content-Type: " + r);
            expect(r.text().contains("<title>Test root</title>"), "GET / is the root's index.html: " + r);
            equal(String.valueOf(r.body().length), r.header("Content-Length"), "Content-Length is exact");
            expect(r.header("ETag") != null, "ETag: " + r);
            expect(r.header("Last-Modified") != null, "Last-Modified: " + r);
        }

        static void contentTypeFollowsTheExtension(Site s) throws Exception {
            needFixture(s);
            Map<String, String> expected = new LinkedHashMap<>();
            expected.put("/style.css", "text/css; charset=utf-8");
            expected.put("/app.js", "text/javascript; charset=utf-8");
            expected.put("/logo.svg", "image/svg+xml");
            expected.put("/data.json", "application/json");
            expected.put("/note.txt", "text/plain; charset=utf-8");
            expected.put("/blob.bin", "application/octet-stream");
            expected.put("/docs/", "text/html; charset=utf-8");
            for (var e : expected.entrySet()) {
                var r = request(s, "GET", e.getKey());
                status(200, r, "GET " + e.getKey());
                equal(e.getValue(), r.header("Content-Type"), "GET " + e.getKey() + " -> " + r);
            }
            expect(Arrays.equals(new byte[]{0, 1, 2, (byte) 255}, request(s, "GET", "/blob.bin").body()), "binary file byte for byte");
        }

        static void headSendsTheHeadersOfGetAndNoBody(Site s) throws Exception {
            int length = request(s, "GET", "/index.html").body().length;
            try (var c = new Wire(s.port())) {
                c.send("HEAD /index.html HTTP/1.1\r\nHost: test\r\n\r\n");
                var head = c.readHeadResponse();
                status(200, head, "HEAD /index.html");
                equal(String.valueOf(length), head.header("Content-Length"), "HEAD shows the length a GET gets");
                // If the server had sent a body after the HEAD response, it would be read here as the next status line.
                c.send("GET /health HTTP/1.1\r\nHost: test\r\n\r\n");
                status(200, c.readResponse(), "GET /health after HEAD on the same connection");
            }
        }

        static void matchingValidatorsGive304WithoutBody(Site s) throws Exception {
            needFixture(s);
            var first = request(s, "GET", "/style.css");
            String etag = first.header("ETag"), lastModified = first.header("Last-Modified");
            var byTag = request(s, "GET", "/style.css", "If-None-Match: " + etag);
            status(304, byTag, "If-None-Match: " + etag);
            equal(0, byTag.body().length, "304 has no body");
            equal(etag, byTag.header("ETag"), "304 repeats the ETag");
            status(304, request(s, "GET", "/style.css", "If-None-Match: \"other\", " + etag), "a list of tags");
            status(304, request(s, "GET", "/style.css", "If-None-Match: *"), "If-None-Match: *");
            status(304, request(s, "GET", "/style.css", "If-Modified-Since: " + lastModified), "If-Modified-Since = Last-Modified");
            status(200, request(s, "GET", "/style.css", "If-None-Match: \"other\""), "a tag that does not match");
            status(200, request(s, "GET", "/style.css", "If-Modified-Since: Mon, 01 Jan 1990 00:00:00 GMT"), "an old date");
            status(200, request(s, "GET", "/style.css", "If-None-Match: \"other\"", "If-Modified-Since: " + lastModified),
                    "If-Modified-Since is ignored when If-None-Match is present");
        }

        static void aDirectoryServesItsIndexAndRedirectsWithoutSlash(Site s) throws Exception {
            needFixture(s);
            var r = request(s, "GET", "/docs");
            status(301, r, "GET /docs");
            equal("/docs/", r.header("Location"), "Location of GET /docs");
            var page = request(s, "GET", "/docs/");
            status(200, page, "GET /docs/");
            expect(page.text().contains("nested page"), "GET /docs/ serves docs/index.html: " + page);
        }

        static void nothingOutsideTheRootIsServed(Site s) throws Exception {
            for (String target : List.of("/../outside/secret.txt", "/%2e%2e/outside/secret.txt", "/docs/%2E%2E/%2e%2e/outside/secret.txt",
                    "/..%2foutside%2fsecret.txt", "/%2e%2e%2foutside%2fsecret.txt", "/docs/..%5c..%5coutside%5csecret.txt",
                    "/.hidden", "/%2ehidden", "/link-out", "/dir-out/secret.txt", "/index.html%00.txt", "/no-such-file")) {
                var r = request(s, "GET", target);
                jsonError(404, r, "GET " + target);
                expect(!r.text().contains("SECRET"), "GET " + target + " leaked: " + r);
            }
            status(200, request(s, "GET", "/health"), "still serving");
        }

        // ---------------------------------------------------------------- gzip

        static void gzipWhenAcceptEncodingAllowsIt(Site s) throws Exception {
            needFixture(s);
            String plain = request(s, "GET", "/index.html").text();
            Map<String, Boolean> cases = new LinkedHashMap<>();
            cases.put("gzip", true);
            cases.put("deflate, gzip;q=0.5, br", true);
            cases.put("GZIP", true);
            cases.put("*", true);
            cases.put("gzip;q=0", false);
            cases.put("gzip;q=0, *", false);
            cases.put("identity", false);
            cases.put("br, deflate", false);
            cases.put("*;q=0", false);
            for (var c : cases.entrySet()) {
                var r = request(s, "GET", "/index.html", "Accept-Encoding: " + c.getKey());
                String what = "Accept-Encoding: " + c.getKey();
                status(200, r, what);
                equal(c.getValue() ? "gzip" : null, r.header("Content-Encoding"), what + " -> " + r);
                equal("Accept-Encoding", r.header("Vary"), what + ": Vary -> " + r);
                equal(String.valueOf(r.body().length), r.header("Content-Length"), what + ": length of the bytes sent");
                equal(plain, r.text(), what + ": same content");
            }
            var echo = request(s, "GET", "/echo/abc", "Accept-Encoding: gzip");
            equal("gzip", echo.header("Content-Encoding"), "small text is gzipped too: " + echo);
            equal("abc", echo.text(), "gunzipped /echo/abc");
            var binary = request(s, "GET", "/blob.bin", "Accept-Encoding: gzip");
            equal(null, binary.header("Content-Encoding"), "application/octet-stream is not compressed: " + binary);
        }

        // ---------------------------------------------------------------- /health and the JSON API

        static void healthSaysWhoIsAnswering(Site s) throws Exception {
            var r = request(s, "GET", "/health");
            status(200, r, "GET /health");
            equal("*", r.header("Access-Control-Allow-Origin"), "Access-Control-Allow-Origin of /health");
            JsonNode h = json(r);
            equal("ok", text(h, "status"), "status in " + r);
            expectText(s.expectedServer(), text(h, "server"), "server in " + r);
            expectText(s.expectedMode(), text(h, "mode"), "mode in " + r);
            equal(s.port(), h.path("port").intValue(), "port in " + r);
            expect(h.path("uptime_ms").isIntegralNumber() && h.get("uptime_ms").longValue() >= 0, "uptime_ms in " + r);
        }

        static void createReturns201WithLocationAndTheItemCanBeRead(Site s) throws Exception {
            var r = post(s, "/api/create", "application/json; charset=utf-8", "{\"name\": \"Grüße\"}");
            status(201, r, "POST /api/create");
            JsonNode created = json(r);
            long id = created.path("id").longValue();
            equal("Grüße", text(created, "name"), "name in " + r);
            equal("Resource created successfully", text(created, "message"), "message in " + r);
            try {
                Instant.parse(text(created, "created_at"));
            } catch (RuntimeException e) {
                throw new CheckFailed("created_at is not ISO-8601: " + r);
            }
            equal("/api/items/" + id, r.header("Location"), "Location of " + r);
            JsonNode item = json(request(s, "GET", r.header("Location")));
            equal(id, item.path("id").longValue(), "id of the item read back");
            equal("Grüße", text(item, "name"), "name of the item read back");
            equal(created.get("created_at"), item.get("created_at"), "created_at of the item read back");
            boolean listed = false;
            for (JsonNode i : json(request(s, "GET", "/api/items"))) listed |= i.path("id").longValue() == id;
            expect(listed, "the new item is in /api/items");
            jsonError(404, request(s, "GET", "/api/items/999999999"), "unknown id");
            jsonError(404, request(s, "GET", "/api/items/abc"), "non-numeric id");
        }

        static void createRejectsBadInputWithAReason(Site s) throws Exception {
            jsonError(400, post(s, "/api/create", "application/json", "{\"name\": "), "truncated JSON");
            jsonError(400, post(s, "/api/create", "application/json", "{\"name\": \"a\"} trailing"), "trailing garbage");
            jsonError(400, post(s, "/api/create", "application/json", ""), "empty body");
            jsonError(400, post(s, "/api/create", "application/json", "{}"), "missing name");
            jsonError(400, post(s, "/api/create", "application/json", "{\"name\": \"   \"}"), "blank name");
            jsonError(400, post(s, "/api/create", "application/json", "{\"name\": 42}"), "name not a string");
            jsonError(400, post(s, "/api/create", "application/json", "[\"name\"]"), "not an object");
            jsonError(415, post(s, "/api/create", "text/plain", "{\"name\": \"a\"}"), "text/plain body");
            jsonError(415, post(s, "/api/create", null, "{\"name\": \"a\"}"), "no Content-Type");
            status(201, post(s, "/api/create", "application/vnd.test+json", "{\"name\": \"a\"}"), "a +json type is JSON");
            String big = "{\"name\": \"" + "x".repeat(1_100_000) + "\"}";
            jsonError(413, post(s, "/api/create", "application/json", big), "a body over 1 MiB");
            // The same with a chunked body: no Content-Length to judge by, so the limit applies while reading.
            try (var c = new Wire(s.port())) {
                c.send("POST /api/create HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
                byte[] chunk = ("100000\r\n" + "x".repeat(0x100000) + "\r\n").getBytes(StandardCharsets.ISO_8859_1);
                try {
                    c.send(chunk);
                    c.send(chunk);
                    c.send("0\r\n\r\n");
                } catch (IOException serverClosedEarly) {
                    // a server may answer 413 and close before reading everything: the response is still there to read
                }
                jsonError(413, c.readResponse(), "a chunked body over 1 MiB");
            }
            status(200, request(s, "GET", "/health"), "still serving");
        }

        static void concurrentCreatesGetUniqueIdsAndNoneIsLost(Site s) throws Exception {
            if (!s.servesConnectionsConcurrently()) throw new Skip("one connection at a time");
            List<Long> ids = concurrently(200, () -> {
                var r = post(s, "/api/create", "application/json", "{\"name\": \"c\"}");
                status(201, r, "concurrent POST /api/create");
                return json(r).path("id").longValue();
            });
            equal(200, new HashSet<>(ids).size(), "200 creates, 200 distinct ids: " + ids);
            Set<Long> listed = new HashSet<>();
            for (JsonNode i : json(request(s, "GET", "/api/items"))) listed.add(i.path("id").longValue());
            expect(listed.containsAll(ids), "every created item is listed");
        }

        static void chunkedRequestBodyIsAccepted(Site s) throws Exception {
            try (var c = new Wire(s.port())) {
                c.send("POST /api/create HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "9\r\n{\"name\": \r\n8\r\n\"chunky\"\r\n1\r\n}\r\n0\r\n\r\n");
                var r = c.readResponse();
                status(201, r, "chunked POST /api/create");
                equal("chunky", text(json(r), "name"), "name in " + r);
            }
        }

        static void expect100ContinueIsAnsweredBeforeTheBody(Site s) throws Exception {
            try (var c = new Wire(s.port())) {
                c.send("POST /api/create HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 15\r\nExpect: 100-continue\r\n\r\n");
                String interim = c.readUntil("\r\n\r\n");
                expect(interim.startsWith("HTTP/1.1 100"), "100 Continue before the body: " + Wire.show(interim));
                c.send("{\"name\": \"exp\"}");
                status(201, c.readResponse(), "the final answer");
            }
        }

        static void apiEchoReturnsTheJsonItReceived(Site s) throws Exception {
            var r = post(s, "/api/echo", "application/json", "{\"a\": [1, 2, {\"b\": null}], \"s\": \"\\u00e9\"}");
            status(200, r, "POST /api/echo");
            equal(JSON.readTree("{\"received\": {\"a\": [1, 2, {\"b\": null}], \"s\": \"é\"}}"), json(r), "POST /api/echo body");
            jsonError(400, post(s, "/api/echo", "application/json", "{nope"), "malformed JSON");
            jsonError(415, post(s, "/api/echo", "text/plain", "{}"), "not JSON");
        }

        // ---------------------------------------------------------------- /echo, /user-agent, /files

        static void echoReturnsThePercentDecodedText(Site s) throws Exception {
            var r = request(s, "GET", "/echo/hello%20w%C3%B6rld+1");
            status(200, r, "GET /echo/...");
            equal("text/plain; charset=utf-8", r.header("Content-Type"), "Content-Type of " + r);
            equal("hello wörld+1", r.text(), "GET /echo/hello%20w%C3%B6rld+1");
            equal("", request(s, "GET", "/echo/").text(), "empty text");
            // Only the status here: a server may refuse such a request-target before any handler runs (the JDK's does).
            status(400, exchange(s, "GET /echo/%zz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"), "malformed percent-encoding");
        }

        static void userAgentIsEchoedAndRequired(Site s) throws Exception {
            var r = request(s, "GET", "/user-agent", "User-Agent: foobar/1.2.3");
            status(200, r, "GET /user-agent");
            equal("text/plain; charset=utf-8", r.header("Content-Type"), "Content-Type of " + r);
            equal("foobar/1.2.3", r.text(), "GET /user-agent");
            jsonError(400, request(s, "GET", "/user-agent"), "no User-Agent");
        }

        static void filesAreWrittenAndReadInTheDirectoryOnly(Site s) throws Exception {
            Fixture f = needFixture(s);
            String name = "upload-" + s.port() + ".bin";
            jsonError(404, request(s, "GET", "/files/" + name), "not written yet");
            var created = post(s, "/files/" + name, "application/octet-stream", "some bytes\r\nmore");
            status(201, created, "POST /files/" + name);
            equal("some bytes\r\nmore", Files.isRegularFile(f.uploads().resolve(name)) ? Files.readString(f.uploads().resolve(name)) : null, "the body is on disk");
            var read = request(s, "GET", "/files/" + name);
            status(200, read, "GET /files/" + name);
            equal("application/octet-stream", read.header("Content-Type"), "Content-Type of " + read);
            equal("some bytes\r\nmore", new String(read.body(), StandardCharsets.ISO_8859_1), "GET /files/" + name);
            for (String bad : List.of("..%2fescaped.txt", "%2e%2e", "..", "a%2fb", "..%5cescaped.txt", "x%00y")) {
                status(400, post(s, "/files/" + bad, "application/octet-stream", "EVIL"), "POST /files/" + bad);
            }
            try (var files = Files.walk(f.base())) {
                expect(files.filter(Files::isRegularFile).noneMatch(p -> {
                    try { return Files.readString(p).equals("EVIL"); } catch (IOException e) { return false; }
                }), "nothing written by a bad name");
            }
        }

        static void filesAre404WithoutADirectory(Site s) throws Exception {
            int p = s.portWithoutDirectory();
            if (p < 0) throw new Skip("needs a second server started without --directory (the test suite starts one)");
            jsonError(404, Wire.exchange(p, "GET /files/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"), "GET /files/x");
            jsonError(404, Wire.exchange(p, "POST /files/x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"), "POST /files/x");
        }

        // ---------------------------------------------------------------- /io and /cpu

        static void ioAndCpuTasksAnswerWithTheirResult(Site s) throws Exception {
            JsonNode io = json(request(s, "GET", "/io?ms=20"));
            equal("io", text(io, "task"), "task of /io");
            equal(20, io.path("ms").intValue(), "ms of /io?ms=20");
            expect(!text(io, "thread").isEmpty(), "thread of /io");
            JsonNode cpu = json(request(s, "GET", "/cpu?n=100"));
            equal(25, cpu.path("primes").intValue(), "25 primes up to 100");
            equal(78498, json(request(s, "GET", "/cpu?n=1000000")).path("primes").intValue(), "78498 primes up to 10^6");
            for (String bad : List.of("/io?ms=abc", "/io?ms=-1", "/io?ms=10001", "/cpu?n=x", "/cpu?n=10000001")) {
                jsonError(400, request(s, "GET", bad), "GET " + bad);
            }
        }

        static void aSlowRequestBlocksOthersOnlyWhereTheModelSaysSo(Site s) throws Exception {
            if (!s.servesConnectionsConcurrently()) throw new Skip("one connection at a time");
            Boolean blocks = s.slowRequestBlocksOthers();
            if (blocks == null) throw new Skip("which models block is known for our servers' modes only");
            // A slow /io request, then a fast one on another connection. Which answer comes first is the lesson.
            // Nothing tells a client when the server has started the slow one, so a blocking model may, rarely,
            // pick up the fast request first: that case is tried again (three times at most), never waited out.
            for (int attempt = 1; ; attempt++) {
                boolean fastWaitedForSlow = fastRequestWaitedForSlowOne(s);
                if (!blocks) {
                    expect(!fastWaitedForSlow, "a fast request must not wait for a slow one in this model");
                    return;
                }
                if (fastWaitedForSlow) return;
                expect(attempt < 3, "a fast request should wait for the slow one in this model, but was answered first 3 times");
            }
        }

        /** True if, when the fast request's answer arrived, the slow request's answer had already come. */
        static boolean fastRequestWaitedForSlowOne(Site s) throws Exception {
            try (var slow = new Wire(s.port()); var fast = new Wire(s.port())) {
                slow.send("GET /io?ms=2000 HTTP/1.1\r\nHost: test\r\n\r\n");
                fast.send("GET /health HTTP/1.1\r\nHost: test\r\n\r\n");
                status(200, fast.readResponse(), "the fast request");
                boolean slowAlreadyAnswered = slow.available() > 0;
                status(200, slow.readResponse(), "the slow request");
                return slowAlreadyAnswered;
            }
        }

        // ---------------------------------------------------------------- methods, errors, connections

        static void wrongMethodIs405WithAllowAndUnknownMethodIs501(Site s) throws Exception {
            Map<String, String> cases = new LinkedHashMap<>();
            cases.put("POST /health", "GET, HEAD");
            cases.put("GET /api/create", "POST");
            cases.put("PUT /api/echo", "POST");
            cases.put("DELETE /files/x", "GET, HEAD, POST");
            cases.put("POST /index.html", "GET, HEAD");
            for (var c : cases.entrySet()) {
                String[] mt = c.getKey().split(" ");
                var r = request(s, mt[0], mt[1], "Content-Length: 0");
                jsonError(405, r, c.getKey());
                equal(c.getValue(), r.header("Allow"), c.getKey() + " -> " + r);
            }
            var options = request(s, "OPTIONS", "/health");
            status(204, options, "OPTIONS /health");
            equal("GET, HEAD", options.header("Allow"), "Allow of OPTIONS /health");
            jsonError(501, request(s, "BREW", "/health"), "BREW /health");
            jsonError(404, request(s, "GET", "/no/such/path"), "unknown path");
        }

        static void badRequestsGet4xxAndTheServerKeepsServing(Site s) throws Exception {
            Map<String, Integer> cases = new LinkedHashMap<>();
            cases.put("GET /health HTTP/1.1\r\n\r\n", 400);                                  // no Host
            cases.put("GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);            // two Hosts
            cases.put("GET /health HTTP/1.1\r\nHost: a\r\nX-Bad: a\u0001b\r\n\r\n", 400);    // control character
            cases.put("GET /health HTTP/3.0\r\nHost: a\r\n\r\n", 505);
            cases.put("GET /health HTTP/1.1\r\nHost : a\r\n\r\n", 400);                       // space before colon
            cases.put("POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400);
            cases.put("POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
            cases.put("POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400); // bad chunk size
            cases.put("POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n{}", 501);   // unknown coding
            for (var c : cases.entrySet()) {
                try (var conn = new Wire(s.port())) {
                    conn.send(c.getKey());
                    status(c.getValue(), conn.readResponse(), "sent " + Wire.show(c.getKey()));
                }
            }
            // A client that sends half a request and vanishes must not take the server with it.
            try (var conn = new Wire(s.port())) {
                conn.send("POST /api/create HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na");
            }
            try (var conn = new Wire(s.port())) {
                conn.send("GET /hea");
            }
            status(200, request(s, "GET", "/health"), "still serving");
        }

        static void connectionsAreKeptAliveUntilCloseIsAsked(Site s) throws Exception {
            try (var c = new Wire(s.port())) {
                for (int i = 0; i < 3; i++) {
                    c.send("GET /health HTTP/1.1\r\nHost: test\r\n\r\n");
                    var r = c.readResponse();
                    status(200, r, "request " + (i + 1) + " on one connection");
                    expect(!"close".equals(r.header("Connection")), "request " + (i + 1) + " kept alive: " + r);
                }
                c.send("GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
                var last = c.readResponse();
                status(200, last, "Connection: close");
                equal("close", last.header("Connection"), "Connection: close is echoed");
                expect(c.closedByPeer(Duration.ofSeconds(10)), "then the server closes the connection");
            }
            try (var c = new Wire(s.port())) {
                c.send("GET /health HTTP/1.0\r\n\r\n");
                status(200, c.readResponse(), "HTTP/1.0");
                expect(c.closedByPeer(Duration.ofSeconds(10)), "HTTP/1.0 without keep-alive is closed after the response");
            }
        }

        // ---------------------------------------------------------------- helpers of the checks

        /** Sends a request (Host, the extra header lines, Connection: close) on a fresh connection; every answer has a Date. */
        static Wire.Reply request(Site s, String method, String target, String... headerLines) throws IOException {
            var sb = new StringBuilder(method + " " + target + " HTTP/1.1\r\nHost: test\r\n");
            for (String h : headerLines) sb.append(h).append("\r\n");
            String raw = sb.append("Connection: close\r\n\r\n").toString();
            var r = exchange(s, raw);
            expect(r.header("Date") != null, "every response has a Date header; sent " + Wire.show(raw) + " got " + r);
            return r;
        }

        static Wire.Reply exchange(Site s, String raw) throws IOException { return Wire.exchange(s.port(), raw); }

        static Wire.Reply post(Site s, String target, String contentType, String body) throws IOException {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            String raw = "POST " + target + " HTTP/1.1\r\nHost: test\r\n" + (contentType == null ? "" : "Content-Type: " + contentType + "\r\n")
                    + "Content-Length: " + b.length + "\r\nConnection: close\r\n\r\n" + new String(b, StandardCharsets.ISO_8859_1);
            try (var c = new Wire(s.port())) {
                try {
                    c.send(raw);
                } catch (IOException e) {
                    // The server answered (413) and closed while the body was still going out: its answer is still to read.
                }
                return c.readResponse();
            }
        }

        static void expect(boolean ok, String message) {
            if (!ok) throw new CheckFailed(message);
        }

        static void equal(Object expected, Object actual, String what) {
            if (!Objects.equals(expected, actual)) throw new CheckFailed(what + " ==> expected: <" + expected + "> but was: <" + actual + ">");
        }

        /** The expected text, or any non-blank text when nothing particular is expected. */
        static void expectText(String expected, String actual, String what) {
            if (expected != null) equal(expected, actual, what);
            else expect(actual != null && !actual.isBlank(), what + ": a non-blank string expected");
        }

        static void status(int expected, Wire.Reply r, String what) {
            if (r.status() != expected) throw new CheckFailed(what + " ==> expected status " + expected + " but was " + r);
        }

        /** An error answer: the status, and a JSON body {"error": "..."} with a non-empty reason. */
        static void jsonError(int expected, Wire.Reply r, String what) {
            status(expected, r, what);
            expect(r.header("Content-Type") != null && r.header("Content-Type").startsWith("application/json"), what + ": error body must be JSON: " + r);
            JsonNode error = parse(r, what).get("error");
            expect(error != null && error.isString() && !error.stringValue().isBlank(), what + ": {\"error\": reason} expected: " + r);
        }

        static JsonNode json(Wire.Reply r) {
            expect(r.header("Content-Type") != null && r.header("Content-Type").startsWith("application/json"), "JSON expected: " + r);
            return parse(r, "JSON");
        }

        static JsonNode parse(Wire.Reply r, String what) {
            try {
                return JSON.readTree(r.text());
            } catch (RuntimeException e) {
                throw new CheckFailed(what + ": not JSON: " + r);
            }
        }

        static String text(JsonNode n, String field) {
            JsonNode v = n.get(field);
            return v == null || !v.isString() ? null : v.stringValue();
        }

        /** Runs n tasks at once (each on its own virtual thread, all released together) and returns their results. */
        static <T> List<T> concurrently(int n, Callable<T> task) throws Exception {
            var start = new CountDownLatch(1);
            try (var ex = Executors.newVirtualThreadPerTaskExecutor()) {
                var futures = new ArrayList<Future<T>>();
                for (int i = 0; i < n; i++) futures.add(ex.submit(() -> { start.await(); return task.call(); }));
                start.countDown();
                var out = new ArrayList<T>();
                for (var f : futures) {
                    try {
                        out.add(f.get(120, TimeUnit.SECONDS));
                    } catch (ExecutionException e) {
                        if (e.getCause() instanceof AssertionError a) throw a;
                        throw e;
                    }
                }
                return out;
            }
        }
    }

    /** A raw HTTP/1.1 client connection to 127.0.0.1 for the contract's byte-level conversations. Every read times out. */
    public static final class Wire implements AutoCloseable {
        static final Duration READ_TIMEOUT = Duration.ofSeconds(20);
        final Socket socket;
        private final InputStream in;
        private final OutputStream out;

        public Wire(int port) throws IOException {
            socket = new Socket();
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            socket.setSoTimeout((int) READ_TIMEOUT.toMillis());
            socket.setTcpNoDelay(true);
            in = new BufferedInputStream(socket.getInputStream());
            out = socket.getOutputStream();
        }

        /** A response as it came off the wire. Header names are case-insensitive. */
        public record Reply(String version, int status, String reason, Map<String, List<String>> headers, byte[] body) {
            public String header(String name) {
                var v = headers.get(name);
                return v == null ? null : String.join(", ", v);
            }

            /** The body as UTF-8, gunzipped first if Content-Encoding says gzip. */
            public String text() {
                try {
                    byte[] b = "gzip".equalsIgnoreCase(header("Content-Encoding"))
                            ? new GZIPInputStream(new ByteArrayInputStream(body)).readAllBytes() : body;
                    return new String(b, StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new Contract.CheckFailed("body says gzip but is not: " + show(body));
                }
            }

            @Override public String toString() {
                return version + " " + status + " " + reason + " " + headers + " body=" + show(body);
            }
        }

        public static Reply exchange(int port, String rawRequest) throws IOException {
            try (var c = new Wire(port)) {
                c.send(rawRequest);
                return rawRequest.startsWith("HEAD ") ? c.readHeadResponse() : c.readResponse();
            }
        }

        public Wire send(String text) throws IOException { return send(text.getBytes(StandardCharsets.ISO_8859_1)); }

        public Wire send(byte[] bytes) throws IOException {
            out.write(bytes);
            out.flush();
            return this;
        }

        public int available() throws IOException { return in.available(); }

        /** Bytes up to and including the first occurrence of the delimiter. */
        public String readUntil(String delimiter) throws IOException {
            var buf = new ByteArrayOutputStream();
            byte[] d = delimiter.getBytes(StandardCharsets.ISO_8859_1);
            while (true) {
                int b = in.read();
                if (b < 0) throw new EOFException("closed before '" + show(d) + "'; got: " + show(buf.toByteArray()));
                buf.write(b);
                byte[] sofar = buf.toByteArray();
                if (sofar.length >= d.length && Arrays.equals(sofar, sofar.length - d.length, sofar.length, d, 0, d.length))
                    return buf.toString(StandardCharsets.ISO_8859_1);
            }
        }

        /** True if the peer closed the connection (EOF or reset) within the time given. */
        public boolean closedByPeer(Duration within) throws IOException {
            socket.setSoTimeout((int) within.toMillis());
            try {
                return in.read() < 0;
            } catch (SocketTimeoutException e) {
                return false;
            } catch (IOException reset) {
                return true;
            }
        }

        public Reply readResponse() throws IOException { return readResponse(false); }

        /** A response to HEAD: never a body, whatever the fields say. */
        public Reply readHeadResponse() throws IOException { return readResponse(true); }

        /** Status line, fields, then the body by Content-Length, chunked, or to EOF (RFC 9112 section 6.3). */
        private Reply readResponse(boolean head) throws IOException {
            String statusLine = line();
            if (statusLine == null) throw new EOFException("connection closed before a status line");
            String[] parts = statusLine.split(" ", 3);
            if (parts.length < 2 || !parts[0].startsWith("HTTP/") || !parts[1].matches("\\d{3}"))
                throw new IOException("not a status line: " + show(statusLine));
            int status = Integer.parseInt(parts[1]);
            var headers = new TreeMap<String, List<String>>(String.CASE_INSENSITIVE_ORDER);
            for (String l; !(l = line()).isEmpty(); ) {
                int colon = l.indexOf(':');
                if (colon <= 0) throw new IOException("bad header line: " + show(l));
                headers.computeIfAbsent(l.substring(0, colon), k -> new ArrayList<>()).add(l.substring(colon + 1).strip());
            }
            var r = new Reply(parts[0], status, parts.length > 2 ? parts[2] : "", headers, new byte[0]);
            if (head || status / 100 == 1 || status == 204 || status == 304) return r;
            byte[] body;
            String te = r.header("Transfer-Encoding"), cl = r.header("Content-Length");
            if (te != null && te.toLowerCase(Locale.ROOT).contains("chunked")) {
                var buf = new ByteArrayOutputStream();
                while (true) {
                    String sizeLine = line();
                    if (sizeLine == null) throw new EOFException("closed inside a chunked body");
                    int semi = sizeLine.indexOf(';');
                    int size = Integer.parseInt((semi >= 0 ? sizeLine.substring(0, semi) : sizeLine).strip(), 16);
                    if (size == 0) {
                        for (String t; (t = line()) != null && !t.isEmpty(); ) { }
                        break;
                    }
                    buf.write(readExactly(size));
                    if (!"".equals(line())) throw new IOException("chunk not followed by CRLF");
                }
                body = buf.toByteArray();
            } else if (cl != null) {
                body = readExactly(Integer.parseInt(cl.strip()));
            } else {
                body = in.readAllBytes();
            }
            return new Reply(r.version(), status, r.reason(), headers, body);
        }

        private byte[] readExactly(int n) throws IOException {
            byte[] b = in.readNBytes(n);
            if (b.length < n) throw new EOFException("wanted " + n + " bytes, got " + b.length + ": " + show(b));
            return b;
        }

        /** A line ending in CRLF (returned without it); null at EOF before any byte. */
        private String line() throws IOException {
            var buf = new ByteArrayOutputStream();
            for (int b; (b = in.read()) >= 0; ) {
                if (b == '\n') {
                    byte[] a = buf.toByteArray();
                    int n = a.length > 0 && a[a.length - 1] == '\r' ? a.length - 1 : a.length;
                    return new String(a, 0, n, StandardCharsets.ISO_8859_1);
                }
                buf.write(b);
            }
            if (buf.size() == 0) return null;
            throw new EOFException("connection closed in the middle of a line: " + show(buf.toByteArray()));
        }

        /** Bytes shown with \r \n and non-printables escaped, cut at 300 characters: for failure messages. */
        public static String show(byte[] b) {
            var sb = new StringBuilder();
            for (byte x : b) {
                int c = x & 0xff;
                if (sb.length() > 300) { sb.append("..."); break; }
                switch (c) {
                    case '\r' -> sb.append("\\r");
                    case '\n' -> sb.append("\\n");
                    default -> sb.append(c >= 32 && c < 127 ? String.valueOf((char) c) : String.format("\\x%02x", c));
                }
            }
            return sb.toString();
        }

        public static String show(String s) { return show(s.getBytes(StandardCharsets.ISO_8859_1)); }

        @Override public void close() throws IOException { socket.close(); }
    }

    // ================================================================ sides: what is compared

    /** A SIDE of a comparison: one of our servers, a URL already serving, or any command. */
    sealed interface Side {
        String spec();

        Running start(Contract.Fixture fixture, List<String> jvmOptions, Pinning pinning) throws Exception;

        /** Work before the timed start (resolving, and if needed compiling, our scripts). */
        default void prepare() {
            if (this instanceof Ours o) JavaCommand.of(o.script());
        }

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
                if (!List.of("127.0.0.1", "localhost", "[::1]").contains(uri.getHost())) {
                    throw Failure.usage("side " + spec + ": Compare loads local servers only (http://127.0.0.1:PORT)");
                }
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
                var args = new ArrayList<>(List.of("-p", "0", "-q", "--root", fixture.root().toString()));
                if (mode != null) args.addAll(List.of("-m", mode));
                var launch = Launch.direct(script, jvmOptions, args);
                var withDirectory = new ArrayList<>(args);
                withDirectory.addAll(List.of("--directory", fixture.uploads().toString()));
                var proc = Procs.start(spec, pinning.server(Launch.direct(script, jvmOptions, withDirectory)), false);
                proc.awaitReady(Duration.ofSeconds(180));
                String label = script.serverName + " (" + (mode == null ? proc.readyMode() : mode) + ")";
                // The contract also checks that /files is 404 without --directory: a second instance, started when asked.
                var extras = new CopyOnWriteArrayList<Proc>();
                Callable<Integer> withoutDirectory = () -> {
                    synchronized (extras) {
                        if (extras.isEmpty()) {
                            var p = Procs.start(spec + " without --directory", pinning.server(launch), false);
                            extras.add(p);
                            p.awaitReady(Duration.ofSeconds(180));
                        }
                        return extras.getFirst().port();
                    }
                };
                return new Running(this, label, "127.0.0.1", proc.port(), proc, false, withoutDirectory, extras);
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
                return new Running(this, spec, uri.getHost(), uri.getPort(), null, false, null, List.of());
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
                return new Running(this, command.split("\\s+")[0] + " (cmd)", "127.0.0.1", port, proc, false, null, List.of());
            }
        }
    }

    /** A side that is up: where it listens, and the process tree Compare started for it (null for a URL). */
    record Running(Side side, String label, String host, int port, Proc proc, boolean startupIncludesJBang,
                   Callable<Integer> withoutDirectory, List<Proc> extras) implements AutoCloseable {
        URI uri(String path) { return URI.create("http://" + host + ":" + port + path); }

        boolean rootIsFixture() { return !(side instanceof Side.Url) && !(side instanceof Side.Command c && !c.command().contains("{root}")); }

        /** What the contract checks may expect of this side. */
        Contract.Site site(Contract.Fixture fixture) {
            String server = side instanceof Side.Ours o ? o.script().serverName : null;
            String mode = side instanceof Side.Ours o && proc != null ? proc.readyMode() : null;
            Contract.Fixture root = rootIsFixture() ? fixture : null;
            return new Contract.Site() {
                @Override public int port() { return port; }
                @Override public String expectedServer() { return server; }
                @Override public String expectedMode() { return mode; }
                @Override public Contract.Fixture fixture() { return root; }
                @Override public boolean servesConnectionsConcurrently() { return !"sequential".equals(mode); }
                @Override public Boolean slowRequestBlocksOthers() { return mode == null ? null : BLOCKING_MODES.contains(mode); }
                @Override public int portWithoutDirectory() throws Exception { return withoutDirectory == null ? -1 : withoutDirectory.call(); }
            };
        }

        /** The modes of our servers in which one slow request holds up the others (one thread serves everyone). */
        static final Set<String> BLOCKING_MODES = Set.of("single", "sequential");

        @Override public void close() {
            extras.forEach(Proc::stop);
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
        /** Set once Ctrl-C (or SIGTERM) began the shutdown: what fails after that is the stop, not an error to report. */
        static volatile boolean stopping;
        private static final boolean SETSID = Files.isExecutable(Path.of("/usr/bin/setsid")) || Files.isExecutable(Path.of("/bin/setsid"));

        static void installShutdownHook() {
            if (HOOKED.compareAndSet(false, true)) {
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    stopping = true;
                    stopAll();
                }, "stop-servers"));
            }
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
                if (server != null) server.stop();   // null while the last edit did not compile
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

    /** The project folder (the one holding ./jbang and Compare.java): COMPARE_HOME, the folder ./jbang started Compare.java from, or the current folder or a parent. */
    static final class Home {
        private static volatile Path dir;

        static Path dir() {
            if (dir != null) return dir;
            String env = System.getenv("COMPARE_HOME");
            var candidates = new ArrayList<Path>();
            if (env != null && !env.isBlank()) candidates.add(Path.of(env));
            // The launcher (./jbang) says which script it started: its folder is the project, from any current folder.
            String script = System.getenv("JBANG_LAUNCHER_SCRIPT");
            if (script != null && script.endsWith("Compare.java")) candidates.add(Path.of(script).toAbsolutePath().getParent());
            for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) candidates.add(p);
            for (Path p : candidates) {
                if (Files.isRegularFile(p.resolve("jbang")) && Files.isRegularFile(p.resolve("Compare.java"))) {
                    return dir = p.toAbsolutePath().normalize();
                }
            }
            throw Failure.usage("cannot find the project folder (the one with ./jbang and Compare.java): start Compare with the project's ./jbang, run it from inside the project, or set COMPARE_HOME");
        }
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
