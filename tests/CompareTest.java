///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//SOURCES TestKit.java
//SOURCES ../compare/PairedStats.java
//SOURCES ../compare/Forks.java
//DEPS tools.jackson.core:jackson-databind:3.3.0
//DESCRIPTION Tests of Compare.java as its users run it: compare, test, both, every kind of side, errors, Ctrl-C.

// Each test runs `./jbang Compare.java ...` as a real process with a tag in its environment; every process Compare
// starts inherits the tag, so after Compare has ended a scan of /proc proves that none of them is left. Durations are
// tiny (a rough answer is all a test needs: the figures are checked for being there and consistent, never for speed).
// Needs: python3

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.*;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.*;

public class CompareTest {
    public static void main(String[] args) {
        TestKit.run("CompareTest", CompareTest.class);
    }

    static final JsonMapper JSON = JsonMapper.builder().build();
    /** Tiny runs: enough to produce every figure, far too short to mean anything. */
    static final List<String> TINY = List.of("--quick", "--forks", "2", "--duration", "200ms", "--warmup", "50ms", "--steady-max", "1s");

    final List<CompareRun> started = new ArrayList<>();

    /** After every test: Compare has ended, and no process it started (they all carry its tag) is left. */
    @AfterEach void nothingIsLeft() throws Exception {
        for (var r : started) {
            r.close();
            assertEquals(List.of(), r.taggedPids(), "processes of Compare left after the test:\n" + r.output());
        }
    }

    CompareRun compare(String... args) throws IOException {
        var r = CompareRun.start(args);
        started.add(r);
        return r;
    }

    // ---------------------------------------------------------------- compare

