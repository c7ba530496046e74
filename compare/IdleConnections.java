import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The C10K question as an experiment: what an idle keep-alive connection costs each server model in memory, and
 * whether many of them slow the busy ones. For each model and each N it opens N idle connections with
 * compare/IdleClient.java (one request answered on each, then held), reads the server's resident memory, and drives
 * /health with LoadTest meanwhile.
 */
@Command(name = "idle-connections", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        description = {"The C10K question: N idle keep-alive connections (each answered once, then held open) against each "
                + "server model; the server's memory per idle connection, and /health's p99 under LoadTest -c 50 while they "
                + "wait. A table; --html draws both against N (one line per model).",
                "Default run: about two minutes on 2 cores."})
final class IdleConnections extends Experiment {
    @Option(names = "--servers", paramLabel = "LIST", description = "Comma-separated simple:MODE or threaded:MODE (simple or threaded alone: every mode "
            + "that holds idle connections; sequential serves one at a time and is left out).")
    String servers = "threaded:nio,threaded:virtual,threaded:thread,simple:virtual";

    @Option(names = "--counts", split = ",", paramLabel = "N", description = "Numbers of idle connections (0 is the baseline every other N is measured against).")
    List<Integer> counts = new ArrayList<>(List.of(0, 1_000, 5_000, 10_000));

    @Option(names = "--load", converter = Util.PositiveDuration.class, description = "How long LoadTest drives /health at each N (after a 1 s warm-up).")
    Duration load = Duration.ofSeconds(2);

    @Option(names = "--load-connections", description = "LoadTest's busy keep-alive connections.")
    int loadConnections = 50;

    /** One figure: a server model with N idle connections open. */
    record Figure(String server, String mode, int idle, long rssKb, double kbPerIdle, double rps, double p99Ms, long errors) {}

