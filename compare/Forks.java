// Forks: a comparison repeated with fresh processes: its statistics as pure functions, and the fork loop (which reads
// the clock for --precision and --max-time; the race itself stays in Compare.java).
//
// Why forks: paired rounds measure one pair of processes precisely, and two JVMs of the same server differ by a few
// percent (JIT decisions, code and heap layout), so an interval from the rounds of one pair speaks about those two
// processes, not about the servers. Kalibera & Jones ("Rigorous benchmarking in reasonable time", ISMM 2013) treat
// the VM run as its own level of variation; JMH runs forks for the same reason. Here the comparison runs F forks (A and B
// started afresh, warmed to steady state, then n paired ABBA rounds) and the interval is taken at the fork level:
//  - each fork's estimate is the Hodges-Lehmann estimate of its rounds' log-ratios ln(B/A) (PairedStats: robust to a
//    round another job on the machine hit);
//  - B/A = exp(mean of the fork estimates), its 95% interval exp(mean ± t(F-1) · sd / √F): Student's t on the forks'
//    estimates, which are independent (fresh processes) and, as means of many requests, close to normal. This is the
//    two-level interval of Kalibera & Jones for a balanced design: the variance of a fork's estimate already holds
//    both levels (between-fork σ_b² plus within-fork σ_w² / n).
//  - the variance components are reported, as in their paper (made robust to rounds another job hit, see
//    components()): within-fork σ_w and between-fork σ_b; and the rounds per fork that would give the narrowest
//    interval for the time, n = √(c_fork / c_round · σ_w² / σ_b²) (their "optimal repetitions" at the lower level,
//    c the cost of a fork's start and warm-up and of one round).
// With one fork there is no fork-level interval: the rounds' signed-rank interval (PairedStats) is given, and it speaks
// about those two processes only.

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

final class Forks {
    private Forks() {}

    /**
     * Forks and paired rounds per fork: by default and with --quick. Chosen from the A/A variance components
     * (docs/compare-method.md: `compare --quick --a threaded:nio --b threaded:nio`; where rounds agree, forks differ by
     * as much as rounds do, 0.01-0.05 in ln(B/A); on a quiet machine about 0.025 between forks and 0.035 a round):
     * Kalibera & Jones' optimal rounds per fork √(c_fork / c_round · σ_w² / σ_b²) ≈ √(10 · 2) ≈ 4, and as many forks
     * as fit in the time (the default at most 180 s, --quick at most 60 s, on 2 cores).
     */
    static final int DEFAULT_FORKS = 5, QUICK_FORKS = 3;
    static final int DEFAULT_ROUNDS = 4, QUICK_ROUNDS = 4;

    /** The two-sided confidence of every interval (PairedStats.CONFIDENCE: 95%). */
    static final double CONFIDENCE = PairedStats.CONFIDENCE;

    /** Power used for "the smallest difference this run could detect": found in 80% of such runs. */
    static final double POWER = 0.80;

    // ---------------------------------------------------------------- the fork-level interval

    /**
     * B/A over forks: the estimate and its interval (NaN bounds when none can be given), how many forks and rounds it
     * rests on, and the variance components of ln(B/A): between forks and within a fork (standard deviations; NaN
     * where they cannot be told apart, e.g. one fork or one round a fork). `detectable` is the smallest true
     * difference (as a fraction, 0.04 for 4%) such a run finds with {@link #POWER}, from the measured spread.
     */
    record Estimate(int forks, int rounds, double ratio, double low, double high, double betweenSd, double withinSd, double detectable,
                    double[] perFork) {
        PairedStats.Interval interval() { return new PairedStats.Interval(rounds, ratio, low, high, CONFIDENCE); }

        PairedStats.Verdict verdict() { return interval().verdict(); }

        /** The interval's larger half-width relative to the estimate (0.03: within ±3%); infinite without an interval. */
        double halfWidth() {
            if (interval().tooFew()) return Double.POSITIVE_INFINITY;
            return Math.max(high / ratio - 1, 1 - low / ratio);
        }

        /** True when the interval shows B below A by more than `fraction` (0.05: B/A's upper bound under 0.95). */
        boolean worseBy(double fraction, boolean higherIsBetter) {
            if (interval().tooFew()) return false;
            return higherIsBetter ? high < 1 - fraction : low > 1 + fraction;
        }
    }

