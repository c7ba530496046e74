// The prime race: LongPrime, Echo, SmallPrime on three connections to PrimeEchoServer; who answers first, per model.

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

@Command(name = "prime-race", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        description = {"The concurrent-servers series' demonstration, per model: PrimeEchoServer's demo client opens three connections, "
                + "LongPrime (seconds of trial division) first, then Echo and SmallPrime. When each answer arrived, as "
                + "a table and a timeline per model: where Echo waits for LongPrime, the model blocks."})
final class PrimeRace extends Experiment {
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
        if (specs.isEmpty()) throw Util.Failure.usage("--modes: none given");
        for (String s : specs) {
            String[] mo = s.split(":", 2);
            if (!MODES.contains(mo[0]) || (mo.length == 2 && !mo[1].equals("no-offload")))
                throw Util.Failure.usage("--modes: " + s + " (MODE or MODE:no-offload; modes: " + String.join(", ", MODES) + ")");
        }
        if (timeoutS < 1) throw Util.Failure.usage("--timeout: " + timeoutS + " (at least 1 second)");
        var runs = new ArrayList<Run>();
        for (String s : specs) {
            String[] mo = s.split(":", 2);
            boolean offload = mo.length == 1 ? !List.of("sequential", "thread", "pool").contains(mo[0]) : false;
            var args = new ArrayList<>(List.of("-p", "0", "-q", "-m", mo[0]));
            if (mo.length == 2) args.add("--no-offload");
            Util.Progress.say("prime-race: starting PrimeEchoServer -m " + mo[0] + (mo.length == 2 ? " --no-offload" : ""));
            var server = startServer("prime:" + s, Sides.Script.PRIME, args);
            try {
                var client = Processes.Procs.start("prime-client", Processes.Launch.direct(Sides.Script.PRIME, Processes.Launch.jvmOptions(List.of()),
                        List.of("client", "-p", String.valueOf(server.port()), "--timeout", String.valueOf(timeoutS))), false);
                // The server's mechanism counted while the demo client's three requests run (compare/Counts.java).
                int exit = counted(report, mo[0] + (mo.length == 2 ? " --no-offload" : ""), server, client::waitForExit, e -> 3);
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
                if (exit != 0 || printed.size() != 3) throw Util.Failure.of("the demo client against -m " + s + " ended with exit " + exit + client.lastLines(10));
                // Ordered by the time each answer arrived (the client prints two answers that arrive together
                // in either order).
                printed.sort(Comparator.comparingLong(m -> Long.parseLong(m.group(4))));
                for (var m : printed) arrivals.add(new Arrival(m.group(1), m.group(2), m.group(3), Long.parseLong(m.group(4)), arrivals.size() + 1));
                // Blocked: Echo, which needs no computation, waited for most of LongPrime's (on a model that does not
                // block it comes back in milliseconds; on one that blocks, right around LongPrime's answer).
                var run = new Run(mo[0], offload, mo.length == 2, arrivals, arrivalOf(arrivals, "Echo").ms() * 2 > arrivalOf(arrivals, "LongPrime").ms());
                runs.add(run);
                Util.Progress.say("prime-race: %s: %s".formatted(run.label(), arrivals.stream().map(a -> a.name() + " " + a.ms() + " ms").collect(Collectors.joining(", "))));
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
        var table = new TextTable("model", "offload", "LongPrime ms", "Echo ms", "SmallPrime ms", "order of arrival", "Echo waited?");
        var charts = new ArrayList<Html.Chart>();
        double maxMs = runs.stream().flatMap(r -> r.arrivals().stream()).mapToLong(Arrival::ms).max().orElse(1);
        for (var r : runs) {
            table.row(null, List.of(r.label(), r.offload() ? "on" : "off", ms(r, "LongPrime"), ms(r, "Echo"), ms(r, "SmallPrime"),
                    r.arrivals().stream().map(Arrival::name).collect(Collectors.joining(" > ")), r.blocked() ? "yes: blocked" : "no"));
            var series = List.of(new Html.Svg.Series(r.label(), r.arrivals().stream()
                    .sorted(Comparator.comparingInt(a -> Client.ORDER.indexOf(a.name())))
                    .map(a -> new Html.Svg.Point(Client.ORDER.indexOf(a.name()), a.ms())).toList()));
            String id = r.mode() + (r.noOffloadFlag() ? "-no-offload" : "");
            charts.add(new Html.Chart(id, r.label(), Html.Svg.timeline("PrimeEchoServer -m " + r.label() + (r.blocked() ? ": blocked" : ": not blocked"),
                    report.command, Client.ORDER, series.getFirst(), maxMs), series));
        }
        var blocked = runs.stream().filter(Run::blocked).map(Run::label).toList();
        var free = runs.stream().filter(r -> !r.blocked()).map(Run::label).toList();
        var summary = new ArrayList<String>();
        if (!blocked.isEmpty())
            summary.add("Blocked: " + join(blocked) + ". Echo came back only after LongPrime, because the one "
                    + "thread that serves every connection (or the event loop) was busy dividing.");
        if (!free.isEmpty())
            summary.add("Not blocked: " + join(free) + ". Echo and SmallPrime came back at once, LongPrime last: "
                    + "the long check ran on a thread of its own (a connection's thread, a pool worker, or the prime pool).");
        report.section("When each answer arrived (ms from the client's start)", table, summary, charts);
        mechanismSection(report, "the demo client's run (three requests: LongPrime, Echo, SmallPrime; the client's JVM start-up is in the window, the server idles through it)");
        report.data(runs, Map.of("runs", specs, "longPrime", "P2305843009213693951", "jvmOptions", Processes.Launch.DEFAULT_JVM_OPTIONS));
    }

    /** Waits until Proc's reader has taken the last line of a process that printed no ready line (it has ended). */
    static void awaitOutputEnd(Processes.Proc p) throws InterruptedException {
        try {
            p.ready.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException endOfOutput) {
            // the reader completes `ready` exceptionally once the output has ended: every line is in
        } catch (TimeoutException e) {
            throw Util.Failure.of(p.name + ": its output did not end 10 s after it exited");
        }
    }

    /** The demo client's three jobs in the order it sends them. */
    static final class Client {
        static final List<String> ORDER = List.of("LongPrime", "Echo", "SmallPrime");
    }

    static Arrival arrivalOf(List<Arrival> arrivals, String name) {
        return arrivals.stream().filter(a -> a.name().equals(name)).findFirst()
                .orElseThrow(() -> Util.Failure.of("the demo client printed no " + name + " line"));
    }

    static String ms(Run r, String name) { return String.valueOf(arrivalOf(r.arrivals(), name).ms()); }
}