    @Test void compareQuickPrintsTheAbTableAndWritesEveryFigureAndRunAsJson(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("out.json");
        var args = new ArrayList<>(List.of("compare", "--a", "simple:pool", "--b", "threaded:nio", "--json", json.toString()));
        args.addAll(TINY);
        var run = compare(args.toArray(String[]::new));
        assertEquals(0, run.waitFor(), run.output());
        String out = run.output();
        for (String s : List.of("A: SimpleHttpServer (pool)", "B: ThreadedHttpServer (nio)", "B/A (95% interval)",
                "contract checks passed", "GET /health c=16 throughput (req/s)", "GET /index.html c=16 latency p99 (ms)",
                "server CPU per request", "p99.9, corrected", "peak RSS", "Verdict: ", "JVM options asked for, both servers: -XX:+UseSerialGC",
                "JVM options in effect, read from each server's command line", "Warm-up to steady state (250 ms windows", "Method: B/A is the Hodges-Lehmann",
                "Forks: 2 (A and B started afresh in each", "Spread of ln(B/A) on the throughput rows, between forks / within a fork",
                "Smallest difference this run could detect", "left out of --quick: too noisy at this length",
                "CPU pinning: ", "JBang's compile and launch excluded", "Command: ./jbang Compare.java compare --a simple:pool")) {
            assertTrue(out.contains(s), "the report shows '" + s + "':\n" + out);
        }
        int rounds = Forks.QUICK_ROUNDS, forks = 2;
        assertTrue(out.contains("throughput GET /health c=16: round 2 of " + rounds + ", B ThreadedHttpServer (nio)"), "progress names phase, side, round k of n:\n" + out);
        assertTrue(out.contains("(fork 2)"), "progress names the fork:\n" + out);

        JsonNode root = JSON.readTree(json.toFile());
        for (String side : List.of("A", "B")) {
            JsonNode s = root.get("sides").get(side);
            assertTrue(s.get("startup_ms").doubleValue() > 0, "start-up of " + side + ": " + s);
            assertTrue(s.get("idle_rss_mb").doubleValue() > 0 && s.get("peak_rss_mb").doubleValue() >= s.get("idle_rss_mb").doubleValue() * 0.5, s.toString());
            assertEquals(23, s.get("contract").get("passed").intValue(), "every check passes on " + side + ": " + s.get("contract"));
        }
        // Per fork, 2 paths x 1 concurrency x ROUNDS rounds x 2 sides closed loop (no equal load with --quick): each
        // round A and B back to back, A first in odd rounds and B first in even ones (ABBA).
        JsonNode runs = root.get("runs");
        assertEquals(forks * 2 * rounds * 2, runs.size(), runs.toString());
        assertEquals(forks, root.get("forks").get("forks").intValue(), root.get("forks").toString());
        var answeredInPhase = new TreeMap<String, Long>();
        for (int i = 0; i < runs.size(); i++) {
            JsonNode r = runs.get(i);
            int round = i / 2 % rounds + 1;
            assertEquals(round, r.get("run").intValue(), "two runs a round: " + runs);
            assertEquals(i / (2 * rounds * 2) + 1, r.get("fork").intValue(), "fork after fork: " + runs);
            assertEquals((round % 2 == 1) == (i % 2 == 0) ? "A" : "B", r.get("side").stringValue(), "ABBA: A first in odd rounds, B in even ones: " + runs);
            // Every request sent is counted: answered, or still waiting when the run ended (on a loaded machine a run
            // of 200 ms may end before anything came back: seen once in 48 runs at load 18); none failed. The server's
            // CPU per answer is a number whenever there were answers, and each side answered in every phase (below).
            // A run may also have sent nothing at all: LoadTest's --duration clock starts before its connections are
            // opened (the event loop opens them, then sends on each as its connect completes), so on a loaded machine
            // (load ~10 on 2 cores, 2026-12-06) a run of 200 ms can end first: seen once as 16 connections with no
            // request, no answer and no unanswered one. That such a run says so (all its connections starved), and that
            // every phase answered in some run (below), are what holds whatever the machine does.
            long answers = r.get("requests").longValue();
            assertEquals(answers == 0, r.get("answers_per_connection").get("starved").intValue() == r.get("connections").intValue(),
                    "a run without an answer, and only such a run, has every connection starved: " + r);
            assertTrue(r.get("errors").longValue() == 0 && r.get("non_2xx").longValue() == 0, r.toString());
            JsonNode cpu = r.get("server_cpu_us_per_request");
            assertTrue(answers > 0 ? cpu.isNumber() && cpu.doubleValue() >= 0 : cpu.isNull(), "CPU per answer, given " + answers + " answers: " + r);
            answeredInPhase.merge(r.get("side").stringValue() + " " + r.get("path").stringValue() + " " + r.get("loop").stringValue(), answers, Long::sum);
            assertTrue(r.get("unanswered").get("count").longValue() <= 16, "at most one request per connection is cut off by the end: " + r);
        }
        assertEquals(4, answeredInPhase.size(), "two sides, two closed-loop phases: " + answeredInPhase);
        answeredInPhase.forEach((phase, answers) -> assertTrue(answers > 0, "no answer in any round of " + phase + ": " + answeredInPhase));
        // The ratio and its interval, recomputed from the runs themselves (not from the figure's own fields): the
        // rounds are paired A with B by fork and round number.
        double[][] a = new double[forks][rounds], b = new double[forks][rounds];
        for (JsonNode r : runs) {
            if (!r.get("path").stringValue().equals("/health") || !r.get("loop").stringValue().equals("closed")) continue;
            (r.get("side").stringValue().equals("A") ? a : b)[r.get("fork").intValue() - 1][r.get("run").intValue() - 1] = r.get("rps").doubleValue();
        }
        // Worked out here by hand, not by Forks or PairedStats (the code under test): a fork's estimate is the
        // Hodges-Lehmann estimate of its rounds' ln(B/A) (the median of the Walsh averages of the rounds both sides
        // answered in); B/A is exp of the forks' mean estimate, its 95% interval exp(mean ± t · sd / √forks) with t
        // Student's 0.975 quantile from its published table.
        double[] tTable = {Double.NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228};
        var estimates = new ArrayList<Double>();
        int n = 0;
        for (int f = 0; f < forks; f++) {
            var walsh = new ArrayList<Double>();
            var logRatios = new ArrayList<Double>();
            for (int i = 0; i < rounds; i++) if (a[f][i] > 0 && b[f][i] > 0) logRatios.add(Math.log(b[f][i] / a[f][i]));
            for (int i = 0; i < logRatios.size(); i++)
                for (int j = i; j < logRatios.size(); j++) walsh.add((logRatios.get(i) + logRatios.get(j)) / 2);
            n += logRatios.size();
            if (walsh.isEmpty()) continue;
            java.util.Collections.sort(walsh);
            int m = walsh.size();
            estimates.add(m % 2 == 1 ? walsh.get(m / 2) : (walsh.get(m / 2 - 1) + walsh.get(m / 2)) / 2);
        }
        JsonNode throughput = figure(root, "GET /health c=16 throughput");
        assertEquals(n, throughput.get("rounds").intValue(), "the rounds with a figure on both sides: " + throughput);
        assertEquals(forks, estimates.size(), "every fork answered on both sides: " + runs);
        int k = estimates.size();
        double mean = estimates.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        double sd = Math.sqrt(estimates.stream().mapToDouble(e -> (e - mean) * (e - mean)).sum() / (k - 1));
        double hl = Math.exp(mean), low = Math.exp(mean - tTable[k - 1] * sd / Math.sqrt(k)), high = Math.exp(mean + tTable[k - 1] * sd / Math.sqrt(k));
        boolean excludesOne = low > 1 || high < 1;
        assertEquals(forks, throughput.get("forks").get("count").intValue(), throughput.toString());
        assertEquals(hl, throughput.get("ratio").doubleValue(), 1e-9 * hl, throughput.toString());
        JsonNode ci = throughput.get("ratio_interval");
        assertEquals(low, ci.get(0).doubleValue(), 1e-9 * low, throughput.toString());
        assertEquals(high, ci.get(1).doubleValue(), 1e-9 * high, throughput.toString());
        assertEquals(!excludesOne ? "WITHIN_NOISE" : low > 1 ? "B_HIGHER" : "B_LOWER", throughput.get("verdict").stringValue(), throughput.toString());
        var row = out.lines().filter(l -> l.startsWith("GET /health c=16 throughput (req/s)")).findFirst().orElseThrow();
        String interval = ratio(low) + "–" + ratio(high) + ")";
        assertTrue(row.stripTrailing().endsWith(excludesOne ? "× (" + interval : "≈ 1 (within noise: " + interval),
                "the table shows the same interval " + interval + ": " + row);
    }