    /**
     * The estimate from the rounds of each fork: logRatios.get(f) holds fork f's rounds' ln(B/A). Forks without a
     * usable round are left out. With two forks or more the interval is the t-interval on the forks' Hodges-Lehmann
     * estimates; with one, the signed-rank interval of its rounds.
     */
    static Estimate of(List<double[]> logRatios) {
        var forks = logRatios.stream().filter(f -> f.length > 0).toList();
        int rounds = forks.stream().mapToInt(f -> f.length).sum();
        var components = components(forks);
        if (forks.isEmpty()) return new Estimate(0, 0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, new double[0]);
        double[] est = forks.stream().mapToDouble(Forks::forkEstimate).toArray();
        if (forks.size() == 1) {
            var ci = PairedStats.signedRank(forks.getFirst(), CONFIDENCE);
            return new Estimate(1, rounds, ci.ratio(), ci.low(), ci.high(), Double.NaN, components[1], Double.NaN, est);
        }
        int f = est.length;
        double mean = Arrays.stream(est).average().orElseThrow(), se = sd(est) / Math.sqrt(f);
        double t = t(f - 1, 1 - (1 - CONFIDENCE) / 2);
        double detectable = Math.exp((t + t(f - 1, POWER)) * se) - 1;
        return new Estimate(f, rounds, Math.exp(mean), Math.exp(mean - t * se), Math.exp(mean + t * se), components[0], components[1], detectable, est);
    }

    /** One fork's estimate of ln(B/A): the Hodges-Lehmann estimate of its rounds (robust to a round another job hit). */
    static double forkEstimate(double[] logRatios) { return Math.log(PairedStats.signedRank(logRatios, CONFIDENCE).ratio()); }

    /**
     * The variance components of ln(B/A), as standard deviations {between forks, within a fork}, after Kalibera &
     * Jones but robust to rounds another job hit (which would otherwise swamp both): within = 1.4826 × the median
     * absolute deviation of the rounds from their fork's Hodges-Lehmann estimate (pooled over forks, × √(N / (N −
     * forks)) for the fitted centres); between = √max(0, S² − (π/3) · σ_w² / n̄), S² the variance of the forks'
     * estimates, n̄ their mean number of rounds, π/3 a Hodges-Lehmann estimate's variance relative to a mean's. NaN
     * where the data cannot show it (one fork, one round a fork).
     */
    static double[] components(List<double[]> forks) {
        var deviations = new ArrayList<Double>();
        int used = 0;
        for (double[] f : forks) {
            if (f.length < 2) continue;
            double m = forkEstimate(f);
            for (double x : f) deviations.add(Math.abs(x - m));
            used++;
        }
        int n = deviations.size();
        double within = n > used ? 1.4826 * PairedStats.median(deviations.stream().mapToDouble(Double::doubleValue).toArray()) * Math.sqrt((double) n / (n - used)) : Double.NaN;
        if (forks.size() < 2) return new double[]{Double.NaN, within};
        double[] est = forks.stream().mapToDouble(Forks::forkEstimate).toArray();
        double s2 = sd(est) * sd(est), rounds = forks.stream().mapToInt(f -> f.length).average().orElseThrow();
        double between = Double.isNaN(within) ? s2 : Math.max(0, s2 - Math.PI / 3 * within * within / rounds);
        return new double[]{Math.sqrt(between), within};
    }

    /**
     * Kalibera & Jones' optimal repetitions at the lower level: the rounds per fork that give the narrowest interval
     * for the time, √(forkCost / roundCost · σ_w² / σ_b²), at least 2 (one ABBA pair) and rounded up to even.
     */
    static int optimalRounds(double betweenSd, double withinSd, double forkCostS, double roundCostS) {
        if (!(betweenSd > 0) || !(withinSd > 0)) return Integer.MAX_VALUE;   // no between-fork spread: rounds are free precision
        double n = Math.sqrt(forkCostS / roundCostS * withinSd * withinSd / (betweenSd * betweenSd));
        int r = (int) Math.ceil(n);
        return Math.max(2, r + (r % 2));
    }

    // ---------------------------------------------------------------- how many forks: planned, or until precise enough

    /** Why a comparison ran the forks it ran. */
    enum Stop {
        PLANNED("the planned forks ran"),
        PRECISION_REACHED("every headline row's interval is within the precision asked for"),
        MAX_TIME("--max-time ran out before every headline row's interval was within the precision asked for");

        final String says;

        Stop(String says) { this.says = says; }
    }

