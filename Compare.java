///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//DEPS info.picocli:picocli:4.7.7
//DEPS tools.jackson.core:jackson-databind:3.3.0
//DEPS org.hdrhistogram:HdrHistogram:2.2.2
//SOURCES LoadTest.java
//SOURCES EchoClient.java
//SOURCES compare/Util.java
//SOURCES compare/Sides.java
//SOURCES compare/Processes.java
//SOURCES compare/ReadyLine.java
//SOURCES compare/Contract.java
//SOURCES compare/ContractReport.java
//SOURCES compare/Wire.java
//SOURCES compare/PairedStats.java
//SOURCES compare/Forks.java
//SOURCES compare/Verdicts.java
//SOURCES compare/TextTable.java
//SOURCES compare/ProcSampler.java
//SOURCES compare/Counts.java
//SOURCES compare/Perf.java
//SOURCES compare/Machine.java
//SOURCES compare/Html.java
//SOURCES compare/Experiment.java
//SOURCES compare/Architectures.java
//SOURCES compare/EchoRace.java
//SOURCES compare/PrimeRace.java
//SOURCES compare/IdleConnections.java
//SOURCES compare/IdleClient.java
//DESCRIPTION Starts two servers, checks them side by side, races them fairly and prints an A/B table a reader can trust.

// Compare: the toolkit's main command. It starts servers as real processes (each in its own process group, all
// stopped on success, failure or Ctrl-C), checks the HTTP contract against each, then races them with LoadTest's
// engine: each side warmed to steady state, then paired rounds of A and B back to back (ABBA), every B/A ratio with a
// 95% interval from the rounds (compare/PairedStats.java), tails from merged histograms, every request counted
// (unanswered, answers per connection), and latency also at the same offered load (open loop, corrected for
// coordinated omission).
//   ./jbang Compare.java compare                       SimpleHttpServer vs ThreadedHttpServer (the default)
//   ./jbang Compare.java compare --a threaded:pool --b threaded:nio --quick
//   ./jbang Compare.java compare --b 'cmd:python3 -m http.server {port} --bind 127.0.0.1 --directory {root}'
//   ./jbang Compare.java test simple threaded:nio http://127.0.0.1:8000
//   ./jbang Compare.java simple --watch -m pool        serve, and restart whenever the script is saved
//   ./jbang Compare.java both                          Simple on :8000 and Threaded on :3000 until Ctrl-C
// What to watch: the `≈ 1 (within noise)` rows (no winner there), STARVED and unanswered requests (a closed loop's
// latency counts only what was answered), the saturation warning (the generator was the limit, not the server), and
// the footer (the JVM options in effect on each side, the warm-up each took, CPU pinning, machine and load).
// This file holds the subcommands and the race; its parts are in compare/: Sides (what is compared), Processes
// (starting and stopping them), Contract, ContractReport and Wire (the HTTP checks), PairedStats and Verdicts
// (figures and report), Counts and Perf (the mechanism per request: system calls, context switches, allocations,
// threads), TextTable, ProcSampler (/proc), Machine, Html (pages and charts), Experiment and one file per experiment
// (Architectures, EchoRace, PrimeRace, IdleConnections, with IdleClient and the C pair in compare/c), Util.

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.*;
import java.nio.file.*;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.stream.Collectors;
import java.util.stream.Stream;

