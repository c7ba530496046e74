// PairedStats: the statistics behind Compare's verdicts, as pure functions (no I/O, no clock, no printing).
//
// Method: A and B run in short rounds, back to back in ABBA order, so that whatever the machine does during a round
// (another job, a frequency change, a GC of the load generator) hits both sides of that round alike. A round's figure
// is its log-ratio ln(B/A): logarithms because ratios multiply (2x and 0.5x are equally far from 1). The ratio shown
// is exp of the Hodges-Lehmann estimate (the median of the n(n+1)/2 Walsh averages (x_i + x_j)/2, i <= j), and its
// 95% interval runs from the c-th smallest to the c-th largest Walsh average, c from the exact distribution of
// Wilcoxon's signed-rank statistic: the nonparametric counterpart of a paired t-interval (Hollander, Wolfe & Chicken,
// "Nonparametric Statistical Methods", 3rd ed., section 3.3). Distribution-free for log-ratios symmetric about their
// centre, as an A/A comparison's are. Why not a t-interval on the log-ratios: on a shared machine some rounds are hit
// by another job and one side loses most of its throughput; one such round inflates the t-interval's standard
// deviation for the whole figure (simulated with tests/CompareStatsTest.java's CALM_WITH_HITS noise at 16 rounds, a
// 10% difference was found in 58% of comparisons by a t-interval and in 87% by this one; both call A/A under 5%).
// Like Go's benchstat (golang.org/x/perf/benchmath: "need >= 6 samples for confidence interval at level 0.95"),
// no interval is given with fewer rounds than the confidence can be reached with. The warm-up before the rounds
// follows JMH: measure only once throughput has stopped changing.
//
// Verdict: only an interval that excludes 1 is a difference; one that holds 1 is "within noise", never a win.
// Compare repeats the rounds in forks (fresh processes) and takes its interval over the forks: compare/Forks.java;
// the signed-rank interval here is a fork's own (and the whole answer with --forks 1).

import java.util.Arrays;

final class PairedStats {
    private PairedStats() {}

    /** The confidence every interval in Compare's table is stated at. */
    static final double CONFIDENCE = 0.95;

    /** Beyond this the exact signed-rank distribution is not worth its time (and 2^n leaves a double's range). */
    static final int MAX_ROUNDS = 1000;

    // ---------------------------------------------------------------- the paired interval

    /**
     * The interval of the ratio B/A from paired rounds: n rounds used, ratio = exp(Hodges-Lehmann estimate of the
     * log-ratios), low and high its bounds (NaN when there were too few rounds for the confidence: see {@link #minRounds}).
     */
    record Interval(int n, double ratio, double low, double high, double confidence) {
        boolean tooFew() { return Double.isNaN(low) || Double.isNaN(high); }

        /** A difference: the interval exists and 1 lies outside it. */
        boolean excludesOne() { return !tooFew() && (low > 1 || high < 1); }

        Verdict verdict() {
            if (n == 0 || Double.isNaN(ratio)) return Verdict.NO_DATA;
            if (tooFew()) return Verdict.TOO_FEW_ROUNDS;
            if (!excludesOne()) return Verdict.WITHIN_NOISE;
            return low > 1 ? Verdict.B_HIGHER : Verdict.B_LOWER;
        }
    }

    /** What an interval says; only B_HIGHER and B_LOWER are differences. */
    enum Verdict { NO_DATA, TOO_FEW_ROUNDS, WITHIN_NOISE, B_HIGHER, B_LOWER }

    /**
     * The fewest rounds that can support an interval at this confidence: with n rounds the most extreme outcome of
     * the signed-rank statistic (every log-ratio of one sign) has probability 2·0.5^n, so n must satisfy
     * 2·0.5^n <= 1 - confidence (6 rounds at 95%, 8 at 99%). benchstat uses the same bound for its intervals.
     */
    static int minRounds(double confidence) {
        int n = 1;
        while (2 * Math.pow(0.5, n) > 1 - confidence + 1e-12) n++;
        return n;
    }

    /** The per-round log-ratios ln(b[i]/a[i]) of the rounds where both figures are positive and finite. */
    static double[] logRatios(double[] a, double[] b) {
        if (a.length != b.length) throw new IllegalArgumentException("paired rounds need as many A figures as B figures: " + a.length + " and " + b.length);
        return java.util.stream.IntStream.range(0, a.length)
                .filter(i -> usable(a[i]) && usable(b[i]))
                .mapToDouble(i -> Math.log(b[i] / a[i])).toArray();
    }

    private static boolean usable(double v) { return v > 0 && Double.isFinite(v); }

    /** The interval of B/A from paired rounds (a[i] and b[i] measured back to back) at {@link #CONFIDENCE}. */
    static Interval paired(double[] a, double[] b) { return signedRank(logRatios(a, b), CONFIDENCE); }

