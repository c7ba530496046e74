// Compare's figures and its report: one record per measured run, the figures of the A/B table with their spread
// and their interval from paired rounds (compare/PairedStats.java), what a side cost and which JVM options it ran
// with, every request counted (unanswered, answers per connection), the machine, and the report as text, JSON, HTML.

import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.*;

final class Verdicts {
    private Verdicts() {}

    /** One measured run of one side, as the JSON lists it. NaN where a side has no such figure (a URL has no CPU). */
    record RunRecord(String side, String path, String loop, int connections, int run, double targetRps, double rps,
                     double p50Ms, double p99Ms, double p999Ms, double serviceP50Ms, double serviceP99Ms,
                     double serverCpuUsPerRequest, long requests, long non2xx, long errors, boolean generatorSaturated,
                     double generatorCpuUsPerRequest, LoadTest.Unanswered unanswered, LoadTest.Fairness fairness,
                     org.HdrHistogram.Histogram latency /* µs; merged per side for the tails, not written to the JSON */,
                     Counts counts /* the mechanism (compare/Counts.java); null where not counted */,
                     int fork /* 1, 2, ...: the pair of processes it ran on (Forks) */) {}

    /** What the warm-up of one side on one path took, and whether its throughput became steady before --steady-max. */
    record WarmupRecord(String side, String path, double seconds, boolean steady, double[] rps, int fork) {}

    /** Warm-up to steady state: windows of this length, until this many in a row agree within the tolerance. */
    static final Duration STEADY_WINDOW = Duration.ofMillis(250);
    static final int STEADY_IN_ROW = 3;
    static final double STEADY_TOLERANCE = 0.10;

    /** A latency row is not compared for a side that answered less than this share of the other side's requests. */
    static final double ANSWERED_SHARE_FOR_LATENCY = 0.5;

    /**
     * A row of the table: A's and B's values, per round (paired by index: a[i] and b[i] ran back to back, on the pair
     * of processes forks[i]), the value each cell shows (NaN: the median of the rounds; for tails the merged
     * histogram's percentile), and `caveat`, said instead of a ratio where the ratio would mislead. Start-up and
     * memory have one value a side per fork.
     */
    record Figure(String name, String unit, double[] a, double[] b, int[] forks, double shownA, double shownB, String caveat) {
        /** Its name and unit, as a table row names it: "throughput (req/s)"; "threads (peak)" says its unit already. */
        String label() { return (" " + name.replaceFirst(" \\([^)]*\\)$", "")).endsWith(" " + unit) ? name : name + " (" + unit + ")"; }

        Figure(String name, String unit, double[] a, double[] b, int[] forks) { this(name, unit, a, b, forks, Double.NaN, Double.NaN, null); }

        /** B/A over forks (Forks: the forks' Hodges-Lehmann estimates, Student's t; one fork: the rounds' signed-rank interval). */
        Forks.Estimate estimate() {
            if (a.length != b.length || forks.length != a.length) return Forks.of(List.of());
            var perFork = new TreeMap<Integer, List<Integer>>();
            for (int i = 0; i < a.length; i++) perFork.computeIfAbsent(forks[i], k -> new ArrayList<>()).add(i);
            return Forks.of(perFork.values().stream().map(rounds -> PairedStats.logRatios(
                    rounds.stream().mapToDouble(i -> a[i]).toArray(), rounds.stream().mapToDouble(i -> b[i]).toArray())).toList());
        }

        PairedStats.Interval interval() { return estimate().interval(); }

        double ratio() { return interval().ratio(); }

        /** What the row says: never a difference where a caveat stands or the interval holds 1. */
        PairedStats.Verdict verdict() { return caveat != null ? PairedStats.Verdict.NO_DATA : interval().verdict(); }

        boolean different() { return verdict() == PairedStats.Verdict.B_HIGHER || verdict() == PairedStats.Verdict.B_LOWER; }

        String ratioCell() {
            if (caveat != null) return caveat;
            var ci = interval();
            double r = ci.ratio();
            if (Double.isNaN(r) || Double.isInfinite(r)) return "-";
            if (ci.n() == 1) return fmtRatio(r) + "× (one sample)";
            if (ci.tooFew()) return fmtRatio(r) + "× (" + ci.n() + " rounds: too few for a 95% interval)";
            if (!ci.excludesOne()) return "≈ 1 (within noise: " + fmtBound(ci.low()) + "–" + fmtBound(ci.high()) + ")";
            return fmtRatio(r) + "× (" + fmtBound(ci.low()) + "–" + fmtBound(ci.high()) + ")";
        }