    /** An interval's bound as the table prints it. */
    static String ratio(double r) {
        String s = String.format(Locale.ROOT, r >= 10 ? "%.0f" : "%.2f", r);
        return s.equals("1.00") && r != 1 ? String.format(Locale.ROOT, "%.3f", r) : s;
    }

    static JsonNode figure(JsonNode root, String name) {
        for (JsonNode f : root.get("figures")) if (f.get("figure").stringValue().equals(name)) return f;
        throw new AssertionError("no figure " + name + " in " + root.get("figures"));
    }

    @Test void aUrlSideAndACmdSideRaceOnlyThePathsBothAnswer(@TempDir Path dir) throws Exception {
        try (var server = TestKit.ServerProcess.start("SimpleHttpServer.java", "-p", "0", "-q")) {
            int port = server.port();
            Path json = dir.resolve("out.json");
            var args = new ArrayList<>(List.of("compare", "--a", "http://127.0.0.1:" + port,
                    "--b", "cmd:python3 -m http.server {port} --bind 127.0.0.1 --directory www", "--json", json.toString()));
            args.addAll(TINY);
            var run = compare(args.toArray(String[]::new));
            assertEquals(0, run.waitFor(), run.output());
            String out = run.output();
            assertTrue(out.contains("Note: GET /health not raced: A answered 200, B answered 404"), out);
            assertTrue(out.contains("GET /index.html c=16 throughput"), out);
            JsonNode root = JSON.readTree(json.toFile());
            assertTrue(root.get("sides").get("A").get("startup_ms").isNull(), "a URL side has no start-up: " + root.get("sides"));
            assertTrue(root.get("sides").get("A").get("idle_rss_mb").isNull(), "nor memory: " + root.get("sides"));
            assertTrue(root.get("sides").get("B").get("startup_ms").doubleValue() > 0, root.get("sides").toString());
            assertTrue(root.get("sides").get("B").get("contract").get("failed").intValue() > 0, "Python's http.server is not our contract");
            assertEquals(List.of("/index.html"), JSON.convertValue(root.get("paths"), List.class));
            assertEquals(200, Wire.exchange(port, "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").status(),
                    "a URL side is left running: Compare did not start it");
        }
    }

    @Test void ctrlCInTheMiddleOfARaceStopsEveryServer() throws Exception {
        var run = compare("compare", "--duration", "3s", "--rounds", "3", "--concurrency", "4", "--steady-max", "0s");
        run.awaitOutput("throughput GET /health c=4: round 1 of 3", Duration.ofSeconds(240));
        var servers = ProcessHandle.of(run.process.pid()).orElseThrow().descendants().toList();
        assertTrue(servers.size() >= 2, "both servers run under Compare: " + servers);
        run.signal("INT");
        int code = run.waitFor();
        assertNotEquals(0, code, run.output());
        for (var h : servers) assertFalse(h.isAlive(), "server " + h.pid() + " " + h.info().commandLine().orElse("") + " still runs");
    }

