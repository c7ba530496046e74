// The experiments' common part: each experiment (compare/Architectures.java, EchoRace.java, PrimeRace.java,
// IdleConnections.java) is a subcommand that starts the servers itself, prints a table, and draws the chart.
// --html FILE writes one self-contained page (tables, inline SVG drawn by Html.java, machine and command in the footer),
// --json FILE every figure, --svg DIR each chart as its own file. The servers run unpinned on purpose: how a
// model uses every core is part of what these experiments show.

import picocli.CommandLine;
import picocli.CommandLine.Option;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

import java.io.*;
import java.nio.file.*;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.*;
import java.util.concurrent.*;

/** What every experiment shares: the report files, the command line, progress, the servers it starts and the page it writes. */
abstract class Experiment implements Callable<Integer> {
    @CommandLine.Mixin
    ReportFiles files = new ReportFiles();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override public final Integer call() throws Exception {
        Processes.Procs.installShutdownHook();
        var report = new Report(spec.name(), Util.commandLine());
        try {
            run(report);
        } finally {
            Processes.Procs.stopAll();
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

    abstract void run(Report report) throws Exception;

    /** Starts one of our servers (its own JVM, JBang's launch excluded) and waits for its ready line. */
    static Processes.Proc startServer(String name, Sides.Script script, List<String> args) throws Exception {
        var proc = Processes.Procs.start(name, Processes.Launch.direct(script, Processes.Launch.jvmOptions(List.of()), args), false);
        proc.awaitReady(Duration.ofSeconds(180));
        return proc;
    }

    /** "a,b:c" split at commas, blanks dropped. */
    static List<String> list(String csv) {
        return Arrays.stream(csv.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
    }

    // ---------------------------------------------------------------- the HTTP servers' models, as --servers names them

    /** The modes of each HTTP server, simplest first (the servers' own Mode enums; tests/ExperimentsTest.java checks they match; architectures and idle-connections choose from them). */
    static final Map<Sides.Script, List<String>> HTTP_MODES = Map.of(
            Sides.Script.SIMPLE, List.of("single", "pool", "virtual"),
            Sides.Script.THREADED, List.of("sequential", "thread", "pool", "virtual", "nio", "processes"));

    record Chosen(Sides.Script script, String mode) {}

    static List<Chosen> parseServers(String csv) {
        var out = new ArrayList<Chosen>();
        for (String item : list(csv)) {
            String[] nm = item.split(":", 2);
            Sides.Script script = Arrays.stream(Sides.Script.values()).filter(s -> s.command.equals(nm[0]) && HTTP_MODES.containsKey(s)).findFirst()
                    .orElseThrow(() -> Util.Failure.usage("--servers: unknown server " + nm[0] + " (simple, threaded, simple:MODE, threaded:MODE)"));
            var modes = HTTP_MODES.get(script);
            if (nm.length == 1) {
                modes.forEach(m -> out.add(new Chosen(script, m)));
            } else if (modes.contains(nm[1])) {
                out.add(new Chosen(script, nm[1]));
            } else {
                throw Util.Failure.usage("--servers: " + script.serverName + " has no mode " + nm[1] + " (" + String.join(", ", modes) + ")");
            }
        }
        if (out.isEmpty()) throw Util.Failure.usage("--servers: none given");
        return out.stream().distinct().toList();
    }

    static String join(List<String> names) {
        if (names.size() == 1) return names.getFirst();
        return String.join(", ", names.subList(0, names.size() - 1)) + " and " + names.getLast();
    }

    // ---------------------------------------------------------------- the mechanism per model (compare/Counts.java)

    /** Runs `work` against a server with its mechanism counted (the requests are what `requests` says the result holds). */
    static <T> T counted(Report report, String model, Processes.Proc server, Callable<T> work, java.util.function.ToLongFunction<T> requests) throws Exception {
        var session = Counts.start(server.process.pid());
        T result;
        try {
            result = work.call();
        } catch (Exception | Error e) {
            session.abandon();
            throw e;
        }
        report.counts.put(model, session.stop(requests.applyAsLong(result)));
        return result;
    }

    /**
     * The section every experiment ends with: per model, system calls by kind, context switches and allocated bytes per
     * request, and the threads at the peak; and a stacked bar chart of the system calls per request by kind.
     */
    static void mechanismSection(Report report, String what) {
        if (report.counts.isEmpty()) return;
        var kinds = Arrays.asList(Counts.Kind.values());
        var header = new ArrayList<>(List.of("model", "requests"));
        kinds.forEach(k -> header.add(k.label));
        header.addAll(List.of("context switches", "allocated B", "threads (peak)"));
        var table = new TextTable(header.toArray(String[]::new));
        var models = List.copyOf(report.counts.keySet());
        var series = new ArrayList<Html.Svg.Series>();
        for (var k : kinds) {
            var points = new ArrayList<Html.Svg.Point>();
            for (int i = 0; i < models.size(); i++) {
                double v = report.counts.get(models.get(i)).perRequest(k);
                if (!Double.isNaN(v)) points.add(new Html.Svg.Point(i, v));
            }
            if (!points.isEmpty()) series.add(new Html.Svg.Series(k.label, points));
        }
        for (String m : models) {
            var c = report.counts.get(m);
            var row = new ArrayList<>(List.of(m, String.valueOf(c.requests())));
            kinds.forEach(k -> row.add(perRequest(c.perRequest(k))));
            row.add(perRequest(c.perRequest(c.contextSwitches())));
            row.add(Double.isNaN(c.allocatedBytes()) ? Counts.NOT_AVAILABLE : "%.0f".formatted(c.perRequest(c.allocatedBytes())));
            row.add(Double.isNaN(c.peakThreads()) ? Counts.NOT_AVAILABLE : "%.0f".formatted(c.peakThreads()));
            table.row(null, row);
        }
        var first = report.counts.values().iterator().next();
        var sentences = new ArrayList<String>();
        sentences.add("Per request, counted around " + what + " from outside each server: " + first.sources() + ".");
        report.counts.values().stream().flatMap(c -> c.notes().stream()).distinct().forEach(n -> sentences.add("Counts: " + n));
        String title = "System calls per request, by kind";
        var charts = series.isEmpty() ? List.<Html.Chart>of() : List.of(new Html.Chart("syscalls", title,
                Html.Svg.stackedBarChart(title, report.command, "system calls per request", models, series), series));
        report.section("The mechanism per request (what each model asked of the kernel and the JVM)", table, sentences, charts);
    }

    static String perRequest(double v) { return Double.isNaN(v) ? Counts.NOT_AVAILABLE : "%.2f".formatted(v); }

    static List<String> concat(String first, List<String> rest) {
        var all = new ArrayList<String>();
        all.add(first);
        all.addAll(rest);
        return all;
    }

    // ---------------------------------------------------------------- the report: files and page

    /** The report files every experiment can write (`compare` has its own --json and --html). */
    static final class ReportFiles {
        @Option(names = "--html", paramLabel = "FILE", description = "Write one self-contained HTML report (tables, SVG charts; opens offline, prints well).")
        Path html;

        @Option(names = "--json", paramLabel = "FILE", description = "Write every figure as JSON.")
        Path json;

        @Option(names = "--svg", paramLabel = "DIR", description = "Write each chart as its own SVG file into DIR.")
        Path svgDir;

        /** Writes what was asked for, and says where on stderr; a file that cannot be written is one Error: line. */
        void write(Report report, Object results, Map<String, Object> settings) {
            try {
                writeAll(report, results, settings);
            } catch (IOException | UncheckedIOException e) {
                throw Util.Failure.of("cannot write the report: " + e.getClass().getSimpleName() + " " + e.getMessage() + " (check the path given to --html, --json or --svg)");
            }
        }

        private void writeAll(Report report, Object results, Map<String, Object> settings) throws IOException {
            if (json != null) {
                var doc = new LinkedHashMap<String, Object>();
                doc.put("experiment", report.experiment);
                doc.put("command", report.command);
                doc.put("machine", report.machine);
                doc.put("settings", settings);
                doc.put("results", results);
                if (!report.counts.isEmpty()) {
                    var counts = new LinkedHashMap<String, Object>();
                    report.counts.forEach((model, c) -> counts.put(model, c.json()));
                    doc.put("counts", counts);
                }
                doc.put("notes", report.notes);
                doc.put("charts", report.charts.stream().map(c -> Map.of("id", c.id(), "title", c.title(),
                        "series", c.series().stream().map(s -> Map.of("name", s.name(), "points", s.points().size())).toList())).toList());
                Util.writeFile(json, JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build().writeValueAsString(doc));
                Util.Progress.say("JSON: " + json.toAbsolutePath());
            }
            if (html != null) {
                Util.writeFile(html, report.html());
                Util.Progress.say("HTML report: " + html.toAbsolutePath());
            }
            if (svgDir != null) {
                Files.createDirectories(svgDir);
                for (var c : report.charts) {
                    Path f = svgDir.resolve(report.experiment + "-" + c.id() + ".svg");
                    Util.writeFile(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + c.svg());
                    Util.Progress.say("SVG: " + f.toAbsolutePath());
                }
            }
        }
    }

    /** An experiment's findings: a page of tables, sentences and charts, and every figure with its settings for --json. */
    static final class Report extends Html.Page {
        final String experiment;
        final Machine machineAtStart = Machine.now();
        final Map<String, Object> machine = Map.of("date", machineAtStart.at().toString(), "cores", machineAtStart.cores(),
                "memory_mb", machineAtStart.memoryMb(), "kernel", machineAtStart.kernel(), "load_average", machineAtStart.loadAverage(),
                "jdk", machineAtStart.jdk());
        int exitCode = 0;

        Report(String experiment, String command) {
            super(command);
            this.experiment = experiment;
            var m = machineAtStart;
            footer = "%s; machine: %d cores, %.1f GiB, %s; JDK %s; load average %s at start; servers unpinned, JVM options %s. Command: %s".formatted(
                    DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'").withZone(ZoneOffset.UTC).format(m.at()), m.cores(),
                    m.memoryMb() / 1024.0, m.kernel(), m.jdk(), m.loadAverage(), String.join(" ", Processes.Launch.DEFAULT_JVM_OPTIONS), command);
        }

        /** What --json writes besides the machine and the command: every figure, and the settings that made them. */
        Object results = List.of();
        Map<String, Object> settings = Map.of();

        /** The mechanism of each model (compare/Counts.java), in the order the models ran; --json writes it as "counts". */
        final Map<String, Counts> counts = new LinkedHashMap<>();

        void data(Object results, Map<String, Object> settings) {
            this.results = results;
            this.settings = settings;
        }
    }
}
