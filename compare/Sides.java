// What Compare compares and how it runs it: the sides, the processes it starts (and always stops), the java
// command JBang would run, --watch, CPU pinning, the project folder.

import picocli.CommandLine.Command;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.*;
import java.net.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

final class Sides {
    private Sides() {}

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
                if (!command.contains("{port}")) throw Util.Failure.usage("side " + spec + ": a cmd: side needs {port} in its command");
                return new Command(spec, command);
            }
            if (spec.startsWith("http://") || spec.startsWith("https://")) {
                URI uri;
                try {
                    uri = new URI(spec);
                } catch (URISyntaxException e) {
                    throw Util.Failure.usage("side " + spec + ": not a URL (" + e.getMessage() + ")");
                }
                if (uri.getScheme().equals("https")) throw Util.Failure.usage("side " + spec + ": https is not supported (http://HOST:PORT)");
                if (uri.getHost() == null || uri.getPort() < 0) throw Util.Failure.usage("side " + spec + ": a URL side needs a host and a port, http://HOST:PORT");
                if (!List.of("127.0.0.1", "localhost", "[::1]").contains(uri.getHost())) {
                    throw Util.Failure.usage("side " + spec + ": Compare loads local servers only (http://127.0.0.1:PORT)");
                }
                return new Url(spec, uri);
            }
            String[] nm = spec.split(":", 2);
            for (Script s : Script.values()) {
                if (s.command.equals(nm[0])) {
                    if (!s.http) throw Util.Failure.usage("side " + spec + ": " + s.serverName + " does not speak HTTP (sides: simple, threaded, a URL or cmd:)");
                    if (nm.length == 2 && !nm[1].matches("[a-z]+")) throw Util.Failure.usage("side " + spec + ": not a mode name: " + nm[1]);
                    return new Ours(spec, s, nm.length == 2 ? nm[1] : null);
                }
            }
            throw Util.Failure.usage("unknown side: " + spec + " (simple[:MODE], threaded[:MODE], http://HOST:PORT or cmd:COMMAND with {port})");
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
                    throw Util.Failure.of("side " + spec + ": " + e.getMessage() + " (is a server running there?)");
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
                Util.Progress.say("compiling " + s.file + " (once)");
                var build = jbang("build", s.path().toString());
                if (build.exit() != 0) throw Util.Failure.of(s.file + " does not compile:\n" + build.output().strip());
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
            if (r.exit() != 0) throw Util.Failure.of("./jbang info tools " + s.file + " failed:\n" + r.output().strip());
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
                throw Util.Failure.of("cannot run ./jbang: " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw Util.Failure.of("interrupted");
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
        final Deque<String> last = new ArrayDeque<>();
        final CompletableFuture<Matcher> ready = new CompletableFuture<>();
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
                throw Util.Failure.of(name + ": no ready line in " + timeout.toSeconds() + " s" + lastLines(10));
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
            throw Util.Failure.of(name + ": port " + port + " not open after " + timeout.toSeconds() + " s" + lastLines(10));
        }

        private int waitExit() throws InterruptedException {
            process.waitFor(5, TimeUnit.SECONDS);
            return process.isAlive() ? -1 : process.exitValue();
        }

        /** A side that did not start: its own `Error:` line when it printed one (exit 2 for its usage errors). */
        private Util.Failure failedToStart(int exit) {
            String error;
            synchronized (last) {
                error = last.stream().filter(l -> l.startsWith("Error: ")).reduce((x, y) -> y).orElse(null);
            }
            if (error != null) return new Util.Failure(exit == 2 ? 2 : 1, name + ": " + error.substring("Error: ".length()));
            return Util.Failure.of(name + " failed to start (exit " + exit + ")" + lastLines(10));
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
            Util.Progress.say("watching " + String.join(", ", stamps.keySet().stream().map(p -> Home.dir().relativize(p).toString()).toList()) + " (Ctrl-C stops)");
            while (true) {
                Thread.sleep(300);   // the poll interval of the watch: a tool waiting for a person to save a file
                var now = stamps(s.path());
                if (now.equals(stamps)) continue;
                stamps = now;
                Util.Progress.say("change seen: restarting " + s.file);
                if (server != null) server.stop();   // null while the last edit did not compile
                var build = JavaCommand.jbang("build", s.path().toString());
                if (build.exit() != 0) {
                    System.err.println(build.output().strip());
                    Util.Progress.say(s.file + " does not compile; still watching");
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
                if (p.waitFor() != 0) Util.Progress.say("could not pin the load generator");
            } catch (IOException e) {
                Util.Progress.say("could not pin the load generator: " + e.getMessage());
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
            throw Util.Failure.usage("cannot find the project folder (the one with ./jbang and Compare.java): start Compare with the project's ./jbang, run it from inside the project, or set COMPARE_HOME");
        }
    }
}