    @Test void aServerThatServesOneConnectionAtATimeIsShownStarvingAndItsLatencyIsNotCalledBetter(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("out.json");
        var run = compare("compare", "--a", "threaded:sequential", "--b", "threaded:nio", "--forks", "1", "--concurrency", "16", "--rounds", "6",
                "--duration", "300ms", "--warmup", "50ms", "--steady-max", "0s", "--json", json.toString());
        assertEquals(0, run.waitFor(), run.output());
        String out = run.output();
        JsonNode root = JSON.readTree(json.toFile());
        long starvedRuns = 0, unansweredA = 0;
        for (JsonNode r : root.get("runs")) {
            if (!r.get("side").stringValue().equals("A") || !r.get("loop").stringValue().equals("closed")) continue;
            if (r.get("answers_per_connection").get("starved").intValue() > 0) starvedRuns++;
            unansweredA += r.get("unanswered").get("count").longValue();
        }
        assertTrue(starvedRuns > 0, "sequential serves one connection at a time: the others starve\n" + out);
        assertTrue(unansweredA > 0, "their requests are still unanswered at the end of the run\n" + out);
        assertTrue(out.contains("Warning: A starved connections"), out);
        var fairness = out.lines().filter(l -> l.startsWith("GET /health c=16 answers per connection")).findFirst().orElseThrow();
        assertTrue(fairness.contains("STARVED"), fairness);
        var unanswered = out.lines().filter(l -> l.startsWith("GET /health c=16 unanswered at the end of a run")).findFirst().orElseThrow();
        assertTrue(unanswered.contains("waited up to"), unanswered);
        for (JsonNode f : root.get("figures")) {
            String name = f.get("figure").stringValue();
            if (!name.startsWith("GET /") || !name.contains("latency")) continue;
            // B_HIGHER on a latency row would mean "A, the sequential server, answers faster".
            assertNotEquals("B_HIGHER", f.get("verdict").stringValue(), "the starving side's latency is never called better: " + f);
        }
        assertFalse(root.get("verdict").stringValue().contains("latency"), root.get("verdict").toString());
    }

    @Test void aJvmOptionIsPlacedLastShownAsInEffectAndTheServerRunsWithIt(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("out.json");
        var run = compare("compare", "--a", "threaded:nio", "--b", "simple:pool", "--jvm-option", "-Xmx300m", "--forks", "1", "--concurrency", "2",
                "--rounds", "2", "--duration", "100ms", "--warmup", "20ms", "--steady-max", "0s", "--json", json.toString());
        run.awaitOutput("throughput GET /health c=2: round 1 of 2", Duration.ofSeconds(240));
        // The servers are up: the last -Xmx on a JVM's command line is its heap limit; read each one's from /proc.
        var java = ProcessHandle.of(run.process.pid()).orElseThrow().descendants()
                .filter(h -> h.info().command().orElse("").endsWith("/java")).toList();
        assertTrue(java.size() >= 2, "the server JVMs under Compare (A, B and the contract's instances without --directory): " + java);
        for (var h : java) {
            var argv = new String(Files.readAllBytes(Path.of("/proc/" + h.pid() + "/cmdline")), StandardCharsets.UTF_8).split("\0");
            var xmx = Arrays.stream(argv).filter(w -> w.startsWith("-Xmx")).toList();
            assertEquals("-Xmx300m", xmx.getLast(), "the last -Xmx wins: " + String.join(" ", argv));
        }
        assertEquals(0, run.waitFor(), run.output());
        var inEffect = run.output().lines().filter(l -> l.startsWith("JVM options in effect")).findFirst().orElseThrow();
        assertTrue(inEffect.contains("A: ") && inEffect.indexOf("-Xmx300m") < inEffect.indexOf("; B: ") && inEffect.lastIndexOf("-Xmx300m") > inEffect.indexOf("; B: "), inEffect);
        assertFalse(inEffect.contains("-Xmx256m") || inEffect.contains("-Xmx512m"), "the losing -Xmx options are not shown as in effect: " + inEffect);
        assertTrue(run.output().contains("JVM options asked for, both servers: -XX:+UseSerialGC -Xms64m -Xmx256m -Xmx300m"), run.output());
        JsonNode root = JSON.readTree(json.toFile());
        for (String side : List.of("A", "B")) {
            var effective = JSON.convertValue(root.get("sides").get(side).get("jvm_options_in_effect"), List.class);
            assertTrue(effective.contains("-Xmx300m") && !effective.contains("-Xmx256m"), side + ": " + effective);
            var all = JSON.convertValue(root.get("sides").get(side).get("jvm_command_line_options"), List.class);
            assertEquals("-Xmx300m", all.getLast(), "placed last, so it wins: " + all);
        }
        assertTrue(JSON.convertValue(root.get("jvm_options"), List.class).contains("-Xmx300m"), root.get("jvm_options").toString());
    }

