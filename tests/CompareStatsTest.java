///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//SOURCES TestKit.java
//SOURCES ../compare/PairedStats.java
//DESCRIPTION Tests of Compare's statistics: the paired signed-rank interval, the verdict rule, steady state, tails.

// Pure functions, no servers: Wilcoxon's signed-rank critical values against a published table, the "too few rounds" rule, and 2,000 simulated
// A/A comparisons (and 2,000 with a true 10% difference) at Compare's default number of rounds, drawn from a seeded
// generator with noise shaped like a measured run's (see NOISE below). The two rates are printed; the thresholds are
// the acceptance bounds (at most 6% of A/A rows called different, a true 10% found with the right sign in 80%).

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

public class CompareStatsTest {
    public static void main(String[] args) {
        TestKit.run("CompareStatsTest", CompareStatsTest.class);
    }

    // ---------------------------------------------------------------- Wilcoxon's signed-rank statistic, computed

    @Test void signedRankCriticalValuesMatchThePublishedTable() {
        // Two-sided 5% critical values T (reject when T <= value) from any table of Wilcoxon's signed-rank test;
        // signedRankCritical returns T + 1, the rank of the Walsh average where the interval starts.
        int[][] table = {{6, 0}, {7, 2}, {8, 3}, {9, 5}, {10, 8}, {12, 13}, {15, 25}, {16, 29}, {20, 52}};
        for (int[] row : table) assertEquals(row[1] + 1, PairedStats.signedRankCritical(row[0], 0.025), "n=" + row[0]);
        assertEquals(0, PairedStats.signedRankCritical(5, 0.025), "no T at all for n=5: 2/32 > 5%");
        assertEquals(3 + 1, PairedStats.signedRankCritical(10, 0.005), "1% two-sided, n=10: T = 3 (table)");
    }

    // ---------------------------------------------------------------- the interval and the verdict rule

    @Test void fewerRoundsThanTheConfidenceSupportsGiveNoInterval() {
        assertEquals(6, PairedStats.minRounds(0.95), "2·0.5^6 = 0.031 <= 0.05 < 2·0.5^5");
        assertEquals(8, PairedStats.minRounds(0.99), "2·0.5^8 = 0.008 <= 0.01 < 2·0.5^7");
        double[] a = {100, 100, 100, 100, 100}, b = {200, 210, 190, 205, 195};
        var five = PairedStats.paired(a, b);
        assertEquals(5, five.n());
        assertTrue(five.tooFew(), "5 rounds cannot support 95%: " + five);
        assertEquals(PairedStats.Verdict.TOO_FEW_ROUNDS, five.verdict());
        assertFalse(five.excludesOne(), "no interval, so no difference, however large the ratio: " + five);
        assertEquals(2.0, five.ratio(), 0.02, "the ratio is still reported");
    }

    @Test void theIntervalRunsBetweenWalshAveragesAroundTheHodgesLehmannEstimate() {
        // Log-ratios 1..10 (times 0.01): 55 Walsh averages (i + j)/2; for n = 10 the interval runs from the 9th
        // smallest to the 9th largest, and the estimate is their median, 5.5.
        double[] lr = new double[10];
        for (int i = 0; i < 10; i++) lr[i] = (i + 1) * 0.01;
        var ci = PairedStats.signedRank(lr, 0.95);
        var walsh = new java.util.ArrayList<Double>();
        for (int i = 1; i <= 10; i++) for (int j = i; j <= 10; j++) walsh.add((i + j) / 2.0 * 0.01);
        java.util.Collections.sort(walsh);
        assertEquals(Math.exp(0.055), ci.ratio(), 1e-12);
        assertEquals(Math.exp(walsh.get(8)), ci.low(), 1e-12);
        assertEquals(Math.exp(walsh.get(55 - 9)), ci.high(), 1e-12);
        double[] a = {100, 110, 90, 100, 105, 95}, b = {150, 160, 140, 148, 152, 150};
        assertEquals(PairedStats.Verdict.B_HIGHER, PairedStats.paired(a, b).verdict(), PairedStats.paired(a, b).toString());
        assertEquals(PairedStats.Verdict.B_LOWER, PairedStats.paired(b, a).verdict(), "swapping the sides swaps the verdict");
    }

