// Compare's figures and its report: one record per measured run, the figures of the A/B table with their
// spread and interval, what a side cost, the machine, and the report as text and JSON.

import com.sun.management.OperatingSystemMXBean;

import java.io.*;
import java.lang.management.ManagementFactory;
import java.nio.file.*;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.*;

final class Verdicts {
    private Verdicts() {}

    /** One measured run of one side, as the JSON lists it. NaN where a side has no such figure (a URL has no CPU). */
    record RunRecord(String side, String path, String loop, int connections, int run, double targetRps, double rps,
                     double p50Ms, double p99Ms, double p999Ms, double serviceP50Ms, double serviceP99Ms,
                     double serverCpuUsPerRequest, long requests, long non2xx, long errors, boolean generatorSaturated,
                     double generatorCpuUsPerRequest) {}

    /** A figure of the table: the values of A's runs and of B's runs. */
    record Figure(String name, String unit, double[] a, double[] b) {
        double ratio() { return Stats.median(b) / Stats.median(a); }

        /** The 95% interval of the ratio, bootstrapped over the runs; null with fewer than 2 runs a side. */
        double[] interval() { return a.length < 2 || b.length < 2 ? null : Stats.bootstrapRatio(a, b); }

        boolean withinNoise() {
            double[] ci = interval();
            return ci != null && ci[0] <= 1.0 && ci[1] >= 1.0;
        }

        String ratioCell() {
            double r = ratio();
            if (Double.isNaN(r) || Double.isInfinite(r)) return "-";
            double[] ci = interval();
            if (ci == null) return fmtRatio(r) + "× (one sample)";
            if (withinNoise()) return "≈ 1 (within noise)";
            return fmtRatio(r) + "× (" + fmtRatio(ci[0]) + "–" + fmtRatio(ci[1]) + ")";
        }

        String cell(double[] v) {
            if (v.length == 0 || Double.isNaN(Stats.median(v))) return "-";
            String m = fmt(Stats.median(v), unit);
            return v.length == 1 ? m : m + " (" + fmt(Stats.min(v), unit) + "–" + fmt(Stats.max(v), unit) + ")";
        }
    }

    /** What one side cost: start-up, resident memory of its process tree, CPU time. NaN for a side Compare did not start. */
    record Sample(double startupMs, double rssMb) {
        static Sample afterStart(Sides.Running r) {
            if (r.proc() == null) return new Sample(Double.NaN, Double.NaN);
            return new Sample(r.proc().startupMs(), procSum(r.proc(), "VmRSS:") / 1024.0);
        }

        static Sample peak(Sides.Running r) {
            return new Sample(Double.NaN, r.proc() == null ? Double.NaN : procSum(r.proc(), "VmHWM:") / 1024.0);
        }

        /** CPU time (user + system) of the process and all its descendants, in ms, from /proc/PID/stat. */
        static double cpuMs(Sides.Proc p) {
            if (p == null) return Double.NaN;
            long ticks = 0;
            for (var h : tree(p)) {
                try {
                    String stat = Files.readString(Path.of("/proc/" + h.pid() + "/stat"));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);   // utime, stime (fields 14 and 15)
                } catch (IOException | RuntimeException gone) {
                    // the process ended between listing and reading
                }
            }
            return ticks * 1000.0 / CLOCK_TICKS;
        }

        /** The sum of a /proc/PID/status field (kB) over the process tree. */
        static long procSum(Sides.Proc p, String field) {
            long kb = 0;
            for (var h : tree(p)) {
                try {
                    for (String l : Files.readAllLines(Path.of("/proc/" + h.pid() + "/status"))) {
                        if (l.startsWith(field)) kb += Long.parseLong(l.substring(field.length()).strip().split("\\s+")[0]);
                    }
                } catch (IOException | RuntimeException gone) {
                    // the process ended between listing and reading
                }
            }
            return kb;
        }

        static List<ProcessHandle> tree(Sides.Proc p) {
            var all = new ArrayList<ProcessHandle>();
            all.add(p.process.toHandle());
            p.process.toHandle().descendants().forEach(all::add);
            return all;
        }