        /** A side's cell: the value shown (or the median of its rounds) and the range of its rounds. */
        String cell(double[] v, double shown) {
            if (v.length == 0 || Double.isNaN(PairedStats.median(v))) return "-";
            String range = v.length == 1 ? "" : " (" + fmt(PairedStats.min(v), unit) + "–" + fmt(PairedStats.max(v), unit) + ")";
            if (Double.isNaN(shown) && isTail()) return "n/a";
            return fmt(Double.isNaN(shown) ? PairedStats.median(v) : shown, unit) + range;
        }

        String cellA() { return cell(a, shownA); }

        String cellB() { return cell(b, shownB); }

        boolean isTail() { return name.contains("p99"); }

        Figure withCaveat(String c) { return new Figure(name, unit, a, b, forks, shownA, shownB, c); }

        /** An interval wider than ×2 around its estimate on either side says nothing at this length: marked so. */
        Figure tooNoisyOver(double factor) {
            var ci = interval();
            if (caveat != null || ci.tooFew() || (ci.high() / ci.ratio() <= factor && ci.ratio() / ci.low() <= factor)) return this;
            return withCaveat("too noisy at this length (" + fmtBound(ci.low()) + "–" + fmtBound(ci.high()) + ")");
        }
    }

    /** What one side cost: start-up, resident memory of its process tree, CPU time. NaN for a side Compare did not start. */
    record Sample(double startupMs, double rssMb) {
        static Sample afterStart(Sides.Running r) {
            if (r.proc() == null) return new Sample(Double.NaN, Double.NaN);
            return new Sample(r.proc().startupMs(), ProcSampler.procSum(r.proc(), "VmRSS:") / 1024.0);
        }

        static Sample peak(Sides.Running r) {
            return new Sample(Double.NaN, r.proc() == null ? Double.NaN : ProcSampler.procSum(r.proc(), "VmHWM:") / 1024.0);
        }
    }

    /**
     * What a report needs to know of the race that made it: the two sides as started, what each cost at start, how
     * the rounds were run (the connection counts, rounds, lengths), the JVM options asked for, pinning, the machine.
     */
    record Race(Sides.Running a, Sides.Running b, List<Sample> startA, List<Sample> startB, List<Integer> concurrency, int rounds,
                Duration duration, Duration warmup, Duration steadyMax, Sides.Pinning pinning, List<String> jvm, Machine machineAtStart,
                Forks.Outcome forks, boolean equalLoadLeftOut) {}

    /** The headline rows: closed-loop throughput per raced path and connection count, with their fork-level estimates. */
    static Map<String, Forks.Estimate> headline(List<RunRecord> runs, List<String> paths, List<Integer> concurrency) {
        var rows = new LinkedHashMap<String, Forks.Estimate>();
        for (String path : paths) {
            for (int c : concurrency) rows.put("GET " + path + " c=" + c, Report.group(runs, path, "closed", c).figure("", "", RunRecord::rps).estimate());
        }
        return rows;
    }

    /** An equal-load row whose interval reaches beyond ×2 (or ÷2) of its estimate is marked too noisy to say anything. */
    static final double EQUAL_LOAD_NOISY = 2;