    /** Two bench/DelayServer.java copies as cmd: sides: A answers after aMs, B after bMs; small, short forks, no equal load (--quick). */
    static List<String> delayRace(int aMs, int bMs, String... more) {
        var args = new ArrayList<>(List.of("compare", "--a", "cmd:java bench/DelayServer.java {port} " + aMs, "--b", "cmd:java bench/DelayServer.java {port} " + bMs,
                "--quick", "--concurrency", "4", "--rounds", "4", "--duration", "400ms", "--warmup", "20ms", "--steady-max", "0s"));
        args.addAll(List.of(more));
        return args;
    }

    // Two comparisons at once (they share nothing but the machine), so the pair takes about the time of one. The
    // difference is twentyfold (10 ms against 200 ms a request), so that even a machine busy enough to scatter the
    // rounds widely cannot hide it in three forks.
    @Test @org.junit.jupiter.api.Timeout(300)
    void failIfWorseExits3WhenTheIntervalShowsBWorseByMoreThanTheLimitAnd0Otherwise(@TempDir Path dir) throws Exception {
        var bad = compare("compare", "--fail-if-worse", "five");
        assertEquals(2, bad.waitFor(), bad.output());
        assertTrue(bad.output().contains("Error: ") && bad.output().contains("a percentage from 0 to 100"), bad.output());
        var worse = compare(delayRace(10, 200, "--forks", "3", "--fail-if-worse", "5%", "--json", dir.resolve("worse.json").toString()).toArray(String[]::new));
        var better = compare(delayRace(200, 10, "--forks", "3", "--fail-if-worse", "5%").toArray(String[]::new));
        assertEquals(3, worse.waitFor(), "B 20 times slower is worse by more than 5%:\n" + worse.output());
        assertTrue(worse.output().lines().anyMatch(l -> l.startsWith("Worse: GET /") && l.contains(" throughput B/A 0.")), worse.output());
        boolean shown = false;
        for (JsonNode f : JSON.readTree(dir.resolve("worse.json").toFile()).get("figures")) {
            if (f.get("figure").stringValue().endsWith("throughput") && f.get("ratio_interval").isArray()) shown |= f.get("ratio_interval").get(1).doubleValue() < 0.95;
        }
        assertTrue(shown, "exit 3 rests on a throughput interval wholly under 0.95");
        assertEquals(0, better.waitFor(), "B 20 times faster is not worse:\n" + better.output());
        assertFalse(better.output().contains("Worse: "), better.output());
    }

    @Test @org.junit.jupiter.api.Timeout(300)
    void precisionAddsForksUntilEveryThroughputRowIsWithinItOrMaxTimeRunsOut(@TempDir Path dir) throws Exception {
        // Already running delay servers (URL sides: a fork is its rounds only, which is all the stopping rule needs).
        // A loose precision (±100%: the interval within x2 of the estimate) is reached, after the planned forks or a few
        // more (two forks give a wide t-interval), and every throughput row's half-width shows it; an impossible one is
        // not: forks are added until --max-time, which here ends the race after its first fork.
        try (var a = TestKit.ServerProcess.start("bench/DelayServer.java", "0", "10");
             var b = TestKit.ServerProcess.start("bench/DelayServer.java", "0", "11")) {
            String urlA = "http://127.0.0.1:" + a.port(), urlB = "http://127.0.0.1:" + b.port();
            Path reached = dir.resolve("reached.json"), ranOut = dir.resolve("ran-out.json");
            var common = List.of("compare", "--a", urlA, "--b", urlB, "--quick", "--concurrency", "4", "--rounds", "4", "--duration", "200ms",
                    "--warmup", "20ms", "--steady-max", "0s", "--forks", "2");
            var loose = new ArrayList<>(common);
            loose.addAll(List.of("--precision", "100%", "--max-time", "200s", "--json", reached.toString()));
            var looseRun = compare(loose.toArray(String[]::new));
            assertEquals(0, looseRun.waitFor(), looseRun.output());
            JsonNode root = JSON.readTree(reached.toFile()), forks = root.get("forks");
            assertEquals("PRECISION_REACHED", forks.get("stopped").stringValue(), forks.toString());
            assertTrue(forks.get("forks").intValue() >= 2, "the planned forks at least: " + forks);
            for (JsonNode f : root.get("figures")) {
                if (f.get("figure").stringValue().endsWith("throughput")) assertTrue(f.get("forks").get("half_width").doubleValue() <= 1.0, f.toString());
            }
            assertTrue(looseRun.output().contains("every headline row's interval is within the precision asked for (±100%)"), looseRun.output());
            var strict = new ArrayList<>(common);
            strict.addAll(List.of("--precision", "0.01%", "--max-time", "1s", "--json", ranOut.toString()));
            var strictRun = compare(strict.toArray(String[]::new));
            assertEquals(0, strictRun.waitFor(), strictRun.output());
            forks = JSON.readTree(ranOut.toFile()).get("forks");
            assertEquals("MAX_TIME", forks.get("stopped").stringValue(), forks.toString());
            assertEquals(1, forks.get("forks").intValue(), forks.toString());
            assertTrue(strictRun.output().contains("--max-time ran out before every headline row's interval was within the precision asked for"), strictRun.output());
        }
    }

