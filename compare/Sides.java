// What Compare compares: our servers, the SIDEs of a comparison (one of our servers, a URL, any command), a side
// once it is up, and CPU pinning. Starting and stopping the processes is compare/Processes.java's.

import java.io.*;
import java.net.*;
import java.nio.file.*;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

final class Sides {
    private Sides() {}

    /** The project's servers Compare can start, with the port each one's original project used. */
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

        Path path() { return Processes.Home.dir().resolve(file); }
    }

    // ================================================================ sides: what is compared

    /** A SIDE of a comparison: one of our servers, a URL already serving, or any command. */
    sealed interface Side {
        String spec();

        Running start(Contract.Fixture fixture, List<String> jvmOptions, Pinning pinning) throws Exception;

        /** Work before the timed start (resolving, and if needed compiling, our scripts). */
        default void prepare() {
            if (this instanceof Ours o) Processes.JavaCommand.of(o.script());
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
                var launch = Processes.Launch.direct(script, jvmOptions, args);
                var withDirectory = new ArrayList<>(args);
                withDirectory.addAll(List.of("--directory", fixture.uploads().toString()));
                var proc = Processes.Procs.start(spec, pinning.server(Processes.Launch.direct(script, jvmOptions, withDirectory)), false);
                proc.awaitReady(Duration.ofSeconds(180));
                String label = script.serverName + " (" + (mode == null ? proc.readyMode() : mode) + ")";
                // The contract also checks that /files is 404 without --directory: a second instance, started when asked.
                var extras = new CopyOnWriteArrayList<Processes.Proc>();
                Callable<Integer> withoutDirectory = () -> {
                    synchronized (extras) {
                        if (extras.isEmpty()) {
                            var p = Processes.Procs.start(spec + " without --directory", pinning.server(launch), false);
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
                int port = Processes.Procs.freePort();
                String line = command.replace("{port}", String.valueOf(port)).replace("{root}", fixture.root().toString());
                var launch = new Processes.Launch(List.of("sh", "-c", line), false);
                var proc = Processes.Procs.start(spec, pinning.server(launch), false);
                proc.awaitPort(port, Duration.ofSeconds(60));
                return new Running(this, command.split("\\s+")[0] + " (cmd)", "127.0.0.1", port, proc, false, null, List.of());
            }
        }
    }

    /** A side that is up: where it listens, and the process tree Compare started for it (null for a URL). */
    record Running(Side side, String label, String host, int port, Processes.Proc proc, boolean startupIncludesJBang,
                   Callable<Integer> withoutDirectory, List<Processes.Proc> extras) implements AutoCloseable {
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
            extras.forEach(Processes.Proc::stop);
            if (proc != null) proc.stop();
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

        Processes.Launch server(Processes.Launch l) {
            if (!on()) return l;
            var cmd = new ArrayList<>(List.of("taskset", "-c", list(serverCpus)));
            cmd.addAll(l.command());
            return new Processes.Launch(cmd, l.viaJBang());
        }

        /** Pins every thread of this JVM (the load generator); threads started later inherit it. */
        void pinSelf() {
            if (!on()) return;
            try {
                var r = Processes.run(List.of("taskset", "-a", "-p", "-c", list(generatorCpus), String.valueOf(ProcessHandle.current().pid())));
                if (r.exit() != 0) Util.Progress.say("could not pin the load generator");
            } catch (IOException e) {
                Util.Progress.say("could not pin the load generator: " + e.getMessage());
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
}