    @Override void run(Report report) throws Exception {
        var chosen = new ArrayList<Chosen>();
        for (var c : parseServers(servers)) if (!c.mode().equals("sequential")) chosen.add(c);
        if (chosen.isEmpty()) throw Util.Failure.usage("--servers: only sequential given, which serves one connection at a time");
        if (counts.isEmpty() || counts.stream().anyMatch(n -> n < 0 || n > 20_000))
            throw Util.Failure.usage("--counts: each N must be 0..20000: " + counts);
        if (loadConnections < 1 || loadConnections > 1_000) throw Util.Failure.usage("--load-connections: 1..1000: " + loadConnections);
        var ns = new ArrayList<>(counts.stream().distinct().sorted().toList());
        if (ns.getFirst() != 0) ns.addFirst(0);
        int most = ns.getLast();
        var figures = new ArrayList<Figure>();
        int k = 0, source = 2;
        for (var s : chosen) {
            k++;
            String label = s.script().serverName + " " + s.mode();
            Util.Progress.say("idle-connections: starting " + label + " (" + k + " of " + chosen.size() + ")");
            var args = new ArrayList<>(List.of("-p", "0", "-q", "-m", s.mode()));
            // The thread pool of ThreadedHttpServer holds one connection per thread: as many threads as connections.
            if (s.script() == Sides.Script.THREADED && s.mode().equals("pool")) args.addAll(List.of("-w", String.valueOf(most + 10)));
            if (s.script() == Sides.Script.THREADED) args.addAll(List.of("--idle-timeout", "600000"));
            var proc = startServer(s.script().command + ":" + s.mode(), s.script(), args);
            try {
                int port = proc.port();
                var url = URI.create("http://127.0.0.1:" + port + "/health");
                // Warm-up, unmeasured, as long as a measured load: the JIT compiles the request path, and the heap
                // grows to what serving the load needs before the baseline (N = 0) is read.
                LoadTest.run(LoadTest.Config.of(url).withConnections(loadConnections).withDuration(load.plusSeconds(1)));
                long baseline = 0;
                for (int n : ns) {
                    var config = new IdleClient.Config(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), n,
                            IdleClient.Protocol.http, source, Duration.ofSeconds(120));
                    source += (n + IdleClient.PER_SOURCE - 1) / IdleClient.PER_SOURCE;   // closed ports wait in TIME_WAIT
                    if (source > 250) source = 2;
                    try (var held = IdleClient.open(config)) {
                        Thread.sleep(500);   // let the server settle (a GC, a resize) before its memory is read
                        long rss = ProcSampler.procSum(proc, "VmRSS:");   // KB, the process tree
                        if (n == 0) baseline = rss;
                        var busy = LoadTest.Config.of(url).withConnections(loadConnections).withDuration(load);
                        var r = LoadTest.run(busy.withWarmup(Duration.ofMillis(500)));
                        // At the most idle connections, the same busy load once more, right after the measured run, with
                        // the server's mechanism counted around it (compare/Counts.java); the figures above are not counted.
                        if (n == most) counted(report, label, proc, () -> LoadTest.run(busy.withWarmup(Duration.ZERO)), LoadTest.Result::requests);
                        var f = new Figure(s.script().serverName, s.mode(), n, rss, n == 0 ? 0 : (rss - baseline) / (double) n,
                                r.rps(), r.latency().p99(), r.errors().total());
                        figures.add(f);
                        Util.Progress.say("idle-connections: %s, %d idle: RSS %.1f MB (%.2f KB each), /health %.0f req/s, p99 %.2f ms%s".formatted(
                                label, n, rss / 1024.0, f.kbPerIdle(), f.rps(), f.p99Ms(), f.errors() > 0 ? ", " + f.errors() + " errors" : ""));
                    } catch (IdleClient.LimitMet e) {
                        throw Util.Failure.of("idle-connections: " + label + ", " + n + " idle connections: opened " + e.opened + ": " + e.getMessage());
                    }
                }
            } finally {
                proc.stop();
            }
        }
        report.title = "Idle connections: what one costs, and whether they slow the busy ones";
        report.intro = ("For each server model and each N, N keep-alive connections each send one request, read its answer "
                + "and then wait, open and idle (compare/IdleClient.java, from several loopback source addresses). Memory is the "
                + "server's resident set (RSS, its process tree) 0.5 s later, per idle connection against the same server with "
                + "none; meanwhile LoadTest drives /health with %d busy keep-alive connections for %s (closed loop, after 0.5 s "
                + "of warm-up). Each server runs alone, in its own JVM (%s).").formatted(loadConnections, load.toMillis() / 1000.0 + " s",
                String.join(" ", Processes.Launch.DEFAULT_JVM_OPTIONS));
        var table = new TextTable("server", "idle N", "RSS MB", "KB per idle", "/health req/s", "p99 ms");
        var memory = new ArrayList<Html.Svg.Series>();
        var latency = new ArrayList<Html.Svg.Series>();
        for (var s : chosen) {
            String name = s.script().serverName + " " + s.mode();
            var rows = figures.stream().filter(f -> f.server().equals(s.script().serverName) && f.mode().equals(s.mode())).toList();
            for (var f : rows)
                table.row(f.errors() > 0 ? "!" : null, List.of(name, String.valueOf(f.idle()), "%.1f".formatted(f.rssKb() / 1024.0),
                        f.idle() == 0 ? "-" : "%.2f".formatted(f.kbPerIdle()), "%.0f".formatted(f.rps()), "%.2f".formatted(f.p99Ms())));
            memory.add(new Html.Svg.Series(name, rows.stream().filter(f -> f.idle() > 0).map(f -> new Html.Svg.Point(f.idle(), f.kbPerIdle())).toList()));
            latency.add(new Html.Svg.Series(name, rows.stream().map(f -> new Html.Svg.Point(f.idle(), f.p99Ms())).toList()));
        }
        String memoryTitle = "Memory per idle connection (KB of server RSS)";
        String latencyTitle = "/health p99 under load (ms) with N idle connections open";
        report.section("N idle connections: the server's memory, and /health under load", table, summary(figures, chosen, most), List.of(
                new Html.Chart("memory", memoryTitle, Html.Svg.lineChart(memoryTitle, report.command, "idle connections (N)", "KB per idle connection", memory), memory),
                new Html.Chart("p99", latencyTitle, Html.Svg.lineChart(latencyTitle, report.command, "idle connections (N)", "p99 (ms)", latency), latency)));
        if (figures.stream().anyMatch(f -> f.errors() > 0)) {
            report.note("! marks a row where LoadTest counted errors (see the progress lines on stderr).");
            report.exitCode = 1;
        }
        mechanismSection(report, "one more run of LoadTest's busy load with the most idle connections open");
        report.data(figures, Map.of("servers", chosen.stream().map(c -> c.script().command + ":" + c.mode()).toList(), "counts", ns,
                "loadSeconds", load.toMillis() / 1000.0, "loadConnections", loadConnections, "jvmOptions", Processes.Launch.DEFAULT_JVM_OPTIONS));
    }

    /** What the figures say: the cheapest and the dearest idle connection, and how much the idle ones moved p99. */
    static List<String> summary(List<Figure> figures, List<Chosen> chosen, int most) {
        var out = new ArrayList<String>();
        var atMost = figures.stream().filter(f -> f.idle() == most && most > 0).toList();
        if (atMost.isEmpty()) {
            out.add("Only N=0 was measured: no idle connection, nothing to compare.");
            return out;
        }
        var cheap = atMost.stream().min(java.util.Comparator.comparingDouble(Figure::kbPerIdle)).orElseThrow();
        var dear = atMost.stream().max(java.util.Comparator.comparingDouble(Figure::kbPerIdle)).orElseThrow();
        out.add("With %d idle connections, %s %s kept %.2f KB per connection and %s %s %.1f KB: %s.".formatted(most,
                cheap.server(), cheap.mode(), cheap.kbPerIdle(), dear.server(), dear.mode(), dear.kbPerIdle(),
                dear.mode().equals("thread") || dear.mode().equals("pool")
                        ? "a platform thread per connection pays for its stack and its kernel thread, which is that model's lesson"
                        : "the difference is what each keeps per connection while it waits"));
        var slowed = new ArrayList<String>();
        for (var c : chosen) {
            var none = figures.stream().filter(f -> f.server().equals(c.script().serverName) && f.mode().equals(c.mode()) && f.idle() == 0).findFirst();
            var many = figures.stream().filter(f -> f.server().equals(c.script().serverName) && f.mode().equals(c.mode()) && f.idle() == most).findFirst();
            if (none.isPresent() && many.isPresent() && none.get().p99Ms() > 0)
                slowed.add("%s %s x%.2f".formatted(c.script().serverName, c.mode(), many.get().p99Ms() / none.get().p99Ms()));
        }
        if (!slowed.isEmpty())
            out.add("p99 of /health with %d idle connections against none: %s (one run each: on a shared machine, within about 1.5x is noise).".formatted(
                    most, String.join(", ", slowed)));
        return out;
    }
}