    @Test void anIntervalHoldingOneIsWithinNoiseNeverADifference() {
        double[] a = {100, 100, 100, 100, 100, 100, 100, 100}, b = {130, 80, 120, 85, 110, 95, 125, 90};
        var ci = PairedStats.paired(a, b);
        assertTrue(ci.low() < 1 && ci.high() > 1, ci.toString());
        assertFalse(ci.excludesOne());
        assertEquals(PairedStats.Verdict.WITHIN_NOISE, ci.verdict());
    }

    @Test void roundsWithoutAFigureOnEitherSideAreLeftOutAndUnequalSidesRefused() {
        double[] a = {100, Double.NaN, 100, 0, 100}, b = {110, 110, Double.NaN, 110, 110};
        assertEquals(2, PairedStats.logRatios(a, b).length, "only rounds 0 and 4 have both figures");
        assertEquals(PairedStats.Verdict.NO_DATA, PairedStats.paired(new double[0], new double[0]).verdict());
        var e = assertThrows(IllegalArgumentException.class, () -> PairedStats.logRatios(new double[3], new double[2]));
        assertTrue(e.getMessage().contains("3 and 2"), e.getMessage());
    }

    // ---------------------------------------------------------------- simulated comparisons

    /**
     * Noise shaped like a measured run. Measured on the 2-core VM (Temurin 25), two `ThreadedHttpServer -m nio -q`
     * processes, each warmed up with 15 one-second windows, then 40 ABBA rounds at 16 connections on /health through
     * LoadTest's engine in one JVM (Compare's round: 50 ms unmeasured, 250 ms measured, per side), ln(B/A) of
     * requests/s per round: MEASURED below, in round order. The machine was shared with five other jobs (load average
     * 11 to 13 on 2 cores), so many rounds were hit: one side lost up to 90% of its throughput while the other ran.
     * Rounds that were not hit spread with a standard deviation of about 0.09 (a 400 ms-round run the same day).
     * Two noise models are drawn from:
     *  - MEASURED itself, each value with a random sign (identical sides make ln(B/A) symmetric about 0): the A/A
     *    bound must hold even on a machine this busy; the 10% rate it reaches is printed, not asserted (under that
     *    load no 16-round comparison can find 10%, and the verdict says "within noise" instead of guessing);
     *  - CALM_WITH_HITS: calm rounds normal with sd 0.09, plus 5% of rounds hit (one side slowed by e^U, U uniform in
     *    [0, 2.5], about the worst hit measured): a machine whose other jobs are occasional. Both bounds hold here.
     */
    static final double[] MEASURED = {0.3357, 0.4311, 0.5174, 0.1107, -0.0842, -0.9262, -0.0410, -0.2650, -0.2041,
            -0.2046, 0.3315, -0.0505, 0.2345, 0.2183, 0.4556, 0.2357, -0.3300, -1.7928, 0.5293, -0.6669, 0.1866, 0.1264,
            2.4094, -1.2352, -1.0402, 0.1066, -0.2342, 0.1966, 0.0020, 0.2398, 0.0706, 0.0646, -0.1306, -0.6428, -0.2089,
            -0.3440, 0.0678, -0.9452, 0.3196, -0.4630};

    interface Noise { double logRatio(Random rnd, double trueLogRatio); }

    static final Noise MEASURED_NOISE = (rnd, x) -> x + (rnd.nextBoolean() ? 1 : -1) * MEASURED[rnd.nextInt(MEASURED.length)];

    static final Noise CALM_WITH_HITS = (rnd, x) -> {
        double v = x + 0.09 * rnd.nextGaussian();
        if (rnd.nextDouble() < 0.05) v += (rnd.nextBoolean() ? 1 : -1) * 2.5 * rnd.nextDouble();
        return v;
    };

    static final int SIMULATIONS = 2_000;

    /** How many of SIMULATIONS comparisons of `rounds` rounds end in each verdict, for a true ratio B/A. */
    static int[] simulate(Noise noise, double trueRatio, int rounds, long seed) {
        var rnd = new Random(seed);
        int[] verdicts = new int[PairedStats.Verdict.values().length];
        for (int s = 0; s < SIMULATIONS; s++) {
            double[] lr = new double[rounds];
            for (int k = 0; k < rounds; k++) lr[k] = noise.logRatio(rnd, Math.log(trueRatio));
            verdicts[PairedStats.signedRank(lr, PairedStats.CONFIDENCE).verdict().ordinal()]++;
        }
        return verdicts;
    }

    static int count(int[] verdicts, PairedStats.Verdict v) { return verdicts[v.ordinal()]; }

