// Launching and stopping processes, for Compare and its experiments: how a command is launched (the java command
// JBang would run, or through ./jbang), every process started tracked and always stopped (Ctrl-C included), waiting
// for a server's ready line (compare/ReadyLine.java), a command run to its end for its output, --watch, and the
// project folder.

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

final class Processes {
    private Processes() {}

    /** How to start a process: the command, and whether JBang's own launch is part of it. */
    record Launch(List<String> command, boolean viaJBang) {
        /** The JVM options both servers get: the same for both, chosen on purpose, placed last so they win, shown in the footer. */
        static final List<String> DEFAULT_JVM_OPTIONS = List.of("-XX:+UseSerialGC", "-Xms64m", "-Xmx256m");

        static List<String> jvmOptions(List<String> extra) {
            var all = new ArrayList<>(DEFAULT_JVM_OPTIONS);
            all.addAll(extra);
            return all;
        }

        /** `./jbang Script.java args...`, the way a user starts it (JBang compiles when needed). */
        static Launch viaLauncher(Sides.Script s, List<String> args) {
            var cmd = new ArrayList<String>(List.of(Home.dir().resolve("jbang").toString(), s.path().toString()));
            cmd.addAll(args);
            return new Launch(cmd, true);
        }

        /**
         * The server's own JVM, spawned directly: the java command JBang would run (from `./jbang info tools`, after
         * `./jbang build` when the script is not compiled yet), so that start-up is the server's and not JBang's.
         */
        static Launch direct(Sides.Script s, List<String> jvmOptions, List<String> args) {
            var cmd = new ArrayList<>(JavaCommand.of(s));
            // After the script's own //JAVA_OPTIONS (which JBang puts before -classpath): of two contradicting options the JVM takes the last.
            cmd.addAll(cmd.indexOf("-classpath"), jvmOptions);
            cmd.addAll(args);
            return new Launch(cmd, false);
        }
    }

    /** The java command line JBang runs for a script, read from `./jbang info tools` (cached per script). */
    static final class JavaCommand {
        private static final Map<Sides.Script, List<String>> CACHE = new ConcurrentHashMap<>();
        private static final JsonMapper JSON = JsonMapper.builder().build();

        /** [java, the script's //JAVA_OPTIONS..., -classpath, CP, MainClass]: more JVM options go before -classpath, program arguments at the end. */
        static List<String> of(Sides.Script s) {
            return CACHE.computeIfAbsent(s, JavaCommand::resolve);
        }

        private static List<String> resolve(Sides.Script s) {
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
            cmd.addAll(1, aotOptions(s));
            return List.copyOf(cmd);
        }

        /**
         * The AOT cache's options exactly as ./jbang adds them for a user (JBANG_LAUNCHER_PRINT=1 prints its java
         * command), so that a measured server starts the way users get it. None while the launcher has no cache yet
         * for this build of the script (it then trains one in the background, for the next run).
         */
        static List<String> aotOptions(Sides.Script s) {
            try {
                var pb = new ProcessBuilder(Home.dir().resolve("jbang").toString(), s.path().toString()).directory(Home.dir().toFile())
                        .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
                pb.environment().put("JBANG_LAUNCHER_PRINT", "1");
                var p = pb.start();
                Procs.track(p);
                String printed = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                p.waitFor();
                // printf %q quoting: a backslash escapes the next character.
                var m = Pattern.compile("(?:^| )-XX:AOTCache=((?:\\\\.|[^ \\\\])+)").matcher(printed);
                if (!m.find()) return List.of();
                return List.of("-XX:AOTCache=" + m.group(1).replaceAll("\\\\(.)", "$1"), "-Xlog:aot=off", "-Xlog:cds=off");
            } catch (IOException e) {
                return List.of();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return List.of();
            }
        }

        private static JsonNode info(Sides.Script s) {
            var r = jbang("info", "tools", s.path().toString());
            if (r.exit() != 0) throw Util.Failure.of("./jbang info tools " + s.file + " failed:\n" + r.output().strip());
            return JSON.readTree(r.output().substring(Math.max(0, r.output().indexOf('{'))));
        }

        /** Runs `./jbang args...` to its end and returns what it printed (stdout and stderr together). */
        static Output jbang(String... args) {
            var cmd = new ArrayList<String>(List.of(Home.dir().resolve("jbang").toString()));
            cmd.addAll(List.of(args));
            try {
                return run(cmd);
            } catch (IOException e) {
                throw Util.Failure.of("cannot run ./jbang: " + e.getMessage());
            }
        }
    }

    /** What a command run to its end printed (stdout and stderr together), and its exit code. */
    record Output(int exit, String output) {}

    /**
     * Runs a command to its end in the project folder (stdin empty) and returns its output; tracked, so Ctrl-C stops
     * it too. For short commands: ./jbang's, gcc, taskset, the C echo client, perf.
     */
    static Output run(List<String> cmd) throws IOException {
        var p = new ProcessBuilder(cmd).directory(Home.dir().toFile()).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        Procs.track(p);
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            return new Output(p.waitFor(), out);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw Util.Failure.of("interrupted");
        }
    }

    /** A process Compare started: its output (the last lines kept), its ready line, and a stop that leaves nothing. */
    static final class Proc {
        private static final int KEEP_LINES = 40;

        final String name;
        final Process process;
        final long spawnNanos;
        final Deque<String> last = new ArrayDeque<>();
        final CompletableFuture<ReadyLine> ready = new CompletableFuture<>();
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
                    if (!ready.isDone()) {
                        var line = ReadyLine.of(l);
                        if (line.isPresent()) {
                            readyNanos = now;
                            ready.complete(line.get());
                        }
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

        int port() { return ready.join().port(); }

        String readyMode() {
            String m = ready.join().mode();
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
        static Proc foreground(Sides.Script s, List<String> args) throws IOException {
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
            var tree = ProcSampler.tree(root.pid());
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
        static int loop(Sides.Script s, List<String> args) throws Exception {
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