    /**
     * After a fork: null to run another, else why to stop. Without a precision (0) the planned forks run. With one,
     * the planned forks are the least, then forks are added while some headline row's interval is wider than ±precision
     * (relative to its estimate) and another fork, as long as the last one took, fits before maxTimeS.
     */
    static Stop next(int forksDone, int planned, double precision, List<Estimate> headline, double elapsedS, double lastForkS, double maxTimeS) {
        boolean precise = precision > 0 && !headline.isEmpty() && headline.stream().allMatch(e -> e.halfWidth() <= precision);
        if (precision > 0 && forksDone >= planned && precise) return Stop.PRECISION_REACHED;
        boolean timeLeft = elapsedS + lastForkS <= maxTimeS;
        if (forksDone < planned) return precision > 0 && !timeLeft ? Stop.MAX_TIME : null;
        if (precision <= 0) return Stop.PLANNED;
        return timeLeft ? null : Stop.MAX_TIME;
    }

    // ---------------------------------------------------------------- the fork loop

    /** What one fork took, in seconds: starting both servers, warming them to steady state, the measured rounds. */
    record Cost(double startS, double warmupS, double roundsS) {
        double totalS() { return startS + warmupS + roundsS; }
    }

    /** One fork of the race: start A and B afresh, warm them, run the paired rounds, stop them; says what it cost. */
    @FunctionalInterface
    interface Fork {
        Cost run(int fork) throws Exception;
    }

    /** How the forks went: how many ran, why they stopped, what each cost, and the precision asked for (0: none). */
    record Outcome(int forks, Stop stop, List<Cost> costs, double precision) {
        /** The median cost of a fork, part by part (the first fork's contract checks are not in it). */
        Cost typical() {
            return new Cost(PairedStats.median(costs.stream().mapToDouble(Cost::startS).toArray()),
                    PairedStats.median(costs.stream().mapToDouble(Cost::warmupS).toArray()),
                    PairedStats.median(costs.stream().mapToDouble(Cost::roundsS).toArray()));
        }
    }

    /**
     * Runs fork 1, 2, ... until {@link #next} says stop: the planned forks, or with a precision until every headline
     * row (headline.get(), read after each fork) is within it or another fork would end after maxTime, counted from
     * `startedNanos` (System.nanoTime() when the comparison began).
     */
    static Outcome loop(int planned, double precision, Duration maxTime, long startedNanos, Fork fork,
                        java.util.function.Supplier<List<Estimate>> headline) throws Exception {
        var costs = new ArrayList<Cost>();
        for (int f = 1; ; f++) {
            long began = System.nanoTime();
            costs.add(fork.run(f));
            long now = System.nanoTime();
            var stop = next(f, planned, precision, precision > 0 ? headline.get() : List.of(), (now - startedNanos) / 1e9, (now - began) / 1e9, maxTime.toMillis() / 1e3);
            if (stop != null) return new Outcome(f, stop, costs, precision);
        }
    }

    // ---------------------------------------------------------------- what the report says about forks

    /** "4.2%", "12%": a fraction as a percentage for the footer. */
    static String percent(double fraction) {
        double p = 100 * fraction;
        return Double.isNaN(p) ? "-" : Double.isInfinite(p) ? "∞" : String.format(Locale.ROOT, p < 10 ? "%.1f%%" : "%.0f%%", p);
    }

