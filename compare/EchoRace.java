// The echo race: N connections at once echoing S bytes, every EchoServer mode (and the C epoll pair in compare/c).

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

@Command(name = "echo-race", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        description = {"The echo-server race of 10,000 connections: N connections at once, each echoing S random bytes, against every EchoServer "
                + "mode, with EchoClient's engine (and the C epoll server and client from compare/c when gcc is present). "
                + "Total time, p99 latency, the server's CPU time and failed connections, as a table and a bar chart."})
final class EchoRace extends Experiment {
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

    @Option(names = "--timeout", converter = Util.PositiveDuration.class, description = "How long a connect, or a wait for the echo, may take.")
    Duration timeout = Duration.ofSeconds(10);

    /** One measured round: a client against a server. Latency in ms, server CPU in ms (-1: not measurable). */
    record Round(String server, String client, int connections, int size, double totalMs, double p99Ms, double serverCpuMs,
                 long failed, Map<String, Long> failures) {}

    static final List<String> SERVER_MODES = List.of("thread", "nio", "async", "virtual");

    private int nextSource = 10;

    @Override void run(Report report) throws Exception {
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
                    // The measured rounds with the server's mechanism counted (compare/Counts.java): an echo per connection.
                    counted(report, server, proc, () -> {
                        for (String client : clients) {
                            var r = client.equals("C epoll") ? cRound(server, cDir, port, proc) : javaRound(server, client, echoMode, port, proc);
                            rounds.add(r);
                            Util.Progress.say("echo-race: %s -> %s: %.1f ms, p99 %.1f ms, server CPU %s, %d failed".formatted(client, server,
                                    r.totalMs(), r.p99Ms(), r.serverCpuMs() < 0 ? "-" : "%.0f ms".formatted(r.serverCpuMs()), r.failed()));
                        }
                        return (long) clients.size() * connections;
                    }, Long::longValue);
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
                    + (cDir == null ? (noC ? " The C pair was left out (--no-c)." : " gcc was not found, so the C epoll pair from compare/c is not in the race.") : "");
            var table = new TextTable("server", "client", "total ms", "p99 ms", "server CPU ms", "failed");
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
                    "warmupRounds", warmup, "jvmOptions", Processes.Launch.DEFAULT_JVM_OPTIONS));
        } finally {
            if (cDir != null) Util.deleteTree(cDir);
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
    Round javaRound(String server, String client, EchoClient.Mode mode, int port, Processes.Proc proc) throws Exception {
        var config = new EchoClient.Config(new InetSocketAddress("127.0.0.1", port), InetAddress.getByName(nextSource()),
                connections, size, connections, (int) timeout.toMillis(), mode, null);
        double cpuBefore = ProcSampler.cpuMs(proc);
        var r = EchoClient.run(config);
        double cpuAfter = ProcSampler.cpuMs(proc);
        return new Round(server, client, connections, size, r.totalMs(), r.latencyUs().p99() / 1000, Double.isNaN(cpuBefore) ? -1 : cpuAfter - cpuBefore,
                r.failed(), r.failures());
    }

    private static final Pattern C_RESULT = Pattern.compile("total time = ([0-9.]+) ms.* p99 = ([0-9.]+) µs.*failed = (\\d+)(.*)");

    /** A measured round of the C epoll client (compare/c/echo_client.c). */
    Round cRound(String server, Path cDir, int port, Processes.Proc proc) throws Exception {
        var cmd = List.of(cDir.resolve("echo_client").toString(), "-p", String.valueOf(port), "-n", String.valueOf(connections),
                "-s", String.valueOf(size), "-t", String.valueOf(timeout.toMillis()), "-S", nextSource());
        double cpuBefore = ProcSampler.cpuMs(proc);
        String out = Processes.run(cmd).output();
        double cpuAfter = ProcSampler.cpuMs(proc);
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
        if (!Util.onPath("gcc")) return null;
        Path dir = Files.createTempDirectory("echo-race-c-");
        for (String name : List.of("echo_server", "echo_client")) {
            var gcc = Processes.run(List.of("gcc", "-O2", "-o", dir.resolve(name).toString(), Processes.Home.dir().resolve("compare/c/" + name + ".c").toString()));
            if (gcc.exit() != 0) {
                Util.deleteTree(dir);
                throw Util.Failure.of("gcc could not compile compare/c/" + name + ".c:\n" + gcc.output().strip());
            }
        }
        return dir;
    }

    static Processes.Proc startC(Path cDir) throws Exception {
        var proc = Processes.Procs.start("c-epoll", new Processes.Launch(List.of(cDir.resolve("echo_server").toString(), "-p", "0"), false), false);
        proc.awaitReady(Duration.ofSeconds(30));
        return proc;
    }
}
