///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//DEPS info.picocli:picocli:4.7.7
//DEPS tools.jackson.core:jackson-databind:3.3.0
//DEPS org.hdrhistogram:HdrHistogram:2.2.2
//SOURCES LoadTest.java
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
                // (empty on purpose: issue 11 adds its subcommands here, and its classes at the end of the file,
                // under the marker of the same name.) The name `echo` is taken: it starts EchoServer in the
                // foreground (issue 9). Name the echo experiment `echo-race`, and the prime one `prime-race`
                // (`prime` likewise starts PrimeEchoServer), so that every server name stays "run it".
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
    // (issue 11's subcommand classes go here)
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