    /** The standard deviation of ln(B/A), for the footer ("0.031"; "-" where the data cannot show it). */
    static String sd(double v) { return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.3f", v); }

    /**
     * The footer's lines about forks: how many ran and why, what one cost, the spread at both levels on the headline
     * rows, the rounds per fork that would have given the narrowest interval for the time, and the smallest difference
     * this run could detect.
     */
    static List<String> footer(Outcome o, int roundsPerFork, Map<String, Estimate> headline) {
        var lines = new ArrayList<String>();
        var c = o.typical();
        lines.add("Forks: " + o.forks() + " (A and B started afresh in each, warmed to steady state, then " + roundsPerFork
                + " paired rounds a figure); " + o.stop().says + (o.precision() > 0 ? " (±" + percent(o.precision()) + ")" : "")
                + "; a fork took " + String.format(Locale.ROOT, "%.1f s (start-up %.1f s, warm-up %.1f s, rounds %.1f s; median)", c.totalS(), c.startS(), c.warmupS(), c.roundsS()));
        if (o.forks() < 2) {
            lines.add("Spread: one fork, so the intervals come from its rounds and speak about these two processes only, not about the servers (a restart may differ by a few percent)");
            return lines;
        }
        var sb = new StringBuilder("Spread of ln(B/A) on the throughput rows, between forks / within a fork (one round): ");
        var detect = new StringBuilder("Smallest difference this run could detect (found in 80% of such runs, from the measured spread): ");
        int i = 0;
        for (var e : headline.entrySet()) {
            sb.append(i == 0 ? "" : "; ").append(e.getKey()).append(' ').append(sd(e.getValue().betweenSd())).append(" / ").append(sd(e.getValue().withinSd()));
            detect.append(i++ == 0 ? "" : "; ").append(e.getKey()).append(" ").append(percent(e.getValue().detectable()));
        }
        lines.add(sb.toString());
        lines.add(detect + ". A row \"within noise\" here hides no difference much larger than that");
        double between = PairedStats.median(headline.values().stream().mapToDouble(Estimate::betweenSd).toArray());
        double within = PairedStats.median(headline.values().stream().mapToDouble(Estimate::withinSd).toArray());
        int best = optimalRounds(between, within, c.startS() + c.warmupS(), c.roundsS() / Math.max(1, roundsPerFork));
        lines.add("Rounds per fork that would give the narrowest interval for the time (Kalibera & Jones, from the median spreads and this run's costs): "
                + (best == Integer.MAX_VALUE ? "as many as possible (no spread between forks measured)" : best));
        return lines;
    }

    /** A figure's fork-level detail for the JSON. */
    static Map<String, Object> json(Estimate e) {
        var x = new LinkedHashMap<String, Object>();
        x.put("count", e.forks());
        x.put("estimates", Arrays.stream(e.perFork()).map(Math::exp).boxed().toList());
        x.put("between_fork_sd", num(e.betweenSd()));
        x.put("within_fork_sd", num(e.withinSd()));
        x.put("detectable", num(e.detectable()));
        x.put("half_width", num(e.halfWidth()));
        return x;
    }

    /** The run's fork loop for the JSON. */
    static Map<String, Object> json(Outcome o, int roundsPerFork) {
        var x = new LinkedHashMap<String, Object>();
        x.put("forks", o.forks());
        x.put("rounds_per_fork", roundsPerFork);
        x.put("stopped", o.stop().name());
        x.put("stopped_because", o.stop().says);
        x.put("precision", o.precision() > 0 ? o.precision() : null);
        x.put("fork_seconds", o.costs().stream().map(c -> Map.of("start", c.startS(), "warmup", c.warmupS(), "rounds", c.roundsS())).toList());
        x.put("interval", o.forks() >= 2 ? "Student's t on the forks' Hodges-Lehmann estimates of ln(B/A), 95%" : "Wilcoxon signed-rank on the rounds of one fork, 95%");
        return x;
    }

    private static Double num(double v) { return Double.isNaN(v) || Double.isInfinite(v) ? null : v; }

    // ---------------------------------------------------------------- Student's t

    // Quantiles of Student's t for 1..30 degrees of freedom (any table, e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2).
    private static final double[] T975 = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201,
            2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052,
            2.048, 2.045, 2.042};
    private static final double[] T80 = {1.376, 1.061, 0.978, 0.941, 0.920, 0.906, 0.896, 0.889, 0.883, 0.879, 0.876,
            0.873, 0.870, 0.868, 0.866, 0.865, 0.863, 0.862, 0.861, 0.860, 0.859, 0.858, 0.858, 0.857, 0.856, 0.856, 0.855,
            0.855, 0.854, 0.854};

    /** Student's t quantile (0.975 or 0.80) at df degrees of freedom: the table to 30, the normal's expansion beyond. */
    static double t(int df, double p) {
        if (df < 1) throw new IllegalArgumentException("t needs at least one degree of freedom: " + df);
        double[] table = p == 0.975 ? T975 : p == 0.80 ? T80 : null;
        if (table == null) throw new IllegalArgumentException("only the 0.975 and 0.80 quantiles are tabled: " + p);
        if (df <= table.length) return table[df - 1];
        double z = p == 0.975 ? 1.959964 : 0.841621;   // Cornish-Fisher, two terms: within 0.001 from 30 on
        return z + (z * z * z + z) / (4 * df) + (5 * Math.pow(z, 5) + 16 * z * z * z + 3 * z) / (96.0 * df * df);
    }

    static double sd(double[] v) {
        if (v.length < 2) return Double.NaN;
        double m = Arrays.stream(v).average().orElseThrow(), ss = 0;
        for (double x : v) ss += (x - m) * (x - m);
        return Math.sqrt(ss / (v.length - 1));
    }
}