    /** The share of A/A comparisons called different, printed. */
    static double aaRate(String name, Noise noise, long seed) {
        int rounds = PairedStats.DEFAULT_ROUNDS;
        int[] v = simulate(noise, 1.0, rounds, seed);
        assertEquals(0, count(v, PairedStats.Verdict.TOO_FEW_ROUNDS), "the default number of rounds supports an interval");
        int different = count(v, PairedStats.Verdict.B_HIGHER) + count(v, PairedStats.Verdict.B_LOWER);
        double rate = (double) different / SIMULATIONS;
        System.out.printf("  A/A, %s: %d of %d comparisons at %d rounds called different (%.1f%%; bound 6%%)%n", name, different, SIMULATIONS, rounds, 100 * rate);
        return rate;
    }

    /** The share of comparisons with a true 10% difference (either way) found with the right sign, printed; and the wrong-sign count. */
    static double[] tenPercentRate(String name, Noise noise, long seed) {
        int rounds = PairedStats.DEFAULT_ROUNDS;
        int[] slower = simulate(noise, 1 / 1.1, rounds, seed), faster = simulate(noise, 1.1, rounds, seed + 1);
        int right = count(slower, PairedStats.Verdict.B_LOWER) + count(faster, PairedStats.Verdict.B_HIGHER);
        int wrong = count(slower, PairedStats.Verdict.B_HIGHER) + count(faster, PairedStats.Verdict.B_LOWER);
        double rate = right / (2.0 * SIMULATIONS);
        System.out.printf("  10%%, %s: found with the right sign in %d of %d comparisons at %d rounds (%.1f%%), wrong sign %d%n",
                name, right, 2 * SIMULATIONS, rounds, 100 * rate, wrong);
        return new double[]{rate, wrong};
    }

    @Test void identicalSidesAreRarelyCalledDifferentEvenOnABusyMachine() {
        assertTrue(aaRate("calm with 5% hits", CALM_WITH_HITS, 16) <= 0.06);
        assertTrue(aaRate("measured on a busy machine", MEASURED_NOISE, 26) <= 0.06);
    }

    @Test void aTrueTenPercentDifferenceIsFoundWithTheRightSign() {
        double[] calm = tenPercentRate("calm with 5% hits", CALM_WITH_HITS, 17);
        double[] busy = tenPercentRate("measured on a busy machine", MEASURED_NOISE, 27);
        assertTrue(calm[0] >= 0.80, "a true 10% difference found with the right sign: " + calm[0]);
        assertTrue(calm[1] <= 0.01 * 2 * SIMULATIONS && busy[1] <= 0.01 * 2 * SIMULATIONS, "the wrong sign almost never");
    }

    // ---------------------------------------------------------------- steady state

    @Test void warmUpStopsOnceThroughputStopsRisingAndReportsTheWindowsItTook() throws Exception {
        // A JIT at work: 5k, 10k, 20k, 35k, then flat at about 50k.
        double[] seq = {5_000, 10_000, 20_000, 35_000, 49_000, 50_500, 50_000, 49_800, 51_000};
        var next = new AtomicInteger();
        var w = PairedStats.warmUp(() -> seq[next.getAndIncrement()], 3, 0.05, seq.length);
        assertTrue(w.steady(), Arrays.toString(w.rps()));
        assertEquals(7, w.windows(), "steady after the three windows 49k, 50.5k, 50k agree within 5%, i.e. at window 7");
        assertEquals(7, next.get(), "no window run after steady state was reached");
    }

    @Test void warmUpStopsAtTheCapWhenThroughputNeverSettles() throws Exception {
        var rnd = new Random(3);
        var w = PairedStats.warmUp(() -> 10_000 + 10_000 * rnd.nextDouble(), 3, 0.02, 8);
        assertFalse(w.steady(), Arrays.toString(w.rps()));
        assertEquals(8, w.windows());
        assertThrows(IllegalArgumentException.class, () -> PairedStats.warmUp(() -> 1, 1, 0.05, 8));
    }

    // ---------------------------------------------------------------- tails

    @Test void aPercentileNeedsTenSamplesBeyondIt() {
        assertEquals(1_000, PairedStats.minSamples(99));
        assertEquals(10_000, PairedStats.minSamples(99.9));
        assertEquals(20, PairedStats.minSamples(50));
        assertFalse(PairedStats.enoughFor(9_999, 99.9));
        assertTrue(PairedStats.enoughFor(10_000, 99.9));
    }
}
