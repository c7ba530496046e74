import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The C10K question as an experiment: what an idle keep-alive connection costs each server model in memory, and
 * whether many of them slow the busy ones. For each model and each N it opens N idle connections with
 * compare/IdleClient.java (one request answered on each, then held), reads the server's resident memory, and drives
 * /health with LoadTest meanwhile. It measures what fits on this machine: before the counts of a server it reads the
 * server's own cap (SimpleHttpServer's ready line says max-connections) and the open-files limits of the server and of
 * this process, and a count that does not fit is reported as skipped, with the limit that stopped it. A server that
 * fails is named in the report, the figures measured so far are kept, and the exit status is 1.
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

    /**
     * One row: a server model with N idle connections open; `note` is null when measured, else "skipped: why" or
     * "failed: what". rssKb is the process tree's resident memory; neededKb what it holds (see Memory); kbPerIdle is
     * neededKb's growth over the same server with none, per idle connection.
     */
    record Figure(String server, String mode, int idle, long rssKb, long neededKb, double kbPerIdle, double rps, double p99Ms, long errors, String note) {
        static Figure notMeasured(String server, String mode, int idle, String note) { return new Figure(server, mode, idle, 0, 0, 0, 0, 0, 0, note); }

        boolean measured() { return note == null; }
    }

    /** Descriptors a server's JVM holds besides connections (its jars, selector, listening socket, pipes): kept free. */
    static final int SERVER_SPARE_FILES = 100;
    /** Kept free under a server's own connection cap: LoadTest's probe connection, a closing one not yet counted out. */
    static final int CAP_MARGIN = 10;

    /**
     * The most idle connections that fit beside `busy` ones against one server, and the limit that sets it: the
     * server's own cap (its ready line's max-connections, which counts busy and idle alike), its open-files limit, or
     * this process's (the idle connections' client and LoadTest both run here). A JVM raises its soft limit to the
     * hard one as it starts, so the limits read are those in force.
     */
    record Room(int most, String why) {
        private static final Pattern CAP = Pattern.compile("\\bmax-connections=(\\d+)");

        static Room of(Processes.Proc server, int busy) {
            var rooms = new ArrayList<Room>();
            rooms.add(new Room(Integer.MAX_VALUE, "no limit found"));
            String ready;
            synchronized (server.last) {
                ready = server.last.stream().filter(l -> l.startsWith("Listening on ")).findFirst().orElse("");
            }
            Matcher m = CAP.matcher(ready);
            if (m.find()) {
                int cap = Integer.parseInt(m.group(1));
                rooms.add(new Room(cap - busy - CAP_MARGIN, "its cap, max-connections=" + cap + " in its ready line"));
            }
            long serverFiles = LoadTest.openFilesLimits(Path.of("/proc", String.valueOf(server.process.pid()), "limits"))[0];
            if (serverFiles > 0) rooms.add(new Room(clamp(serverFiles - busy - SERVER_SPARE_FILES), "its open-files limit is " + serverFiles));
            long own = IdleClient.openFilesLimit();   // the limit IdleClient itself checks before it opens its connections
            if (own > 0) rooms.add(new Room(clamp(own - busy - IdleClient.SPARE_FILES), "Compare's own open-files limit is " + own));
            return rooms.stream().min(Comparator.comparingInt(Room::most)).orElseThrow();
        }

        private static int clamp(long n) { return (int) Math.max(-1, Math.min(Integer.MAX_VALUE, n)); }
    }

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
        var failures = new ArrayList<String>();
        var memoryNotes = new ArrayList<String>();
        int k = 0, source = 2;
        for (var s : chosen) {
            k++;
            String label = s.script().serverName + " " + s.mode();
            Util.Progress.say("idle-connections: starting " + label + " (" + k + " of " + chosen.size() + ")");
            var args = new ArrayList<>(List.of("-p", "0", "-q", "-m", s.mode()));
            // The thread pool of ThreadedHttpServer holds one connection per thread: as many threads as connections.
            if (s.script() == Sides.Script.THREADED && s.mode().equals("pool")) args.addAll(List.of("-w", String.valueOf(most + 10)));
            if (s.script() == Sides.Script.THREADED) args.addAll(List.of("--idle-timeout", "600000"));
            int n = ns.getFirst();
            Processes.Proc proc = null;
            try {
                proc = startServer(s.script().command + ":" + s.mode(), s.script(), args);
                int port = proc.port();
                var room = Room.of(proc, loadConnections);
                var url = URI.create("http://127.0.0.1:" + port + "/health");
                // Warm-up, unmeasured: 10,000 short connections, 10 at a time, so that the JIT has compiled what each
                // new connection runs (a cold JVM parks interpreted frames: a parked virtual thread's stack is then
                // twice as large or more); then a load 1 s longer than a measured one, so that the request path is
                // compiled and the heap has grown to what serving the load needs before the baseline (N = 0) is read.
                IdleClient.warmUp(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), IdleClient.Protocol.http, 10, 1000);
                long settled = System.nanoTime() + Memory.SETTLE.toNanos();
                LoadTest.run(LoadTest.Config.of(url).withConnections(loadConnections).withDuration(load.plusSeconds(1)));
                long baseline = 0;
                for (int i = 0; i < ns.size(); i++) {
                    n = ns.get(i);
                    if (n > room.most()) {
                        figures.add(Figure.notMeasured(s.script().serverName, s.mode(), n, "skipped: %d idle + %d busy do not fit: %s"
                                .formatted(n, loadConnections, room.why())));
                        Util.Progress.say("idle-connections: %s, %d idle: skipped (%d idle + %d busy do not fit: %s)".formatted(
                                label, n, n, loadConnections, room.why()));
                        continue;
                    }
                    var config = new IdleClient.Config(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), n,
                            IdleClient.Protocol.http, source, Duration.ofSeconds(120));
                    source += (n + IdleClient.PER_SOURCE - 1) / IdleClient.PER_SOURCE;   // closed ports wait in TIME_WAIT
                    if (source > 250) source = 2;
                    try (var held = IdleClient.open(config)) {
                        // Let the server settle before its memory is read: after the warm-ups, until the JIT has given
                        // its compiler arenas back (Memory.SETTLE); later, half a second (a GC, a resize).
                        Thread.sleep(n == 0 ? Math.max(0, (settled - System.nanoTime()) / 1_000_000) : 500);
                        var memory = Memory.read(proc, memoryNotes);
                        if (n == 0) baseline = memory.neededKb();
                        var busy = LoadTest.Config.of(url).withConnections(loadConnections).withDuration(load);
                        var r = LoadTest.run(busy.withWarmup(Duration.ofMillis(500)));
                        // At the most idle connections, the same busy load once more, right after the measured run, with
                        // the server's mechanism counted around it (compare/Counts.java); the figures above are not counted.
                        if (n == most) counted(report, label, proc, () -> LoadTest.run(busy.withWarmup(Duration.ZERO)), LoadTest.Result::requests);
                        var f = new Figure(s.script().serverName, s.mode(), n, memory.rssKb(), memory.neededKb(),
                                n == 0 ? 0 : (memory.neededKb() - baseline) / (double) n, r.rps(), r.latency().p99(), r.errors().total(), null);
                        figures.add(f);
                        Util.Progress.say("idle-connections: %s, %d idle: RSS %.1f MB, %.2f KB each, /health %.0f req/s, p99 %.2f ms%s".formatted(
                                label, n, memory.rssKb() / 1024.0, f.kbPerIdle(), f.rps(), f.p99Ms(), f.errors() > 0 ? ", " + f.errors() + " errors" : ""));
                    } catch (IdleClient.LimitMet e) {
                        throw new IOException("opened " + e.opened + " of " + n + ": " + e.getMessage(), e);
                    }
                }
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) {
                // One server failing (it died, ran out of something, did not start) ends its counts, not the run.
                String what = e.getMessage() == null ? e.toString() : e.getMessage().strip();
                failures.add("%s at %d idle connections: %s".formatted(label, n, what));
                Util.Progress.say("idle-connections: %s failed at %d idle connections: %s; going on with the next server".formatted(label, n, what));
                // The table cell and the JSON row get its first line; the report's note below the table, all of it.
                figures.add(Figure.notMeasured(s.script().serverName, s.mode(), n, "failed: " + what.lines().findFirst().orElse(what)));
                for (int later : ns) {
                    if (later > n) figures.add(Figure.notMeasured(s.script().serverName, s.mode(), later,
                            "skipped: the server failed at " + n + " idle connections"));
                }
            } finally {
                if (proc != null) proc.stop();
            }
        }
        report.title = "Idle connections: what one costs, and whether they slow the busy ones";
        report.intro = ("For each server model and each N, N keep-alive connections each send one request, read its answer "
                + "and then wait, open and idle (compare/IdleClient.java, from several loopback source addresses). RSS is the "
                + "server's resident set (its process tree) 0.5 s later; KB per idle is what the connections need of it: the "
                + "live heap (after a full GC) plus the resident memory outside the Java heap, against the same server with "
                + "none, per idle connection (a JVM's RSS alone moves with how much of its heap was touched before); meanwhile LoadTest drives /health with %d busy keep-alive connections for %s (closed loop, after 0.5 s "
                + "of warm-up). Each server runs alone, in its own JVM (%s), warmed up first by 10,000 short connections and "
                + "a load 1 s longer than a measured one.").formatted(loadConnections, load.toMillis() / 1000.0 + " s",
                String.join(" ", Processes.Launch.DEFAULT_JVM_OPTIONS));
        var table = new TextTable("server", "idle N", "RSS MB", "KB per idle", "/health req/s", "p99 ms", "note");
        var memory = new ArrayList<Html.Svg.Series>();
        var latency = new ArrayList<Html.Svg.Series>();
        for (var s : chosen) {
            String name = s.script().serverName + " " + s.mode();
            var rows = figures.stream().filter(f -> f.server().equals(s.script().serverName) && f.mode().equals(s.mode()))
                    .sorted(Comparator.comparingInt(Figure::idle)).toList();
            for (var f : rows) {
                if (!f.measured()) {
                    table.row(f.note().startsWith("failed") ? "x" : null, List.of(name, String.valueOf(f.idle()), "-", "-", "-", "-", f.note()));
                    continue;
                }
                table.row(f.errors() > 0 ? "!" : null, List.of(name, String.valueOf(f.idle()), "%.1f".formatted(f.rssKb() / 1024.0),
                        f.idle() == 0 ? "-" : "%.2f".formatted(f.kbPerIdle()), "%.0f".formatted(f.rps()), "%.2f".formatted(f.p99Ms()), ""));
            }
            // The legend says which counts have no point, and why.
            String series = name + notMeasuredLabel(rows);
            var measured = rows.stream().filter(Figure::measured).toList();
            memory.add(new Html.Svg.Series(series, measured.stream().filter(f -> f.idle() > 0).map(f -> new Html.Svg.Point(f.idle(), f.kbPerIdle())).toList()));
            latency.add(new Html.Svg.Series(series, measured.stream().map(f -> new Html.Svg.Point(f.idle(), f.p99Ms())).toList()));
        }
        String memoryTitle = "Memory per idle connection (KB: live heap, and resident memory outside the Java heap)";
        String latencyTitle = "/health p99 under load (ms) with N idle connections open";
        var measured = figures.stream().filter(Figure::measured).toList();
        report.section("N idle connections: the server's memory, and /health under load", table, summary(measured, chosen), List.of(
                new Html.Chart("memory", memoryTitle, Html.Svg.lineChart(memoryTitle, report.command, "idle connections (N)", "KB per idle connection", memory), memory),
                new Html.Chart("p99", latencyTitle, Html.Svg.lineChart(latencyTitle, report.command, "idle connections (N)", "p99 (ms)", latency), latency)));
        if (figures.stream().anyMatch(f -> !f.measured() && f.note().startsWith("skipped: ") && !f.note().contains("the server failed")))
            report.note("Counts marked skipped did not fit this machine's limits (the note says which); they are not failures. A server's "
                    + "cap (max-connections in its ready line: SimpleHttpServer sets it to half its open files) counts busy and idle "
                    + "connections alike; Compare holds the idle connections and runs LoadTest in its own JVM, so its own limit counts too. "
                    + "Raise the open-files limit (ulimit -n, or prlimit --nofile) to measure them.");
        if (figures.stream().anyMatch(f -> f.measured() && f.errors() > 0)) {
            report.note("! marks a row where LoadTest counted errors (see the progress lines on stderr).");
            report.exitCode = 1;
        }
        mechanismSection(report, "one more run of LoadTest's busy load with the most idle connections open");
        for (String n : memoryNotes) report.note("Memory: " + n);
        for (String failure : failures) report.note("x FAILED: " + failure + " (the figures of the other servers are kept)");
        if (!failures.isEmpty()) report.exitCode = 1;
        report.data(figures, Map.of("servers", chosen.stream().map(c -> c.script().command + ":" + c.mode()).toList(), "counts", ns,
                "loadSeconds", load.toMillis() / 1000.0, "loadConnections", loadConnections, "jvmOptions", Processes.Launch.DEFAULT_JVM_OPTIONS));
    }

    /**
     * What a server's process tree holds, read as bench/idle-connections.sh reads it: its resident memory (RSS), and
     * what its connections need of it: each JVM's live heap (the class histogram's total, after the full GC the
     * histogram runs) plus everything resident outside the Java heaps (thread stacks, the C library, the JVM's own
     * structures), each JVM having first given the C library's free memory back. RSS alone moves with the collector:
     * connections fill heap pages that a warm JVM has already touched (they cost no RSS) and a cold one has not.
     */
    record Memory(long rssKb, long neededKb) {
        /** The JIT's compiler threads give their freed arenas back every 5 s: until then they are in RSS, and no connection's. */
        static final Duration SETTLE = Duration.ofSeconds(6);
        private static final Pattern ADDRESS = Pattern.compile("0x[0-9a-f]+");
        private static final Pattern TOTAL = Pattern.compile("(?m)^Total\\s+\\d+\\s+(\\d+)");

        static Memory read(Processes.Proc proc, List<String> notes) {
            var pids = Counts.Proc.tree(proc.process.pid());   // listed once: listing the tree scans all of /proc
            long liveKb = 0, heapRssKb = 0;
            for (long pid : pids) {
                if (!Counts.Jvm.isJvm(pid)) continue;
                try {
                    Matcher total = TOTAL.matcher(Counts.Jvm.execute(pid, "GC.class_histogram"));
                    if (!total.find()) throw new IOException("GC.class_histogram printed no Total line");
                    long heapRss = residentKb(pid, Counts.Jvm.execute(pid, "GC.heap_info"));
                    Counts.Jvm.execute(pid, "System.trim_native_heap");
                    liveKb += Long.parseLong(total.group(1)) / 1024;
                    heapRssKb += heapRss;
                } catch (IOException | RuntimeException e) {
                    Counts.Jvm.note(notes, "JVM " + pid + "'s heap could not be read (" + e.getMessage() + "): its RSS is counted whole");
                }
            }
            long rss = Math.max(0, ProcSampler.statusSum(pids, "VmRSS:"));
            return new Memory(rss, rss - heapRssKb + liveKb);
        }

        /** KB of the JVM's Java heap that are resident: the Rss of its mappings in the address range GC.heap_info names. */
        static long residentKb(long pid, String heapInfo) throws IOException {
            long low = Long.MAX_VALUE, high = 0;
            for (Matcher m = ADDRESS.matcher(heapInfo); m.find(); ) {
                long a = Long.parseUnsignedLong(m.group().substring(2), 16);
                low = Math.min(low, a);
                high = Math.max(high, a);
            }
            if (high == 0) throw new IOException("GC.heap_info named no addresses");
            long kb = 0;
            boolean inside = false;
            for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/" + pid + "/smaps"))) {
                int dash = line.indexOf('-'), space = line.indexOf(' ');
                if (dash > 0 && space > dash && line.substring(0, dash).chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                    long start = Long.parseUnsignedLong(line.substring(0, dash), 16), end = Long.parseUnsignedLong(line.substring(dash + 1, space), 16);
                    inside = low <= start && end <= high;
                } else if (inside && line.startsWith("Rss:")) {
                    kb += Long.parseLong(line.substring(4).strip().split("\\s+")[0]);
                }
            }
            return kb;
        }
    }

    /** " (1000, 5000 skipped: max-connections=970)" for a legend: the counts without a point and the limit that stopped them. */
    static String notMeasuredLabel(List<Figure> rows) {
        var missing = rows.stream().filter(f -> !f.measured()).toList();
        if (missing.isEmpty()) return "";
        String counts = String.join(", ", missing.stream().map(f -> String.valueOf(f.idle())).toList());
        if (missing.stream().anyMatch(f -> f.note().startsWith("failed") || f.note().contains("the server failed")))
            return " (" + counts + " not measured: the server failed)";
        String why = missing.getFirst().note().replaceFirst("^skipped: \\d+ idle \\+ \\d+ busy do not fit: ", "");
        return " (" + counts + " skipped: " + why + ")";
    }

    /** What the measured figures say: the cheapest and the dearest idle connection, and how much the idle ones moved p99. */
    static List<String> summary(List<Figure> figures, List<Chosen> chosen) {
        var out = new ArrayList<String>();
        int most = figures.stream().mapToInt(Figure::idle).max().orElse(0);
        var atMost = figures.stream().filter(f -> f.idle() == most && most > 0).toList();
        if (atMost.isEmpty()) {
            out.add("Only N=0 was measured: no idle connection, nothing to compare.");
            return out;
        }
        var cheap = atMost.stream().min(Comparator.comparingDouble(Figure::kbPerIdle)).orElseThrow();
        var dear = atMost.stream().max(Comparator.comparingDouble(Figure::kbPerIdle)).orElseThrow();
        if (cheap == dear) {
            out.add("With %d idle connections (the most measured), only %s %s was measured: %.2f KB per connection.".formatted(
                    most, cheap.server(), cheap.mode(), cheap.kbPerIdle()));
        } else {
            out.add("With %d idle connections, %s %s kept %.2f KB per connection and %s %s %.1f KB: %s.".formatted(most,
                    cheap.server(), cheap.mode(), cheap.kbPerIdle(), dear.server(), dear.mode(), dear.kbPerIdle(),
                    dear.mode().equals("thread") || dear.mode().equals("pool")
                            ? "a platform thread per connection pays for its stack and its kernel thread, which is that model's lesson"
                            : "the difference is what each keeps per connection while it waits"));
        }
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