    /**
     * The Hodges-Lehmann estimate and signed-rank interval of B/A from log-ratios (see the top of this file); bounds
     * NaN with fewer than {@link #minRounds} of them. A round hit by another job moves only the Walsh averages it is
     * part of, not the whole interval.
     */
    static Interval signedRank(double[] logRatios, double confidence) {
        int n = logRatios.length;
        if (n == 0) return new Interval(0, Double.NaN, Double.NaN, Double.NaN, confidence);
        if (n > MAX_ROUNDS) throw new IllegalArgumentException("at most " + MAX_ROUNDS + " rounds: " + n);
        double[] walsh = new double[n * (n + 1) / 2];
        int w = 0;
        for (int i = 0; i < n; i++) for (int j = i; j < n; j++) walsh[w++] = (logRatios[i] + logRatios[j]) / 2;
        Arrays.sort(walsh);
        double estimate = Math.exp(median(walsh));
        int c = signedRankCritical(n, (1 - confidence) / 2);
        if (c < 1) return new Interval(n, estimate, Double.NaN, Double.NaN, confidence);
        return new Interval(n, estimate, Math.exp(walsh[c - 1]), Math.exp(walsh[walsh.length - c]), confidence);
    }

    /** The largest c with P(T <= c - 1) <= tail for Wilcoxon's signed-rank statistic T of n untied values (0: none). */
    static int signedRankCritical(int n, double tail) {
        int max = n * (n + 1) / 2;
        double[] ways = new double[max + 1];   // ways[s]: subsets of {1..n} whose sum is s
        ways[0] = 1;
        for (int k = 1; k <= n; k++) for (int s = max; s >= k; s--) ways[s] += ways[s - k];
        double total = Math.pow(2, n), cumulative = 0;
        int c = 0;
        for (int t = 0; t <= max; t++) {
            cumulative += ways[t] / total;
            if (cumulative > tail) break;
            c = t + 1;
        }
        return c;
    }

    // ---------------------------------------------------------------- steady state

    /** One window of load, measured (its requests/s); a window that cannot be measured throws. */
    @FunctionalInterface
    interface Window {
        double rps() throws Exception;
    }

    /** What warming up took: the windows run, their requests/s in order, and whether they became steady before the cap. */
    record Warmup(int windows, double[] rps, boolean steady) {}

    /**
     * Runs windows of load until the last `inRow` of them agree within `tolerance` ((max - min) / mean, e.g. 0.05
     * for 5%) or `cap` windows have run. A JIT still compiling shows as throughput that keeps rising from window to
     * window; the rule waits for the rise to stop, the way JMH's warm-up iterations are meant to be read.
     */
    static Warmup warmUp(Window window, int inRow, double tolerance, int cap) throws Exception {
        if (inRow < 2 || cap < inRow) throw new IllegalArgumentException("need 2 <= inRow <= cap: inRow=" + inRow + " cap=" + cap);
        double[] seen = new double[cap];
        for (int i = 0; i < cap; i++) {
            seen[i] = window.rps();
            if (i + 1 >= inRow && steady(Arrays.copyOfRange(seen, i + 1 - inRow, i + 1), tolerance)) {
                return new Warmup(i + 1, Arrays.copyOf(seen, i + 1), true);
            }
        }
        return new Warmup(cap, seen, false);
    }

    /** True when the windows agree within tolerance: (max - min) / mean <= tolerance, and they did some work. */
    static boolean steady(double[] windows, double tolerance) {
        double min = Arrays.stream(windows).min().orElse(0), max = Arrays.stream(windows).max().orElse(0);
        double mean = Arrays.stream(windows).average().orElse(0);
        return mean > 0 && (max - min) / mean <= tolerance;
    }

    // ---------------------------------------------------------------- tails

    /**
     * The fewest samples a percentile is reported from: 10 / (1 - p), i.e. at least ten samples at or beyond it
     * (p99 needs 1,000, p99.9 needs 10,000). With fewer, the "percentile" is one or two of the slowest requests, and
     * the table says n/a instead.
     */
    static long minSamples(double percentile) {
        if (!(percentile > 0 && percentile < 100)) throw new IllegalArgumentException("a percentile lies between 0 and 100: " + percentile);
        return (long) Math.ceil(10 / (1 - percentile / 100) - 1e-6);   // less a rounding error: 99.9 is not exact in binary
    }

    /** True when `samples` requests are enough to report this percentile (see {@link #minSamples}). */
    static boolean enoughFor(long samples, double percentile) { return samples >= minSamples(percentile); }

    // ---------------------------------------------------------------- small helpers

    /** The median of the numbers that are not NaN (NaN when there are none). */
    static double median(double[] v) {
        double[] s = Arrays.stream(v).filter(x -> !Double.isNaN(x)).sorted().toArray();
        if (s.length == 0) return Double.NaN;
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static double min(double[] v) { return Arrays.stream(v).filter(x -> !Double.isNaN(x)).min().orElse(Double.NaN); }

    static double max(double[] v) { return Arrays.stream(v).filter(x -> !Double.isNaN(x)).max().orElse(Double.NaN); }
}