    /** The result of a comparison: the A/B table, the verdict, the warnings, the footer; and the same as JSON. */
    record Report(Race run, List<ContractReport> contract, List<String> paths, List<RunRecord> runs, List<WarmupRecord> warmups,
                  double equalRate, String equalPath, int equalConnections, List<Sample> peakA, List<Sample> peakB, List<String> jvmA,
                  List<String> jvmB, List<String> notes, Machine machineAtEnd) {

        List<Figure> figures() {
            var f = new ArrayList<Figure>();
            f.add(perFork("start-up to ready line", "ms", run.startA(), run.startB(), Sample::startupMs));
            f.add(perFork("idle RSS of the process tree", "MB", run.startA(), run.startB(), Sample::rssMb));
            for (String path : paths) {
                for (int c : run.concurrency()) {
                    String at = "GET " + path + " c=" + c;
                    var g = group(path, "closed", c);
                    f.add(g.figure(at + " throughput", "req/s", RunRecord::rps));
                    f.add(g.latency(at + " latency p50", 50, RunRecord::p50Ms));
                    f.add(g.latency(at + " latency p99", 99, RunRecord::p99Ms));
                    f.add(g.figure(at + " server CPU per request", "µs", RunRecord::serverCpuUsPerRequest));
                    for (var row : Counts.ROWS) f.add(g.counted(at + " " + row.name(), row));
                }
            }
            if (equalRate >= 1) {
                String at = "equal load " + fmtInt(equalRate) + " req/s GET " + equalPath;
                var g = group(equalPath, "open", equalConnections);
                f.add(g.latency(at + ": p50, corrected", 50, RunRecord::p50Ms).tooNoisyOver(EQUAL_LOAD_NOISY));
                f.add(g.latency(at + ": p99, corrected", 99, RunRecord::p99Ms).tooNoisyOver(EQUAL_LOAD_NOISY));
                f.add(g.latency(at + ": p99.9, corrected", 99.9, RunRecord::p999Ms).tooNoisyOver(EQUAL_LOAD_NOISY));
            } else if (run.equalLoadLeftOut()) {
                for (String p : List.of("p50", "p99", "p99.9")) {
                    f.add(new Figure("equal load GET " + equalPath + ": " + p + ", corrected", "ms", new double[0], new double[0], new int[0])
                            .withCaveat("left out of --quick: too noisy at this length"));
                }
            }
            f.add(perFork("peak RSS of the process tree", "MB", peakA, peakB, Sample::rssMb));
            return f;
        }

        /** A figure with one value a side per fork (start-up, memory): fork i's A against fork i's B. */
        static Figure perFork(String name, String unit, List<Sample> a, List<Sample> b, java.util.function.ToDoubleFunction<Sample> f) {
            var forks = java.util.stream.IntStream.range(0, Math.min(a.size(), b.size()))
                    .filter(i -> !Double.isNaN(f.applyAsDouble(a.get(i))) && !Double.isNaN(f.applyAsDouble(b.get(i)))).toArray();
            return new Figure(name, unit, Arrays.stream(forks).mapToDouble(i -> f.applyAsDouble(a.get(i))).toArray(),
                    Arrays.stream(forks).mapToDouble(i -> f.applyAsDouble(b.get(i))).toArray(), forks);
        }

        Group group(String path, String loop, int c) { return group(runs, path, loop, c); }

        /** The runs of one path, loop and connection count: A's and B's of the rounds both ran, in fork and round order. */
        static Group group(List<RunRecord> runs, String path, String loop, int c) {
            var a = new TreeMap<Long, RunRecord>();
            var b = new TreeMap<Long, RunRecord>();
            for (var r : runs) {
                if (r.path().equals(path) && r.loop().equals(loop) && r.connections() == c) (r.side().equals("A") ? a : b).put((long) r.fork() << 32 | r.run(), r);
            }
            a.keySet().retainAll(b.keySet());
            b.keySet().retainAll(a.keySet());
            return new Group(path, loop, c, List.copyOf(a.values()), List.copyOf(b.values()));
        }

        /** Paired runs (a.get(i) and b.get(i) ran back to back), and what they say about every request. */
        record Group(String path, String loop, int connections, List<RunRecord> a, List<RunRecord> b) {
            Figure figure(String name, String unit, java.util.function.ToDoubleFunction<RunRecord> f) {
                return new Figure(name, unit, a.stream().mapToDouble(f).toArray(), b.stream().mapToDouble(f).toArray(), forks());
            }

            int[] forks() { return a.stream().mapToInt(RunRecord::fork).toArray(); }

            /** A row of counts (compare/Counts.java), paired by round like the timings; "not available" where neither side was counted. */
            Figure counted(String name, Counts.Row row) {
                var fig = figure(name, row.unit(), r -> row.of(r.counts()));
                boolean none = Arrays.stream(fig.a()).allMatch(Double::isNaN) && Arrays.stream(fig.b()).allMatch(Double::isNaN);
                return none ? fig.withCaveat(Counts.NOT_AVAILABLE) : fig;
            }

            /**
             * A latency row: each cell the percentile of the side's merged histogram (n/a with too few requests for
             * it), the interval from the per-round values; never called better for a side that left requests unanswered.
             */
            Figure latency(String name, double percentile, java.util.function.ToDoubleFunction<RunRecord> f) {
                var fig = new Figure(name, "ms", a.stream().mapToDouble(f).toArray(), b.stream().mapToDouble(f).toArray(), forks(),
                        merged(a, percentile), merged(b, percentile), null);
                if (a.isEmpty() || b.isEmpty()) return fig;
                if (Double.isNaN(fig.shownA()) || Double.isNaN(fig.shownB())) {
                    return fig.withCaveat("n/a: p" + fmtPercentile(percentile) + " needs " + fmtInt(PairedStats.minSamples(percentile)) + " requests a side");
                }
                // Lower latency is better: B_LOWER favours B, B_HIGHER favours A.
                String favoured = switch (fig.verdict()) {
                    case B_LOWER -> "B";
                    case B_HIGHER -> "A";
                    default -> null;
                };
                String why = favoured == null ? null : shortfall(favoured);
                return why == null ? fig : fig.withCaveat("not called: " + why + "; its latency counts only what it answered");
            }

            /** Why a side's latency is not comparable (it answered a fraction of the requests, or starved connections), or null. */
            String shortfall(String side) {
                List<RunRecord> mine = side.equals("A") ? a : b, other = side.equals("A") ? b : a;
                long answered = answered(mine), others = answered(other);
                boolean starving = mine.stream().anyMatch(r -> r.fairness().starving());
                if (!starving && answered >= ANSWERED_SHARE_FOR_LATENCY * others) return null;
                String share = others > 0 ? String.format(Locale.ROOT, "%.0f%%", 100.0 * answered / others) : "-";
                return side + " answered " + share + " as many requests" + (starving ? " and starved connections" : "");
            }

            static long answered(List<RunRecord> runs) { return runs.stream().mapToLong(RunRecord::requests).sum(); }

            /** The percentile of the runs' merged latency histograms, in ms; NaN with too few requests for it. */
            static double merged(List<RunRecord> runs, double percentile) {
                var h = new org.HdrHistogram.Histogram(3);
                for (var r : runs) if (r.latency() != null) h.add(r.latency());
                return PairedStats.enoughFor(h.getTotalCount(), percentile) ? h.getValueAtPercentile(percentile) / 1e3 : Double.NaN;
            }

            /** "N, waited up to X ms": requests unanswered at the ends of a side's runs, and the longest wait. */
            static String unanswered(List<RunRecord> runs) {
                long n = runs.stream().mapToLong(r -> r.unanswered().count()).sum();
                double max = runs.stream().mapToDouble(r -> r.unanswered().maxAgeMs()).max().orElse(0);
                return n == 0 ? "none" : fmtInt(n) + " in " + runs.size() + " runs, waited up to " + fmt(max, "ms") + " ms";
            }

            /** "min / median / max" answers per connection over a side's runs, flagged where connections starved. */
            static String fairness(List<RunRecord> runs) {
                if (runs.isEmpty()) return "-";
                long min = runs.stream().mapToLong(r -> r.fairness().min()).min().orElse(0);
                long max = runs.stream().mapToLong(r -> r.fairness().max()).max().orElse(0);
                double median = PairedStats.median(runs.stream().mapToDouble(r -> r.fairness().median()).toArray());
                long starving = runs.stream().filter(r -> r.fairness().starving()).count();
                int most = runs.stream().mapToInt(r -> r.fairness().starved()).max().orElse(0);
                return fmtInt(min) + " / " + fmtInt(median) + " / " + fmtInt(max)
                        + (starving == 0 ? "" : ", STARVED: up to " + most + " of " + runs.getFirst().connections() + " connections, in " + starving + " of " + runs.size() + " runs");
            }
        }

        /** The rows that count every request: unanswered requests and answers per connection, per side, per raced load. */
        List<String[]> counted() {
            var rows = new ArrayList<String[]>();
            var groups = new ArrayList<Group>();
            for (String path : paths) for (int c : run.concurrency()) groups.add(group(path, "closed", c));
            if (equalRate >= 1) groups.add(group(equalPath, "open", equalConnections));
            for (var g : groups) {
                String at = g.loop().equals("open") ? "equal load GET " + g.path() : "GET " + g.path() + " c=" + g.connections();
                rows.add(new String[]{at + " unanswered at the end of a run", Group.unanswered(g.a()), Group.unanswered(g.b())});
                rows.add(new String[]{at + " answers per connection (min / median / max)", Group.fairness(g.a()), Group.fairness(g.b())});
            }
            return rows;
        }

        String text() {
            var t = new TextTable("figure", "A: " + run.a().label(), "B: " + run.b().label(), "B/A (95% interval)");
            t.row("contract checks passed", passed(contract.get(0)), passed(contract.get(1)), "");
            for (var f : figures()) t.row(f.label(), f.cellA(), f.cellB(), f.ratioCell());
            for (var r : counted()) t.row(r[0], r[1], r[2], "");
            var sb = new StringBuilder(t.toString()).append('\n');
            sb.append(verdict()).append('\n');
            long saturated = runs.stream().filter(RunRecord::generatorSaturated).count();
            if (saturated > 0) {
                sb.append("Warning: LoadTest reported itself saturated in ").append(saturated).append(" of ").append(runs.size())
                        .append(" runs: there the generator, not the server, was the limit (see \"generator_saturated\" in --json).\n");
            }
            long failed = runs.stream().filter(r -> r.errors() > 0 || r.non2xx() > 0).count();
            if (failed > 0) sb.append("Warning: ").append(failed).append(" runs had errors or non-2xx answers (see --json).\n");
            for (var side : List.of("A", "B")) {
                if (runs.stream().anyMatch(r -> r.side().equals(side) && r.fairness().starving())) {
                    sb.append("Warning: ").append(side).append(" starved connections: some got no answer or under ")
                            .append(String.format(Locale.ROOT, "%.0f%%", 100 * LoadTest.STARVED_SHARE))
                            .append(" of the mean answers per connection (see \"answers per connection\"); its latency counts only what it answered.\n");
                }
            }
            for (String n : notes) sb.append("Note: ").append(n).append('\n');
            runs.stream().map(RunRecord::counts).filter(Objects::nonNull).flatMap(c -> c.notes().stream()).distinct()
                    .forEach(n -> sb.append("Note: counts: ").append(n).append('\n'));
            sb.append('\n').append(footer());
            return sb.toString();
        }

        static String passed(ContractReport r) {
            return r.count(ContractReport.Verdict.PASS) + "/" + (r.outcomes().size() - r.count(ContractReport.Verdict.SKIP));
        }

        /** One sentence in words, on /health (or the first raced path) at the highest connection count; only rows whose interval excludes 1. */
        String verdict() {
            String path = paths.getFirst();
            int c = Collections.max(run.concurrency());
            String at = "GET " + path + " c=" + c;
            var figs = figures();
            Figure rps = figs.stream().filter(f -> f.name().equals(at + " throughput")).findFirst().orElseThrow();
            Figure cpu = figs.stream().filter(f -> f.name().equals(at + " server CPU per request")).findFirst().orElseThrow();
            String A = run.a().label(), B = run.b().label();
            var ci = rps.interval();
            var sb = new StringBuilder("Verdict: ");
            switch (rps.verdict()) {
                case B_HIGHER, B_LOWER -> sb.append(B).append(" answered GET ").append(path).append(" at ").append(fmtRatio(ci.ratio()))
                        .append("× (").append(fmtBound(ci.low())).append("–").append(fmtBound(ci.high())).append(") the rate of ").append(A)
                        .append(" (").append(c).append(" connections)");
                case WITHIN_NOISE -> sb.append(B).append(" and ").append(A).append(" answered GET ").append(path)
                        .append(" at the same rate within noise (").append(c).append(" connections)");
                case TOO_FEW_ROUNDS -> sb.append("none on GET ").append(path).append(": ").append(ci.n())
                        .append(" rounds are too few for a 95% interval (at least ").append(PairedStats.minRounds(PairedStats.CONFIDENCE)).append(")");
                case NO_DATA -> sb.append("none on GET ").append(path).append(": no round measured both sides");
            }
            var cc = cpu.interval();
            if (cpu.different()) {
                sb.append(", at ").append(fmtRatio(cc.ratio())).append("× (").append(fmtBound(cc.low())).append("–").append(fmtBound(cc.high()))
                        .append(") its CPU per request");
            } else if (cpu.verdict() == PairedStats.Verdict.WITHIN_NOISE) {
                sb.append(", at about the same CPU per request (within noise)");
            }
            return sb.append(mechanism(figs, at)).append('.').toString();
        }

        /** ", with B's read syscalls and poller calls per request against A's": the why beside the how fast; "" where not counted. */
        static String mechanism(List<Figure> figs, String at) {
            Figure reads = figs.stream().filter(f -> f.name().equals(at + " " + Counts.ROWS.get(0).name())).findFirst().orElse(null);
            Figure poller = figs.stream().filter(f -> f.name().equals(at + " " + Counts.ROWS.get(2).name())).findFirst().orElse(null);
            if (reads == null || poller == null || reads.caveat() != null) return "";
            double ra = PairedStats.median(reads.a()), rb = PairedStats.median(reads.b());
            double pa = PairedStats.median(poller.a()), pb = PairedStats.median(poller.b());
            if (Double.isNaN(ra) || Double.isNaN(rb)) return "";
            boolean polled = !Double.isNaN(pa) && !Double.isNaN(pb);
            return String.format(Locale.ROOT, ", with %.2f read syscalls%s per request against A's %.2f%s", rb,
                    polled ? String.format(Locale.ROOT, " and %.2f poller calls", pb) : "", ra, polled ? String.format(Locale.ROOT, " and %.2f", pa) : "");
        }

        String footer() {
            var m = run.machineAtStart();
            var sb = new StringBuilder();
            sb.append("Date: ").append(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'").withZone(ZoneOffset.UTC).format(m.at()))
                    .append("; machine: ").append(m.cores()).append(" cores, ").append(m.memoryMb() / 1024.0 > 10 ? String.format(Locale.ROOT, "%.0f", m.memoryMb() / 1024.0) : String.format(Locale.ROOT, "%.1f", m.memoryMb() / 1024.0))
                    .append(" GiB, ").append(m.kernel()).append("; load average ").append(m.loadAverage()).append(" at start, ")
                    .append(machineAtEnd.loadAverage()).append(" at end\n");
            sb.append("JDK: ").append(m.jdk()).append(" (the servers' JVMs and LoadTest's)\n");
            sb.append("JVM options asked for, both servers: ").append(String.join(" ", run.jvm()))
                    .append(" (after each script's own //JAVA_OPTIONS, so they win; not applied to URL and cmd: sides)\n");
            sb.append("JVM options in effect, read from each server's command line (the last of each kind): A: ")
                    .append(jvmA.isEmpty() ? "-" : String.join(" ", shortened(ProcSampler.effective(jvmA))))
                    .append("; B: ").append(jvmB.isEmpty() ? "-" : String.join(" ", shortened(ProcSampler.effective(jvmB)))).append('\n');
            sb.append("Start-up: from the spawn of the server's own JVM to its ready line").append(
                    run.a().startupIncludesJBang() || run.b().startupIncludesJBang() ? " (includes JBang's launch)" : "; JBang's compile and launch excluded (Compare spawns the java command JBang would run)")
                    .append("; a cmd: side until its port accepts connections\n");
            sb.append("CPU pinning: ").append(run.pinning().note()).append('\n');
            sb.append("Warm-up to steady state (").append(fmtDuration(STEADY_WINDOW)).append(" windows at ").append(Collections.max(run.concurrency()))
                    .append(" connections until ").append(STEADY_IN_ROW).append(" in a row agree within ").append(String.format(Locale.ROOT, "%.0f%%", 100 * STEADY_TOLERANCE))
                    .append(", at most ").append(fmtDuration(run.steadyMax())).append("): ");
            if (warmups.isEmpty()) sb.append("none");
            var warmed = new LinkedHashMap<String, List<WarmupRecord>>();
            for (var w : warmups) warmed.computeIfAbsent(w.side() + " GET " + w.path(), k -> new ArrayList<>()).add(w);
            int i = 0;
            for (var e : warmed.entrySet()) {
                long unsteady = e.getValue().stream().filter(w -> !w.steady()).count();
                sb.append(i++ == 0 ? "" : "; ").append(e.getKey()).append(' ')
                        .append(String.format(Locale.ROOT, "%.1f s", PairedStats.median(e.getValue().stream().mapToDouble(WarmupRecord::seconds).toArray())))
                        .append(e.getValue().size() > 1 ? " (median of " + e.getValue().size() + " forks)" : "")
                        .append(unsteady == 0 ? "" : " (not steady in " + unsteady + " of " + e.getValue().size() + ")");
            }
            sb.append('\n');
            sb.append("Load: LoadTest's engine in-process (nio, 1 thread); closed loop at ").append(run.concurrency()).append(" connections, ")
                    .append(run.rounds()).append(" paired rounds per figure, each side ").append(fmtDuration(run.duration())).append(" after ")
                    .append(fmtDuration(run.warmup())).append(" unmeasured, in ABBA order; equal load: open loop, ").append(equalConnections).append(" connections\n");
            runs.stream().map(RunRecord::counts).filter(Objects::nonNull).findFirst().ifPresent(c ->
                    sb.append("Counted around each closed-loop run (compare/Counts.java): ").append(c.sources()).append('\n'));
            sb.append(run.forks().forks() >= 2
                    ? "Method: B/A is the Hodges-Lehmann estimate of the rounds' log-ratios ln(B/A) in each fork, averaged over the forks; its 95% interval is Student's t on the forks' estimates (see --help)\n"
                    : "Method: B/A is the Hodges-Lehmann estimate of the rounds' log-ratios ln(B/A), its 95% interval from Wilcoxon's signed-rank statistic: about these two processes only (see --help)\n");
            for (String l : Forks.footer(run.forks(), run.rounds(), headline(runs, paths, run.concurrency()))) sb.append(l).append('\n');
            sb.append("Command: ").append(Util.commandLine()).append('\n');
            return sb.toString();
        }

        /** Options whose value is a file path, shortened to the file's name (the JSON has them whole). */
        static List<String> shortened(List<String> options) {
            return options.stream().map(o -> {
                int eq = o.indexOf('=');
                return eq > 0 && o.indexOf('/', eq) > 0 ? o.substring(0, eq + 1) + "…/" + o.substring(o.lastIndexOf('/') + 1) : o;
            }).toList();
        }

        void writeJson(Path file) throws IOException {
            var root = new LinkedHashMap<String, Object>();
            root.put("command", Util.commandLine());
            var m = run.machineAtStart();
            root.put("machine", Map.of("date", m.at().toString(), "cores", m.cores(), "memory_mb", m.memoryMb(), "kernel", m.kernel(),
                    "load_average_start", m.loadAverage(), "load_average_end", machineAtEnd.loadAverage(), "jdk", m.jdk()));
            root.put("jvm_options", run.jvm());
            root.put("pinning", run.pinning().note());
            root.put("method", Map.of("rounds", run.rounds(), "order", "ABBA", "ratio", "Hodges-Lehmann estimate of ln(B/A) per fork, averaged over forks",
                    "interval", run.forks().forks() >= 2 ? "Student's t on the forks' estimates, 95%" : "Wilcoxon signed-rank on one fork's rounds, 95%",
                    "min_rounds_for_interval", PairedStats.minRounds(PairedStats.CONFIDENCE)));
            root.put("forks", Forks.json(run.forks(), run.rounds()));
            var sides = new LinkedHashMap<String, Object>();
            for (var e : List.of(Map.entry("A", run.a()), Map.entry("B", run.b()))) {
                var s = new LinkedHashMap<String, Object>();
                var start = e.getKey().equals("A") ? run.startA() : run.startB();
                var peak = e.getKey().equals("A") ? peakA : peakB;   // the medians over forks below
                var rep = contract.get(e.getKey().equals("A") ? 0 : 1);
                s.put("spec", e.getValue().side().spec());
                s.put("label", e.getValue().label());
                s.put("url", e.getValue().uri("/").toString());
                s.put("startup_ms", num(PairedStats.median(start.stream().mapToDouble(Sample::startupMs).toArray())));
                s.put("idle_rss_mb", num(PairedStats.median(start.stream().mapToDouble(Sample::rssMb).toArray())));
                s.put("peak_rss_mb", num(PairedStats.median(peak.stream().mapToDouble(Sample::rssMb).toArray())));
                var jvm = e.getKey().equals("A") ? jvmA : jvmB;
                s.put("jvm_command_line_options", jvm);
                s.put("jvm_options_in_effect", ProcSampler.effective(jvm));
                s.put("warmup", warmups.stream().filter(w -> w.side().equals(e.getKey())).map(w -> {
                    var x = new LinkedHashMap<String, Object>();
                    x.put("fork", w.fork()); x.put("path", w.path()); x.put("seconds", w.seconds()); x.put("steady", w.steady());
                    x.put("window_rps", Arrays.stream(w.rps()).boxed().toList());
                    return x;
                }).toList());
                s.put("contract", Map.of("passed", rep.count(ContractReport.Verdict.PASS), "failed", rep.count(ContractReport.Verdict.FAIL),
                        "skipped", rep.count(ContractReport.Verdict.SKIP), "checks", rep.outcomes().stream().map(x -> Map.of("check", x.check(), "verdict", x.verdict().name(), "detail", x.detail())).toList()));
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
                var ci = f.interval();
                x.put("figure", f.name());
                x.put("unit", f.unit());
                x.put("a", stats(f.a(), f.shownA()));
                x.put("b", stats(f.b(), f.shownB()));
                x.put("rounds", ci.n());
                x.put("ratio", num(ci.ratio()));
                x.put("ratio_interval", ci.tooFew() ? null : Arrays.asList(num(ci.low()), num(ci.high())));  // null where none (List.of refuses null)
                x.put("verdict", f.verdict().name());
                x.put("within_noise", f.verdict() == PairedStats.Verdict.WITHIN_NOISE);
                x.put("caveat", f.caveat());
                x.put("forks", Forks.json(f.estimate()));
                figs.add(x);
            }
            root.put("figures", figs);
            root.put("counted", counted().stream().map(r -> Map.of("row", r[0], "a", r[1], "b", r[2])).toList());
            root.put("runs", runs.stream().map(r -> {
                var x = new LinkedHashMap<String, Object>();
                x.put("side", r.side()); x.put("path", r.path()); x.put("loop", r.loop()); x.put("connections", r.connections());
                x.put("fork", r.fork()); x.put("run", r.run()); x.put("target_rps", num(r.targetRps())); x.put("rps", num(r.rps()));
                x.put("p50_ms", num(r.p50Ms())); x.put("p99_ms", num(r.p99Ms())); x.put("p999_ms", num(r.p999Ms()));
                x.put("service_p50_ms", num(r.serviceP50Ms())); x.put("service_p99_ms", num(r.serviceP99Ms()));
                x.put("server_cpu_us_per_request", num(r.serverCpuUsPerRequest())); x.put("requests", r.requests());
                x.put("non_2xx", r.non2xx()); x.put("errors", r.errors()); x.put("generator_saturated", r.generatorSaturated());
                x.put("generator_cpu_us_per_request", num(r.generatorCpuUsPerRequest()));
                x.put("unanswered", Map.of("count", r.unanswered().count(), "max_age_ms", r.unanswered().maxAgeMs(), "median_age_ms", r.unanswered().medianAgeMs()));
                var fair = r.fairness();
                x.put("answers_per_connection", Map.of("min", fair.min(), "median", fair.median(), "max", fair.max(), "starved", fair.starved()));
                x.put("counts", r.counts() == null ? null : r.counts().json());
                return x;
            }).toList());
            root.put("verdict", verdict());
            root.put("notes", notes);
            Files.writeString(file, Contract.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n");
        }

        /**
         * `compare --html FILE`: the A/B table, the throughput per path and connection count as a bar chart (medians
         * of the rounds), the verdict and the warnings, with compare's own footer.
         */
        void writeHtml(Path file) throws IOException {
            var page = new Html.Page(Util.commandLine());
            page.title = "Compare: " + run.a().label() + " (A) vs " + run.b().label() + " (B)";
            page.intro = verdict();
            var t = new TextTable("figure", "A: " + run.a().label(), "B: " + run.b().label(), "B/A (95% interval)");
            t.row("contract checks passed", passed(contract.get(0)), passed(contract.get(1)), "");
            var categories = new ArrayList<String>();
            var a = new ArrayList<Html.Svg.Point>();
            var b = new ArrayList<Html.Svg.Point>();
            for (var f : figures()) {
                t.row(f.label(), f.cellA(), f.cellB(), f.ratioCell());
                if (!f.name().endsWith(" throughput")) continue;
                int x = categories.size();
                categories.add(f.name().substring(0, f.name().length() - " throughput".length()));
                if (f.a().length > 0) a.add(new Html.Svg.Point(x, PairedStats.median(f.a())));
                if (f.b().length > 0) b.add(new Html.Svg.Point(x, PairedStats.median(f.b())));
            }
            for (var row : counted()) t.row(row[0], row[1], row[2], "");
            var series = List.of(new Html.Svg.Series("A: " + run.a().label(), a), new Html.Svg.Series("B: " + run.b().label(), b));
            String title = "Throughput, median of the rounds (req/s)";
            var sentences = new ArrayList<String>();
            String text = text();
            text.lines().filter(l -> l.startsWith("Warning: ") || l.startsWith("Note: ")).forEach(sentences::add);
            page.section("A/B table", t, sentences, List.of(new Html.Chart("throughput", title,
                    Html.Svg.barChart(title, page.command, "requests/s", categories, series), series)));
            page.footer = footer().strip().replace("\n", ". ");
            Util.writeFile(file, page.html());
            Util.Progress.say("HTML report: " + file.toAbsolutePath());
        }

        static Map<String, Object> stats(double[] v, double shown) {
            var x = new LinkedHashMap<String, Object>();
            x.put("median", num(PairedStats.median(v)));
            x.put("min", num(PairedStats.min(v)));
            x.put("max", num(PairedStats.max(v)));
            x.put("shown", num(Double.isNaN(shown) ? PairedStats.median(v) : shown));
            x.put("values", Arrays.stream(v).mapToObj(Report::num).toList());   // null for a round without the figure
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

    /** 99 as "99", 99.9 as "99.9". */
    static String fmtPercentile(double p) { return p == Math.rint(p) ? String.valueOf((long) p) : String.valueOf(p); }

    static String fmtRatio(double r) { return String.format(Locale.ROOT, r >= 10 ? "%.0f" : "%.2f", r); }

    /** An interval's bound: as a ratio, with a third decimal where two would print 1.00 for a bound that is not 1. */
    static String fmtBound(double b) {
        String s = fmtRatio(b);
        return s.equals("1.00") && b != 1 ? String.format(Locale.ROOT, "%.3f", b) : s;
    }

    static String fmtDuration(Duration d) { return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms"; }
}