    // ---------------------------------------------------------------- test

    /**
     * Every mode of both servers passes the contract in their own scripts (SimpleHttpServerTest, ThreadedHttpServerTest:
     * HttpContract, one dynamic test per check and mode); here, what only Compare does: sides of both servers started
     * as processes, one of them with worker processes that must all be stopped (nothingIsLeft), and a mode that skips
     * the two-connection checks, shown as 21/21 beside 23/23.
     */
    @Test void testPassesAgainstBothServersAWorkerProcessModeAndOneThatSkips() throws Exception {
        var run = compare("test", "simple:single", "threaded:sequential", "threaded:processes");
        assertEquals(0, run.waitFor(), run.output());
        String table = run.output();
        assertTrue(table.contains("check ") && table.contains("threaded:processes"), table);
        assertFalse(table.contains("FAIL"), table);
        assertTrue(table.lines().anyMatch(l -> l.strip().startsWith("passed") && l.contains("23/23") && l.contains("21/21")), table);
    }

    @Test void compareFindsItsScriptsFromAnyCurrentFolder(@TempDir Path elsewhere) throws Exception {
        var run = CompareRun.startFrom(elsewhere, "test", "simple:single");
        started.add(run);
        assertEquals(0, run.waitFor(), run.output());
        assertTrue(run.output().lines().anyMatch(l -> l.strip().startsWith("passed") && l.contains("23/23")), run.output());
    }

    @Test void testFailsAgainstAWrongServerAndMarksTheRowsThatDiffer() throws Exception {
        try (var wrong = new WrongServer()) {
            var run = compare("test", "simple", "http://127.0.0.1:" + wrong.port());
            assertEquals(1, run.waitFor(), run.output());
            String out = run.output();
            var healthRow = out.lines().filter(l -> l.contains("GET /health says who answers")).findFirst().orElseThrow();
            assertTrue(healthRow.startsWith("≠") && healthRow.contains("PASS") && healthRow.contains("FAIL"), healthRow);
            assertTrue(out.contains("FAIL http://127.0.0.1:" + wrong.port() + ": healthSaysWhoIsAnswering: "), "each failure says why:\n" + out);
            var keepAlive = out.lines().filter(l -> l.contains("keep-alive until Connection: close")).findFirst().orElseThrow();
            assertTrue(keepAlive.contains("FAIL"), keepAlive);
            assertTrue(out.lines().anyMatch(l -> l.startsWith("SKIP http://") && l.contains("needs the contract's web root")), out);
        }
    }

    /** Answers every request with the same 200 "ok" (no Date, no JSON, no keep-alive) and closes: wrong in every way. */
    static final class WrongServer implements AutoCloseable {
        final ServerSocket socket;

        WrongServer() throws IOException {
            socket = new ServerSocket(0, 512, InetAddress.getLoopbackAddress());
            Thread.ofVirtual().start(this::serve);
        }

        int port() { return socket.getLocalPort(); }

        void serve() {
            try (var ex = Executors.newVirtualThreadPerTaskExecutor()) {
                while (true) {
                    Socket c = socket.accept();
                    ex.submit(() -> answer(c));
                }
            } catch (IOException closed) {
                // close() ends the accept loop
            }
        }

        static void answer(Socket c) {
            try (c) {
                c.setSoTimeout(5000);
                var in = c.getInputStream();
                int matched = 0;
                for (int b; matched < 4 && (b = in.read()) >= 0; ) matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : (b == '\r' ? 1 : 0);
                c.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".getBytes(StandardCharsets.ISO_8859_1));
            } catch (IOException e) {
                // a client that went away
            }
        }

        @Override public void close() throws IOException { socket.close(); }
    }

    // ---------------------------------------------------------------- --watch