        /** USER_HZ: 100 on every Linux this runs on (the kernel's ABI, independent of CONFIG_HZ). */
        static final double CLOCK_TICKS = 100;
    }

    /** Median, spread, and a bootstrap interval for a ratio of medians. */
    static final class Stats {
        static double median(double[] v) {
            if (v.length == 0) return Double.NaN;
            double[] s = v.clone();
            Arrays.sort(s);
            return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
        }

        static double min(double[] v) { return Arrays.stream(v).min().orElse(Double.NaN); }

        static double max(double[] v) { return Arrays.stream(v).max().orElse(Double.NaN); }

        /** 2.5th and 97.5th percentiles of median(B*)/median(A*) over resamples of the runs (fixed seed: reproducible). */
        static double[] bootstrapRatio(double[] a, double[] b) {
            var rnd = new Random(42);
            int n = 4000;
            double[] ratios = new double[n];
            for (int i = 0; i < n; i++) ratios[i] = median(resample(b, rnd)) / median(resample(a, rnd));
            Arrays.sort(ratios);
            return new double[]{ratios[(int) (0.025 * (n - 1))], ratios[(int) Math.ceil(0.975 * (n - 1))]};
        }

        private static double[] resample(double[] v, Random rnd) {
            double[] r = new double[v.length];
            for (int i = 0; i < v.length; i++) r[i] = v[rnd.nextInt(v.length)];
            return r;
        }
    }

    /** The machine as the footer names it: cores, memory, kernel, load average, JDK. */
    record Machine(Instant at, int cores, long memoryMb, String kernel, String loadAverage, String jdk) {
        static Machine now() {
            long memMb = 0;
            try {
                for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
                    if (l.startsWith("MemTotal:")) memMb = Long.parseLong(l.replaceAll("\\D", "")) / 1024;
                }
            } catch (IOException | RuntimeException e) {
                memMb = ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize() >> 20;
            }
            String load;
            try {
                String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
                load = f[0] + " " + f[1] + " " + f[2];
            } catch (IOException | RuntimeException e) {
                load = String.format(Locale.ROOT, "%.2f", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
            }
            return new Machine(Instant.now(), Runtime.getRuntime().availableProcessors(), memMb,
                    System.getProperty("os.name") + " " + System.getProperty("os.version"), load,
                    System.getProperty("java.vm.vendor") + " " + System.getProperty("java.runtime.version"));
        }
    }

    /** The result of a comparison: the A/B table, the verdict, the warnings, the footer; and the same as JSON. */
    record Report(Compare.CompareCommand.Run run, List<Contract.Report> contract, List<String> paths, List<RunRecord> runs, double equalRate,
                  String equalPath, int equalConnections, Sample peakA, Sample peakB, List<String> notes, Machine machineAtEnd) {

        List<Figure> figures() {
            var f = new ArrayList<Figure>();
            f.add(new Figure("start-up to ready line", "ms", one(run.startA().startupMs()), one(run.startB().startupMs())));
            f.add(new Figure("idle RSS of the process tree", "MB", one(run.startA().rssMb()), one(run.startB().rssMb())));
            for (String path : paths) {
                for (int c : run.opts().concurrency) {
                    String at = "GET " + path + " c=" + c;
                    f.add(new Figure(at + " throughput", "req/s", values("A", path, "closed", c, RunRecord::rps), values("B", path, "closed", c, RunRecord::rps)));
                    f.add(new Figure(at + " latency p50", "ms", values("A", path, "closed", c, RunRecord::p50Ms), values("B", path, "closed", c, RunRecord::p50Ms)));
                    f.add(new Figure(at + " latency p99", "ms", values("A", path, "closed", c, RunRecord::p99Ms), values("B", path, "closed", c, RunRecord::p99Ms)));
                    f.add(new Figure(at + " server CPU per request", "µs", values("A", path, "closed", c, RunRecord::serverCpuUsPerRequest), values("B", path, "closed", c, RunRecord::serverCpuUsPerRequest)));
                }
            }
            if (equalRate >= 1) {
                String at = "equal load " + fmtInt(equalRate) + " req/s GET " + equalPath;
                f.add(new Figure(at + ": p50, corrected", "ms", values("A", equalPath, "open", equalConnections, RunRecord::p50Ms), values("B", equalPath, "open", equalConnections, RunRecord::p50Ms)));
                f.add(new Figure(at + ": p99, corrected", "ms", values("A", equalPath, "open", equalConnections, RunRecord::p99Ms), values("B", equalPath, "open", equalConnections, RunRecord::p99Ms)));
                f.add(new Figure(at + ": p99.9, corrected", "ms", values("A", equalPath, "open", equalConnections, RunRecord::p999Ms), values("B", equalPath, "open", equalConnections, RunRecord::p999Ms)));
            }
            f.add(new Figure("peak RSS of the process tree", "MB", one(peakA.rssMb()), one(peakB.rssMb())));
            return f;
        }

        static double[] one(double v) { return Double.isNaN(v) ? new double[0] : new double[]{v}; }

        double[] values(String side, String path, String loop, int c, java.util.function.ToDoubleFunction<RunRecord> f) {
            return runs.stream().filter(r -> r.side().equals(side) && r.path().equals(path) && r.loop().equals(loop) && r.connections() == c)
                    .mapToDouble(f).filter(v -> !Double.isNaN(v)).toArray();
        }

        String text() {
            var t = new Table("figure", "A: " + run.a().label(), "B: " + run.b().label(), "B/A (95% interval)");
            t.row("contract checks passed", passed(contract.get(0)), passed(contract.get(1)), "");
            for (var f : figures()) t.row(f.name() + " (" + f.unit() + ")", f.cell(f.a()), f.cell(f.b()), f.ratioCell());
            var sb = new StringBuilder(t.toString()).append('\n');
            sb.append(verdict()).append('\n');
            long saturated = runs.stream().filter(RunRecord::generatorSaturated).count();
            if (saturated > 0) {
                sb.append("Warning: LoadTest reported itself saturated in ").append(saturated).append(" of ").append(runs.size())
                        .append(" runs: there the generator, not the server, was the limit (see \"generator_saturated\" in --json).\n");
            }
            long failed = runs.stream().filter(r -> r.errors() > 0 || r.non2xx() > 0).count();
            if (failed > 0) sb.append("Warning: ").append(failed).append(" runs had errors or non-2xx answers (see --json).\n");
            for (String n : notes) sb.append("Note: ").append(n).append('\n');
            sb.append('\n').append(footer());
            return sb.toString();
        }

        static String passed(Contract.Report r) {
            return r.count(Contract.Verdict.PASS) + "/" + (r.outcomes().size() - r.count(Contract.Verdict.SKIP));
        }

        /** One sentence in words, on /health (or the first raced path) at the highest connection count. */
        String verdict() {
            String path = paths.getFirst();
            int c = Collections.max(run.opts().concurrency);
            String at = "GET " + path + " c=" + c;
            var figs = figures();
            Figure rps = figs.stream().filter(f -> f.name().equals(at + " throughput")).findFirst().orElseThrow();
            Figure cpu = figs.stream().filter(f -> f.name().equals(at + " server CPU per request")).findFirst().orElseThrow();
            String A = run.a().label(), B = run.b().label();
            var sb = new StringBuilder("Verdict: ");
            if (rps.withinNoise()) {
                sb.append(B).append(" and ").append(A).append(" answered ").append("GET ").append(path)
                        .append(" at the same rate within noise (").append(c).append(" connections)");
            } else {
                double[] ci = rps.interval();
                sb.append(B).append(" answered GET ").append(path).append(" at ").append(fmtRatio(rps.ratio())).append("×")
                        .append(ci == null ? "" : " (" + fmtRatio(ci[0]) + "–" + fmtRatio(ci[1]) + ")")
                        .append(" the rate of ").append(A).append(" (").append(c).append(" connections)");
            }
            double cr = cpu.ratio();
            if (!Double.isNaN(cr) && !Double.isInfinite(cr)) {
                sb.append(cpu.withinNoise() ? ", at about the same CPU per request (within noise)" : ", at " + fmtRatio(cr) + "× its CPU per request");
            }
            return sb.append('.').toString();
        }

        String footer() {
            var m = run.machineAtStart();
            var o = run.opts();
            var sb = new StringBuilder();
            sb.append("Date: ").append(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'").withZone(ZoneOffset.UTC).format(m.at()))
                    .append("; machine: ").append(m.cores()).append(" cores, ").append(m.memoryMb() / 1024.0 > 10 ? String.format(Locale.ROOT, "%.0f", m.memoryMb() / 1024.0) : String.format(Locale.ROOT, "%.1f", m.memoryMb() / 1024.0))
                    .append(" GiB, ").append(m.kernel()).append("; load average ").append(m.loadAverage()).append(" at start, ")
                    .append(machineAtEnd.loadAverage()).append(" at end\n");
            sb.append("JDK: ").append(m.jdk()).append(" (the servers' JVMs and LoadTest's)\n");
            sb.append("JVM options of both servers: ").append(String.join(" ", run.jvm())).append(" (not applied to URL and cmd: sides)\n");
            sb.append("Start-up: from the spawn of the server's own JVM to its ready line").append(
                    run.a().startupIncludesJBang() || run.b().startupIncludesJBang() ? " (includes JBang's launch)" : "; JBang's compile and launch excluded (Compare spawns the java command JBang would run)")
                    .append("; a cmd: side until its port accepts connections\n");
            sb.append("CPU pinning: ").append(run.pinning().note()).append('\n');
            sb.append("Load: LoadTest's engine in-process (nio, 1 thread); closed loop at ").append(o.concurrency).append(" connections, ")
                    .append(o.runs).append(" runs of ").append(fmtDuration(o.duration)).append(" per side after ").append(fmtDuration(o.warmup))
                    .append(" of warm-up each, A and B alternating; equal load: open loop, ").append(equalConnections).append(" connections\n");
            sb.append("Command: ").append(Util.commandLine()).append('\n');
            return sb.toString();
        }

        void writeJson(Path file) throws IOException {
            var root = new LinkedHashMap<String, Object>();
            root.put("command", Util.commandLine());
            var m = run.machineAtStart();
            root.put("machine", Map.of("date", m.at().toString(), "cores", m.cores(), "memory_mb", m.memoryMb(), "kernel", m.kernel(),
                    "load_average_start", m.loadAverage(), "load_average_end", machineAtEnd.loadAverage(), "jdk", m.jdk()));
            root.put("jvm_options", run.jvm());
            root.put("pinning", run.pinning().note());
            var sides = new LinkedHashMap<String, Object>();
            for (var e : List.of(Map.entry("A", run.a()), Map.entry("B", run.b()))) {
                var s = new LinkedHashMap<String, Object>();
                var start = e.getKey().equals("A") ? run.startA() : run.startB();
                var peak = e.getKey().equals("A") ? peakA : peakB;
                var rep = contract.get(e.getKey().equals("A") ? 0 : 1);
                s.put("spec", e.getValue().side().spec());
                s.put("label", e.getValue().label());
                s.put("url", e.getValue().uri("/").toString());
                s.put("startup_ms", num(start.startupMs()));
                s.put("idle_rss_mb", num(start.rssMb()));
                s.put("peak_rss_mb", num(peak.rssMb()));
                s.put("contract", Map.of("passed", rep.count(Contract.Verdict.PASS), "failed", rep.count(Contract.Verdict.FAIL),
                        "skipped", rep.count(Contract.Verdict.SKIP), "checks", rep.outcomes().stream().map(x -> Map.of("check", x.check(), "verdict", x.verdict().name(), "detail", x.detail())).toList()));
                sides.put(e.getKey(), s);
            }
            root.put("sides", sides);
            root.put("paths", paths);
            var equal = new LinkedHashMap<String, Object>();  // num() may be null, which Map.of refuses
            equal.put("rate", num(equalRate)); equal.put("path", equalPath); equal.put("connections", equalConnections);
            root.put("equal_load", equal);
            var figs = new ArrayList<Map<String, Object>>();
            for (var f : figures()) {
                var x = new LinkedHashMap<String, Object>();
                x.put("figure", f.name());
                x.put("unit", f.unit());
                x.put("a", stats(f.a()));
                x.put("b", stats(f.b()));
                x.put("ratio", num(f.ratio()));
                double[] ci = f.interval();
                x.put("ratio_interval", ci == null ? null : Arrays.asList(num(ci[0]), num(ci[1])));  // null where unbounded (List.of refuses null)
                x.put("within_noise", f.withinNoise());
                figs.add(x);
            }
            root.put("figures", figs);
            root.put("runs", runs.stream().map(r -> {
                var x = new LinkedHashMap<String, Object>();
                x.put("side", r.side()); x.put("path", r.path()); x.put("loop", r.loop()); x.put("connections", r.connections());
                x.put("run", r.run()); x.put("target_rps", num(r.targetRps())); x.put("rps", num(r.rps()));
                x.put("p50_ms", num(r.p50Ms())); x.put("p99_ms", num(r.p99Ms())); x.put("p999_ms", num(r.p999Ms()));
                x.put("service_p50_ms", num(r.serviceP50Ms())); x.put("service_p99_ms", num(r.serviceP99Ms()));
                x.put("server_cpu_us_per_request", num(r.serverCpuUsPerRequest())); x.put("requests", r.requests());
                x.put("non_2xx", r.non2xx()); x.put("errors", r.errors()); x.put("generator_saturated", r.generatorSaturated());
                x.put("generator_cpu_us_per_request", num(r.generatorCpuUsPerRequest()));
                return x;
            }).toList());
            root.put("verdict", verdict());
            root.put("notes", notes);
            Files.writeString(file, Contract.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n");
        }

        /**
         * `compare --html FILE`: the A/B table, the throughput per path and connection count as a bar chart (medians
         * of the runs), the verdict and the warnings, with compare's own footer.
         */
        void writeHtml(Path file) throws IOException {
            var page = new Html.Page(Util.commandLine());
            page.title = "Compare: " + run.a().label() + " (A) vs " + run.b().label() + " (B)";
            page.intro = verdict();
            var t = new Table("figure", "A: " + run.a().label(), "B: " + run.b().label(), "B/A (95% interval)");
            t.row("contract checks passed", passed(contract.get(0)), passed(contract.get(1)), "");
            var categories = new ArrayList<String>();
            var a = new ArrayList<Html.Svg.Point>();
            var b = new ArrayList<Html.Svg.Point>();
            for (var f : figures()) {
                t.row(f.name() + " (" + f.unit() + ")", f.cell(f.a()), f.cell(f.b()), f.ratioCell());
                if (!f.name().endsWith(" throughput")) continue;
                int x = categories.size();
                categories.add(f.name().substring(0, f.name().length() - " throughput".length()));
                if (f.a().length > 0) a.add(new Html.Svg.Point(x, Stats.median(f.a())));
                if (f.b().length > 0) b.add(new Html.Svg.Point(x, Stats.median(f.b())));
            }
            var series = List.of(new Html.Svg.Series("A: " + run.a().label(), a), new Html.Svg.Series("B: " + run.b().label(), b));
            String title = "Throughput, median of the runs (req/s)";
            var sentences = new ArrayList<String>();
            String text = text();
            text.lines().filter(l -> l.startsWith("Warning: ") || l.startsWith("Note: ")).forEach(sentences::add);
            page.section("A/B table", t, sentences, List.of(new Html.Chart("throughput", title,
                    Html.Svg.barChart(title, page.command, "requests/s", categories, series), series)));
            page.footer = footer().strip().replace("\n", ". ");
            Util.writeFile(file, page.html());
            Util.Progress.say("HTML report: " + file.toAbsolutePath());
        }

        static Map<String, Object> stats(double[] v) {
            var x = new LinkedHashMap<String, Object>();
            x.put("median", num(Stats.median(v)));
            x.put("min", num(Stats.min(v)));
            x.put("max", num(Stats.max(v)));
            x.put("values", Arrays.stream(v).boxed().toList());
            return x;
        }

        static Double num(double v) { return Double.isNaN(v) || Double.isInfinite(v) ? null : v; }
    }

    static String fmt(double v, String unit) {
        return switch (unit) {
            case "req/s" -> fmtInt(v);
            case "MB" -> String.format(Locale.ROOT, "%.1f", v);
            default -> v < 10 ? String.format(Locale.ROOT, "%.2f", v) : v < 100 ? String.format(Locale.ROOT, "%.1f", v) : fmtInt(v);
        };
    }

    static String fmtInt(double v) { return String.format(Locale.ROOT, "%,.0f", v); }

    static String fmtRatio(double r) { return String.format(Locale.ROOT, r >= 10 ? "%.0f" : "%.2f", r); }

    static String fmtDuration(Duration d) { return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms"; }

    /** A plain text table: a header row, right-aligned numbers, a marker column for rows worth a look. */
    static final class Table {
        final List<String> header;
        final List<List<String>> rows = new ArrayList<>();
        final List<String> marks = new ArrayList<>();

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