@Command(name = "Compare", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        version = "Compare 1.0",
        description = {"Starts servers, checks them side by side and races them fairly. The default subcommand is `compare`.",
                "A SIDE is simple[:MODE], threaded[:MODE] (started by Compare: the java command ./jbang would run), http://HOST:PORT (already "
                        + "running) or cmd:COMMAND (any command with {port} in it; {root} is the contract's web root)."},
        subcommands = {
                Compare.Simple.class, Compare.Threaded.class, Compare.Prime.class, Compare.Echo.class,
                Compare.Both.class, Compare.Test.class, Compare.CompareCommand.class,
                // The experiments; `echo` and `prime` start those servers in the foreground, so they are `echo-race` and `prime-race`.
                Architectures.class, EchoRace.class, PrimeRace.class, IdleConnections.class,
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
            if (Processes.Procs.stopping) return 130;
            if (e instanceof Util.Failure f) {
                System.err.println("Error: " + f.getMessage());
                return f.exitCode;
            }
            throw e;
        });
        Util.ARGS = args.clone();
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
        return new CompareCommand().call();
    }

    // ================================================================ the foreground servers: simple, threaded, prime, echo

    /**
     * `simple|threaded|prime|echo [--watch] [ARGS...]`: the server in the foreground, its arguments passed through
     * (the Python-vs-Rust comparison's `main.py python`). With --watch, a save of the script or of a file it pulls in restarts it; an edit that
     * does not compile prints the compiler's error and the watch goes on.
     */
    abstract static class Foreground implements Callable<Integer> {
        @Option(names = "--watch", description = "Restart the server whenever its script (or a file it pulls in) is saved.")
        boolean watch;

        @Parameters(paramLabel = "ARGS", description = "Passed to the server as they are (use -- before an option Compare also has, e.g. -- --help).")
        List<String> args = new ArrayList<>();

        abstract Sides.Script script();

        @Override public Integer call() throws Exception {
            Processes.Procs.installShutdownHook();
            return watch ? Processes.Watch.loop(script(), args) : Processes.Procs.foreground(script(), args).waitForExit();
        }
    }

    @Command(name = "simple", mixinStandardHelpOptions = true, description = "Start SimpleHttpServer in the foreground (ARGS passed through).")
    static final class Simple extends Foreground { @Override Sides.Script script() { return Sides.Script.SIMPLE; } }

    @Command(name = "threaded", mixinStandardHelpOptions = true, description = "Start ThreadedHttpServer in the foreground (ARGS passed through).")
    static final class Threaded extends Foreground { @Override Sides.Script script() { return Sides.Script.THREADED; } }

    @Command(name = "prime", mixinStandardHelpOptions = true, description = "Start PrimeEchoServer in the foreground (ARGS passed through).")
    static final class Prime extends Foreground { @Override Sides.Script script() { return Sides.Script.PRIME; } }

    @Command(name = "echo", mixinStandardHelpOptions = true, description = "Start EchoServer in the foreground (ARGS passed through).")
    static final class Echo extends Foreground { @Override Sides.Script script() { return Sides.Script.ECHO; } }

    /** `both`: the Python-vs-Rust comparison's two servers on its two ports (8000 and 3000), until Ctrl-C. */
    @Command(name = "both", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = "SimpleHttpServer on 8000 and ThreadedHttpServer on 3000, both URLs printed, both stopped on Ctrl-C.")
    static final class Both implements Callable<Integer> {
        @Option(names = "--simple-port", description = "Port of SimpleHttpServer.")
        int simplePort = Sides.Script.SIMPLE.defaultPort;

        @Option(names = "--threaded-port", description = "Port of ThreadedHttpServer.")
        int threadedPort = Sides.Script.THREADED.defaultPort;

        @Override public Integer call() throws Exception {
            Processes.Procs.installShutdownHook();
            var simple = Processes.Procs.start("simple", Processes.Launch.viaLauncher(Sides.Script.SIMPLE, List.of("-p", String.valueOf(simplePort))), true);
            var threaded = Processes.Procs.start("threaded", Processes.Launch.viaLauncher(Sides.Script.THREADED, List.of("-p", String.valueOf(threadedPort))), true);
            for (var p : List.of(simple, threaded)) p.awaitReady(Duration.ofSeconds(180));
            System.out.println("SimpleHttpServer:   http://127.0.0.1:" + simple.port() + "/");
            System.out.println("ThreadedHttpServer: http://127.0.0.1:" + threaded.port() + "/");
            System.out.println("Both are running; Ctrl-C stops both.");
            System.out.flush();
            // Whichever ends first (it crashed, or someone stopped it) takes the other with it.
            var first = CompletableFuture.anyOf(simple.process.onExit(), threaded.process.onExit()).get();
            var ended = first == simple.process ? simple : threaded;
            if (Processes.Procs.stopping) return 0;
            Processes.Procs.stopAll();
            throw Util.Failure.of(ended.name + " stopped (exit " + ended.process.exitValue() + ")" + ended.lastLines(5));
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
            Processes.Procs.installShutdownHook();
            var parsed = sides.stream().map(Sides.Side::parse).toList();
            var fixture = Contract.Fixture.create();
            try {
                // Every side at once: the checks mostly wait (a 2 s slow request, closes), so this takes the time of one.
                parsed.stream().parallel().forEach(Sides.Side::prepare);
                var started = new ArrayList<CompletableFuture<ContractReport>>();
                try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
                    for (var side : parsed) {
                        started.add(CompletableFuture.supplyAsync(() -> {
                            Util.Progress.say("starting " + side.spec());
                            try (var running = side.start(fixture, Processes.Launch.jvmOptions(jvmOptions), Sides.Pinning.OFF)) {
                                return checkContract(running, fixture);
                            } catch (Util.Failure f) {
                                throw f;
                            } catch (Exception e) {
                                throw new CompletionException(e);
                            }
                        }, pool));
                    }
                }
                var reports = new ArrayList<ContractReport>();
                for (var f : started) {
                    try {
                        reports.add(f.join());
                    } catch (CompletionException e) {
                        if (e.getCause() instanceof Util.Failure failure) throw failure;
                        throw e;
                    }
                }
                System.out.print(ContractReport.table(reports));
                return reports.stream().allMatch(ContractReport::passed) ? 0 : 1;
            } finally {
                fixture.delete();
            }
        }
    }

    /** The contract checks against one running side, with a progress line per check. */
    static ContractReport checkContract(Sides.Running running, Contract.Fixture fixture) {
        int[] n = {0};
        int total = Contract.CHECKS.size();
        return ContractReport.check(running.side().spec(), running.site(fixture),
                o -> Util.Progress.say("contract " + running.label() + ": " + (++n[0]) + "/" + total + " " + o.check() + " " + o.verdict()));
    }

    // ================================================================ compare: the A/B race

    @Command(name = "compare", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = {"Start A and B, check the contract on both, then, in each of several forks (both servers started afresh), warm each to steady state and race them in paired rounds; print one A/B table with the mechanism counted per request.",
                    "",
                    "Method: the comparison runs in --forks forks; in each, A and B are started afresh (so a verdict is about the servers, "
                            + "not about two processes: two JVMs of one server differ by a few percent), each is warmed up until its throughput "
                            + "over 250 ms windows is steady (3 in a row within 10%%, or --steady-max reached), then every figure is measured "
                            + "in --rounds paired rounds, A and B back to back in ABBA order. A fork's B/A is the Hodges-Lehmann estimate of "
                            + "its rounds' log-ratios ln(B/A) (robust to a round another job on the machine disturbed); the B/A shown is "
                            + "exp of their mean over the forks, and its 95%% interval is Student's t on the forks' estimates (the two-level "
                            + "method of Kalibera & Jones, Rigorous benchmarking in reasonable time, ISMM 2013). With one fork the interval "
                            + "is Wilcoxon's signed-rank on its rounds and speaks about those two processes only. Only an interval that "
                            + "excludes 1 is a difference; one that holds 1 reads \"within noise\". The footer gives the spread between forks "
                            + "and within a fork, and the smallest difference the run could detect. Tails (p99, p99.9) come from each side's "
                            + "merged HdrHistogram and are n/a below 10/(1-p) requests. Why 5 forks of 4 rounds (--quick: 3 of 4): A/A runs "
                            + "(compare --quick --a threaded:nio --b threaded:nio; 2-core VM, Temurin 25.0.3, 2026-12-06, load average 0.4 to 6) "
                            + "put the spread of ln(B/A) between forks at 0.01 to 0.05, as large as a round's where rounds agree, and a single "
                            + "process pair's interval called 21%% of rows different (issue 23, quiet machine); by Kalibera & Jones' rule "
                            + "about 4 rounds a fork then buy the most for the time. See docs/compare-method.md.",
                    "",
                    "Exit codes: 0 done (whatever the verdict, unless --fail-if-worse says otherwise); 1 a side or a check failed; "
                            + "2 a usage error; 3 --fail-if-worse: B's throughput shown worse than A's by more than the limit; 130 interrupted.",
                    ""})
    static final class CompareCommand implements Callable<Integer> {
        @Option(names = "--a", paramLabel = "SIDE", description = "Side A.")
        String a = "simple";

        @Option(names = "--b", paramLabel = "SIDE", description = "Side B.")
        String b = "threaded";

        @Option(names = "--concurrency", split = ",", paramLabel = "N", description = "Closed-loop connection counts.")
        List<Integer> concurrency = new ArrayList<>(List.of(1, 16, 64));

        @Option(names = "--forks", description = "Times A and B are started afresh and raced (the interval is taken over forks; --quick: " + Forks.QUICK_FORKS + "). 1: one pair of processes, the rounds' interval.")
        int forks = Forks.DEFAULT_FORKS;

        @Option(names = {"--rounds", "--runs"}, description = "Paired rounds per figure in each fork; in each, A and B run back to back (A B, then B A, ...). With one fork, 6 at least for a 95%% interval.")
        int rounds = Forks.DEFAULT_ROUNDS;

        @Option(names = "--precision", paramLabel = "PERCENT", description = "Add forks until every throughput row's interval is within ±PERCENT of its estimate (e.g. 3%%), or --max-time runs out; the footer says which. 0: the planned forks only.", converter = Percent.class)
        Double precision;

        @Option(names = "--max-time", description = "With --precision: no fork is started that would end after this (counted from Compare's start).", converter = Util.PositiveDuration.class)
        Duration maxTime = Duration.ofMinutes(10);

        @Option(names = "--fail-if-worse", paramLabel = "PERCENT", description = "Exit 3 when the interval shows B's throughput (the headline figure: closed-loop requests/s, any raced path and connection count) lower than A's by more than PERCENT (e.g. 5%%: the interval's upper bound under 0.95), else 0.", converter = Percent.class)
        Double failIfWorse;

        @Option(names = "--duration", description = "Measured length of one side's run in a round (e.g. 250ms, 1s).", converter = Util.PositiveDuration.class)
        Duration duration = Duration.ofMillis(250);

        @Option(names = "--warmup", description = "Unmeasured load just before each measured run (0: none).", converter = LoadTest.DurationConverter.class)
        Duration warmup = Duration.ofMillis(50);

        @Option(names = "--steady-max", description = "Longest warm-up to steady state, per side, path and fork (0: none; --quick: 2s).", converter = LoadTest.DurationConverter.class)
        Duration steadyMax = Duration.ofSeconds(4);

        static final Duration QUICK_STEADY_MAX = Duration.ofSeconds(2);

        @Option(names = "--rate", description = "Requests/s of the equal-load run (0: half the slower side's best /health throughput).")
        double rate;

        @Option(names = "--static", paramLabel = "PATH", description = "The static file raced beside /health.")
        String staticPath = "/index.html";

        @Option(names = "--quick", description = "A shorter answer (a minute or two on 2 cores, see bench/compare-aa.sh): 16 connections only, " + Forks.QUICK_FORKS + " forks of " + Forks.QUICK_ROUNDS + " rounds, no equal-load rows (too noisy at that length); the same warm-up to steady state.")
        boolean quick;

        @Option(names = "--pin", description = "Servers and load generator on disjoint CPUs (needs >= 2 cores and taskset): ${COMPLETION-CANDIDATES}.")
        Sides.Pinning.Choice pin = Sides.Pinning.Choice.auto;

        @Option(names = "--jvm-option", paramLabel = "OPTION", description = "A JVM option added for both servers, after all others so it wins (repeatable).")
        List<String> jvmOptions = new ArrayList<>();

        @Option(names = "--no-counts", description = "Do not count the mechanism of each closed-loop run (system calls by kind, context switches, "
                + "allocated bytes per request, threads: compare/Counts.java, with perf when present, else /proc).")
        boolean noCounts;

        @Option(names = "--json", paramLabel = "FILE", description = "Write every figure and every run as JSON.")
        Path json;

        @Option(names = "--html", paramLabel = "FILE", description = "Write one self-contained HTML report (table, chart; opens offline, prints well).")
        Path html;

        @CommandLine.Spec CommandLine.Model.CommandSpec spec;

        @Override public Integer call() throws Exception {
            long started = System.nanoTime();
            Processes.Procs.installShutdownHook();
            var given = spec.commandLine().getParseResult();
            if (quick) {
                // --quick changes the defaults only: an option given beside it still counts.
                if (!given.hasMatchedOption("--concurrency")) concurrency = List.of(16);
                if (!given.hasMatchedOption("--steady-max")) steadyMax = QUICK_STEADY_MAX;
                if (!given.hasMatchedOption("--rounds")) rounds = Forks.QUICK_ROUNDS;
                if (!given.hasMatchedOption("--forks")) forks = Forks.QUICK_FORKS;
            }
            if (rounds < 1 || rounds > PairedStats.MAX_ROUNDS) throw Util.Failure.usage("--rounds must be 1 to " + PairedStats.MAX_ROUNDS + ": " + rounds);
            if (forks < 1 || forks > 100) throw Util.Failure.usage("--forks must be 1 to 100: " + forks);
            if (concurrency.isEmpty() || concurrency.stream().anyMatch(c -> c < 1)) throw Util.Failure.usage("--concurrency needs counts of at least 1: " + concurrency);
            if (rate < 0) throw Util.Failure.usage("--rate must not be negative: " + rate);
            if (!staticPath.startsWith("/")) throw Util.Failure.usage("--static must be a path starting with /: " + staticPath);
            var sideA = Sides.Side.parse(a);
            var sideB = Sides.Side.parse(b);
            var machineAtStart = Machine.now();   // before pinning: Compare's own JVM then sees one core
            var race = new Race(this, pinningFor(), Processes.Launch.jvmOptions(jvmOptions), machineAtStart);
            var fixture = Contract.Fixture.create();
            try {
                // The java commands of both scripts first (JBang compiles here when needed), so start-up is only the JVM's.
                Stream.of(sideA, sideB).parallel().forEach(Sides.Side::prepare);
                var outcome = Forks.loop(forks, precision == null ? 0 : precision, maxTime, started, f -> race.fork(f, sideA, sideB, fixture),
                        () -> List.copyOf(Verdicts.headline(race.runs, race.paths, concurrency).values()));
                if (Processes.Procs.stopping) return 130;
                var report = race.report(outcome);
                System.out.print(report.text());
                if (json != null) report.writeJson(json);
                if (html != null) report.writeHtml(html);
                return failIfWorse != null ? worse(report) : 0;
            } finally {
                fixture.delete();
            }
        }

        /** "5%", "5" or "0.5%": a percentage, as a fraction (0.05); 0 to 100. */
        static final class Percent implements CommandLine.ITypeConverter<Double> {
            @Override public Double convert(String v) {
                try {
                    double p = Double.parseDouble(v.strip().replaceFirst("%$", ""));
                    if (p >= 0 && p <= 100) return p / 100;
                } catch (NumberFormatException e) {
                    // said below
                }
                throw new CommandLine.TypeConversionException("a percentage from 0 to 100 (e.g. 5%), not '" + v + "'");
            }
        }

        Sides.Pinning pinningFor() {
            var pinning = Sides.Pinning.choose(pin);
            pinning.pinSelf();
            return pinning;
        }

        /** --fail-if-worse: 3 when some throughput row's interval shows B lower than A by more than the limit (said on stderr), else 0. */
        int worse(Verdicts.Report report) {
            var worse = Verdicts.headline(report.runs(), report.paths(), concurrency).entrySet().stream()
                    .filter(e -> e.getValue().worseBy(failIfWorse, true)).toList();
            for (var e : worse) {
                System.err.println("Worse: " + e.getKey() + " throughput B/A " + Verdicts.fmtRatio(e.getValue().ratio()) + " (" + Verdicts.fmtBound(e.getValue().low())
                        + "–" + Verdicts.fmtBound(e.getValue().high()) + "): B more than " + Forks.percent(failIfWorse) + " below A (--fail-if-worse, exit 3)");
            }
            return worse.isEmpty() ? 0 : 3;
        }

        /**
         * One comparison, fork by fork: in each, A and B started afresh (the first to start alternates), the contract
         * checked (first fork only), each side warmed to steady state, paired rounds in closed loop, then at equal
         * load (not with --quick), start-up and memory sampled; then the table over all forks.
         */
        static final class Race {
            final CompareCommand opts;
            final Sides.Pinning pinning;
            final List<String> jvm;
            final Machine machineAtStart;
            final List<Verdicts.RunRecord> runs = new ArrayList<>();
            final List<Verdicts.WarmupRecord> warmups = new ArrayList<>();
            final List<Verdicts.Sample> startA = new ArrayList<>(), startB = new ArrayList<>(), peakA = new ArrayList<>(), peakB = new ArrayList<>();
            final List<String> paths = new ArrayList<>(), notes = new ArrayList<>();
            List<ContractReport> reports;
            List<String> jvmA = List.of(), jvmB = List.of();
            Sides.Running firstA, firstB;
            double rate = -1;

            Race(CompareCommand opts, Sides.Pinning pinning, List<String> jvm, Machine machineAtStart) {
                this.opts = opts;
                this.pinning = pinning;
                this.jvm = jvm;
                this.machineAtStart = machineAtStart;
            }

            boolean equalLoad() { return !opts.quick || opts.rate > 0; }

            Forks.Cost fork(int f, Sides.Side sideA, Sides.Side sideB, Contract.Fixture fixture) throws Exception {
                long t0 = System.nanoTime();
                String of = " (fork " + f + " of " + (opts.precision != null ? "at least " : "") + opts.forks + ")";
                // Odd forks start A first, even ones B first: neither always starts on a quieter machine.
                boolean aFirst = f % 2 == 1;
                Util.Progress.say("start-up: " + (aFirst ? "A " + sideA.spec() : "B " + sideB.spec()) + of);
                try (var first = (aFirst ? sideA : sideB).start(fixture, jvm, pinning)) {
                    var sampleFirst = Verdicts.Sample.afterStart(first);
                    Util.Progress.say("start-up: " + (aFirst ? "B " + sideB.spec() : "A " + sideA.spec()) + of);
                    try (var second = (aFirst ? sideB : sideA).start(fixture, jvm, pinning)) {
                        var sampleSecond = Verdicts.Sample.afterStart(second);
                        var pair = new Pair(this, f, aFirst ? first : second, aFirst ? second : first);
                        (aFirst ? startA : startB).add(sampleFirst);
                        (aFirst ? startB : startA).add(sampleSecond);
                        double startS = (System.nanoTime() - t0) / 1e9;
                        if (f == 1) pair.contractAndPaths(fixture);
                        return pair.race(startS);
                    }
                }
            }

            Verdicts.Report report(Forks.Outcome outcome) {
                var race = new Verdicts.Race(firstA, firstB, startA, startB, opts.concurrency, opts.rounds, opts.duration, opts.warmup, opts.steadyMax,
                        pinning, jvm, machineAtStart, outcome, !equalLoad());
                String equalPath = paths.getFirst();
                if (equalLoad() && rate < 1) notes.add("no equal-load run: the slower side's throughput was too low to halve");
                return new Verdicts.Report(race, reports, paths, runs, warmups, equalLoad() ? rate : 0, equalPath, Collections.max(opts.concurrency), peakA, peakB,
                        jvmA, jvmB, notes, Machine.now());
            }
        }

        /** One fork: the pair of processes it started, and its phases: warm-up to steady state, paired rounds in closed loop, then at equal load. */
        record Pair(Race race, int fork, Sides.Running a, Sides.Running b) {
            CompareCommand opts() { return race.opts; }

            /** First fork: the contract on both sides at once (the checks mostly wait), and which paths both answer with 2xx. */
            void contractAndPaths(Contract.Fixture fixture) {
                Util.Progress.say("contract: " + Contract.CHECKS.size() + " checks on A and B");
                var reportA = CompletableFuture.supplyAsync(() -> checkContract(a, fixture));
                var reportB = CompletableFuture.supplyAsync(() -> checkContract(b, fixture));
                race.reports = List.of(reportA.join(), reportB.join());
                for (var r : race.reports) {
                    if (!r.passed()) race.notes.add("side " + r.side() + " fails " + r.count(ContractReport.Verdict.FAIL) + " contract check(s): see `test` for the reasons");
                }
                for (String path : List.of("/health", opts().staticPath)) {
                    int sa = probe(a, path), sb = probe(b, path);
                    if (sa / 100 == 2 && sb / 100 == 2) race.paths.add(path);
                    else race.notes.add("GET " + path + " not raced: A answered " + sa + ", B answered " + sb + " (only paths both answer with 2xx are raced)");
                }
                if (race.paths.isEmpty()) throw Util.Failure.of("no path both sides answer with 2xx: nothing to race");
                race.firstA = a;
                race.firstB = b;
                race.jvmA = ProcSampler.jvmOptions(a.proc());
                race.jvmB = ProcSampler.jvmOptions(b.proc());
            }

            Forks.Cost race(double startS) throws Exception {
                var opts = opts();
                var paths = race.paths;
                String of = " (fork " + fork + ")";
                // Warm-up: each side until its throughput is steady (the JIT done with the hot path), per path, unmeasured.
                long w0 = System.nanoTime();
                int warmConnections = Collections.max(opts.concurrency);
                int cap = (int) (opts.steadyMax.toMillis() / Verdicts.STEADY_WINDOW.toMillis());
                for (String path : paths) {
                    for (var side : List.of(a, b)) {
                        if (cap < Verdicts.STEADY_IN_ROW) break;
                        Util.Progress.say("warm-up: GET " + path + ", " + key(side) + " " + side.label() + ", until steady (at most " + Verdicts.fmtDuration(opts.steadyMax) + ")" + of);
                        var w = PairedStats.warmUp(() -> load(side, path, warmConnections, Verdicts.STEADY_WINDOW, 0).rps(), Verdicts.STEADY_IN_ROW, Verdicts.STEADY_TOLERANCE, cap);
                        race.warmups.add(new Verdicts.WarmupRecord(key(side), path, w.windows() * Verdicts.STEADY_WINDOW.toMillis() / 1000.0, w.steady(), w.rps(), fork));
                    }
                }
                long r0 = System.nanoTime();
                // Closed loop: paired rounds, A and B back to back in ABBA order, so a change of the machine's load hits both alike.
                int total = paths.size() * opts.concurrency.size() * opts.rounds, done = 0;
                for (String path : paths) {
                    for (int c : opts.concurrency) {
                        for (int k = 1; k <= opts.rounds; k++) {
                            done++;
                            for (var side : order(k)) {
                                Util.Progress.say("throughput GET " + path + " c=" + c + ": round " + k + " of " + opts.rounds + ", " + key(side) + " "
                                        + side.label() + " (" + done + "/" + total + ")" + of);
                                race.runs.add(measure(side, path, c, k, 0));
                            }
                        }
                    }
                }
                // Equal load: the same fixed rate for both, open loop, latency from each request's intended start; the
                // rate is chosen in the first fork and kept, so that every fork offers the same load.
                String equalPath = paths.getFirst();
                int equalConnections = Collections.max(opts.concurrency);
                if (race.rate < 0) race.rate = opts.rate > 0 ? opts.rate : Math.floor(0.5 * Math.min(best(race.runs, "A", equalPath), best(race.runs, "B", equalPath)));
                if (race.equalLoad() && race.rate >= 1) {
                    for (int k = 1; k <= opts.rounds; k++) {
                        for (var side : order(k)) {
                            Util.Progress.say("equal load GET " + equalPath + " at " + Verdicts.fmtInt(race.rate) + " req/s: round " + k + " of " + opts.rounds + ", " + key(side) + " " + side.label() + of);
                            race.runs.add(measure(side, equalPath, equalConnections, k, race.rate));
                        }
                    }
                }
                race.peakA.add(Verdicts.Sample.peak(a));
                race.peakB.add(Verdicts.Sample.peak(b));
                long end = System.nanoTime();
                return new Forks.Cost(startS, (r0 - w0) / 1e9, (end - r0) / 1e9);
            }

            String key(Sides.Running side) { return side == a ? "A" : "B"; }

            /** Round k's order: A B in odd rounds, B A in even ones (ABBA), so that neither side always runs first. */
            List<Sides.Running> order(int k) { return k % 2 == 1 ? List.of(a, b) : List.of(b, a); }

            /** The status of one GET (any failure to get an answer is 0). */
            static int probe(Sides.Running side, String path) {
                try {
                    return Wire.exchange(side.port(), "GET " + path + " HTTP/1.1\r\nHost: " + side.host() + "\r\nConnection: close\r\n\r\n").status();
                } catch (IOException e) {
                    return 0;
                }
            }

            LoadTest.Result load(Sides.Running side, String path, int connections, Duration d, double rate) throws IOException, InterruptedException {
                var config = LoadTest.Config.of(side.uri(path)).withConnections(connections).withDuration(d).withWarmup(Duration.ZERO)
                        .withTimeout(Duration.ofSeconds(5));
                try {
                    return LoadTest.run(rate > 0 ? config.withRate(rate) : config);
                } catch (IOException e) {
                    // The side went away in the middle of the race (it crashed, or someone stopped it).
                    throw Util.Failure.of(side.label() + " stopped answering: " + e.getMessage()
                            + (side.proc() == null ? "" : side.proc().process.isAlive() ? "" : side.proc().lastLines(10)));
                }
            }

            /**
             * One measured run: an unmeasured warm-up, then the run with the server tree's CPU time read before and
             * after, and in closed loop its mechanism counted around it (compare/Counts.java).
             */
            Verdicts.RunRecord measure(Sides.Running side, String path, int c, int k, double rate) throws IOException, InterruptedException {
                var opts = opts();
                if (!opts.warmup.isZero()) load(side, path, c, opts.warmup, rate);
                var counting = rate == 0 && !opts.noCounts && side.proc() != null ? Counts.start(side.proc().process.pid()) : null;
                double cpu0 = ProcSampler.cpuMs(side.proc());
                LoadTest.Result r;
                try {
                    r = load(side, path, c, opts.duration, rate);
                } catch (IOException | RuntimeException e) {
                    if (counting != null) counting.abandon();
                    throw e;
                }
                double cpu1 = ProcSampler.cpuMs(side.proc());
                var counts = counting == null ? null : counting.stop(r.requests());
                long ok = r.status().entrySet().stream().filter(e -> e.getKey() / 100 == 2).mapToLong(Map.Entry::getValue).sum();
                double cpuUs = r.requests() > 0 ? (cpu1 - cpu0) * 1000 / r.requests() : Double.NaN;
                var service = r.serviceTime();
                return new Verdicts.RunRecord(key(side), path, rate > 0 ? "open" : "closed", c, k, rate, r.rps(), r.latency().p50(), r.latency().p99(),
                        r.latency().p999(), service == null ? Double.NaN : service.p50(), service == null ? Double.NaN : service.p99(),
                        cpuUs, r.requests(), r.requests() - ok, r.errors().total(), r.generatorSaturated(), r.generatorCpuUsPerRequest(),
                        r.unanswered(), r.fairness(), r.latencyHistogram(), counts, fork);
            }

            /** The best median requests/s of a side on a path over the connection counts. */
            static double best(List<Verdicts.RunRecord> runs, String side, String path) {
                return runs.stream().filter(r -> r.side().equals(side) && r.path().equals(path) && r.loop().equals("closed"))
                        .collect(Collectors.groupingBy(Verdicts.RunRecord::connections, Collectors.mapping(Verdicts.RunRecord::rps, Collectors.toList())))
                        .values().stream().mapToDouble(v -> PairedStats.median(v.stream().mapToDouble(Double::doubleValue).toArray())).max().orElse(0);
            }
        }
    }
}