    // Four builds through JBang (Compare's copy, then the server after each save), each waiting for JBang's
    // machine-wide lock while the other lane of tests/run builds: a longer bound than the suite's 120 s default.
    @Test @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void watchRestartsOnSaveAndKeepsWatchingThroughACompileError(@TempDir Path dir) throws Exception {
        // A copy of the scripts, so that the test can save (and break) one of them.
        Path root = TestKit.projectRoot();
        // Compare and what its //SOURCES lines name, read from the script itself so that a new part is copied too.
        var files = new ArrayList<>(List.of("jbang", "Compare.java", "SimpleHttpServer.java"));
        Files.readAllLines(root.resolve("Compare.java")).stream().filter(l -> l.startsWith("//SOURCES "))
                .map(l -> l.substring("//SOURCES ".length()).strip()).forEach(files::add);
        for (String f : files) {
            Files.createDirectories(dir.resolve(f).getParent());
            Files.copy(root.resolve(f), dir.resolve(f), java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
        }
        Path script = dir.resolve("SimpleHttpServer.java");
        String source = Files.readString(script);
        var run = CompareRun.startIn(dir, "simple", "--watch", "-p", "0", "-q", "--root", root.resolve("www").toString());
        started.add(run);
        run.awaitOutput("Listening on http://127.0.0.1:", 1, Duration.ofSeconds(240));
        Files.writeString(script, source + "\n// saved again\n");
        run.awaitOutput("Listening on http://127.0.0.1:", 2, Duration.ofSeconds(240));
        Files.writeString(script, source + "\nBROKEN\n");
        run.awaitOutput("SimpleHttpServer.java does not compile; still watching", Duration.ofSeconds(240));
        assertTrue(run.output().contains("error: "), "the compiler's error is shown:\n" + run.output());
        Files.writeString(script, source);
        run.awaitOutput("Listening on http://127.0.0.1:", 3, Duration.ofSeconds(240));
        run.signal("INT");
        run.waitFor();
        assertFalse(run.output().contains("Exception"), run.output());
    }

    // ---------------------------------------------------------------- both, errors

    @Test void bothServesOnTwoPortsUntilCtrlC() throws Exception {
        int p1 = freePort(), p2 = freePort();
        var run = compare("both", "--simple-port", String.valueOf(p1), "--threaded-port", String.valueOf(p2));
        run.awaitOutput("Both are running", Duration.ofSeconds(240));
        assertTrue(run.output().contains("SimpleHttpServer:   http://127.0.0.1:" + p1 + "/"), run.output());
        assertTrue(run.output().contains("ThreadedHttpServer: http://127.0.0.1:" + p2 + "/"), run.output());
        assertTrue(Wire.exchange(p1, "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").text().contains("\"SimpleHttpServer\""));
        assertTrue(Wire.exchange(p2, "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").text().contains("\"ThreadedHttpServer\""));
        run.signal("INT");
        run.waitFor();
        for (int p : List.of(p1, p2)) {
            assertThrows(IOException.class, () -> new Socket("127.0.0.1", p).close(), "port " + p + " is closed: its server was stopped");
        }
        assertFalse(run.output().contains("Error: "), "Ctrl-C is not an error:\n" + run.output());
    }

    @Test void badSidesAreOneErrorLineWithExitCode2Or1() throws Exception {
        record Case(List<String> args, int exit, String error) {}
        int closed = freePort();
        for (var c : List.of(
                new Case(List.of("compare", "--a", "nginx"), 2, "Error: unknown side: nginx"),
                new Case(List.of("test", "cmd:python3 -m http.server"), 2, "Error: side cmd:python3 -m http.server: a cmd: side needs {port}"),
                new Case(List.of("test", "prime"), 2, "Error: side prime: PrimeEchoServer does not speak HTTP"),
                new Case(List.of("compare", "--rounds", "0"), 2, "Error: --rounds must be 1 to 1000: 0"),
                new Case(List.of("compare", "--steady-max", "soon"), 2, "Error: Invalid value for option '--steady-max'"),
                new Case(List.of("test", "http://127.0.0.1:" + closed), 1, "Error: side http://127.0.0.1:" + closed + ": Connection refused"),
                new Case(List.of("test", "simple:turbo"), 2, "Error: simple:turbo: ")) ) {
            var run = compare(c.args.toArray(String[]::new));
            assertEquals(c.exit, run.waitFor(), c.args + "\n" + run.output());
            var errors = run.output().lines().filter(l -> l.startsWith("Error: ")).toList();
            assertEquals(1, errors.size(), c.args + ": one Error: line\n" + run.output());
            assertTrue(errors.getFirst().startsWith(c.error), c.args + ": " + errors.getFirst());
        }
    }

    @Test void aTakenPortInBothIsAnErrorAndTheOtherServerIsStopped() throws Exception {
        try (var taken = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            var run = compare("both", "--simple-port", String.valueOf(taken.getLocalPort()), "--threaded-port", String.valueOf(freePort()));
            assertEquals(1, run.waitFor(), run.output());
            var errors = run.output().lines().filter(l -> l.startsWith("Error: ")).toList();
            assertEquals(1, errors.size(), run.output());
            assertTrue(errors.getFirst().startsWith("Error: simple: cannot listen on 127.0.0.1:" + taken.getLocalPort()), errors.getFirst());
        }
    }

    static int freePort() throws IOException {
        try (var s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    // ---------------------------------------------------------------- Compare as a process

    /** `./jbang Compare.java args...` from the project root, tagged so that every process it starts can be found. */
    static final class CompareRun implements AutoCloseable {
        final Process process;
        final String tag = "compare-test-" + UUID.randomUUID();
        private final StringBuffer output = new StringBuffer();
        private final Thread reader;

        private CompareRun(Path folder, Path cwd, String... args) throws IOException {
            var cmd = new ArrayList<>(List.of(folder.resolve("jbang").toString(), folder.resolve("Compare.java").toString()));
            cmd.addAll(List.of(args));
            var pb = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true);
            pb.environment().put("COMPARE_TEST_TAG", tag);
            process = pb.start();
            reader = Thread.ofPlatform().daemon().start(() -> {
                try (var r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null; ) {
                        synchronized (output) {
                            output.append(l).append('\n');
                            output.notifyAll();
                        }
                    }
                } catch (IOException ignored) {
                    // the process ended
                }
            });
        }

        static CompareRun start(String... args) throws IOException { return new CompareRun(TestKit.projectRoot(), TestKit.projectRoot(), args); }

        static CompareRun startIn(Path folder, String... args) throws IOException { return new CompareRun(folder, folder, args); }

        /** The project's ./jbang Compare.java, started with another current folder, as a user elsewhere would. */
        static CompareRun startFrom(Path cwd, String... args) throws IOException { return new CompareRun(TestKit.projectRoot(), cwd, args); }

        String output() { return output.toString(); }

        void awaitOutput(String text, Duration timeout) throws InterruptedException { awaitOutput(text, 1, timeout); }

        /** Waits until the text has appeared n times in the output (or fails once the timeout passes or the process ended). */
        void awaitOutput(String text, int n, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            synchronized (output) {
                while (count(text) < n) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0 || !reader.isAlive() && count(text) < n) {
                        throw new AssertionError(n + " x '" + text + "' expected; output:\n" + output);
                    }
                    TimeUnit.NANOSECONDS.timedWait(output, Math.min(left, TimeUnit.SECONDS.toNanos(1)));
                }
            }
        }

        int count(String text) {
            int c = 0;
            for (int i = output.indexOf(text); i >= 0; i = output.indexOf(text, i + 1)) c++;
            return c;
        }

        int waitFor() throws Exception {
            if (!process.waitFor(300, TimeUnit.SECONDS)) throw new TimeoutException("Compare still running:\n" + output);
            reader.join(10_000);
            return process.exitValue();
        }

        void signal(String signal) throws Exception {
            new ProcessBuilder("kill", "-" + signal, String.valueOf(process.pid())).inheritIO().start().waitFor();
        }

        /** Live processes (not zombies) whose environment holds this run's tag. */
        List<Long> taggedPids() {
            var out = new ArrayList<Long>();
            byte[] needle = ("COMPARE_TEST_TAG=" + tag).getBytes(StandardCharsets.UTF_8);
            File[] procs = new File("/proc").listFiles((d, n) -> n.chars().allMatch(Character::isDigit));
            for (File p : procs == null ? new File[0] : procs) {
                try {
                    byte[] env = Files.readAllBytes(p.toPath().resolve("environ"));
                    if (indexOf(env, needle) >= 0) out.add(Long.parseLong(p.getName()));
                } catch (IOException | RuntimeException gone) {
                    // ended, or not ours to read
                }
            }
            return out;
        }

        static int indexOf(byte[] hay, byte[] needle) {
            outer:
            for (int i = 0; i + needle.length <= hay.length; i++) {
                for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
                return i;
            }
            return -1;
        }

        /** Compare itself is done by now in a passing test; if a test failed early, it is stopped here (never left running). */
        @Override public void close() throws Exception {
            if (process.isAlive()) {
                signal("TERM");
                if (!process.waitFor(30, TimeUnit.SECONDS)) process.destroyForcibly();
            }
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
