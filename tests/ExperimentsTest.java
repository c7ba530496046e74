///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//DEPS tools.jackson.core:jackson-databind:3.3.0
//SOURCES TestKit.java
//SOURCES Browser.java
//SOURCES ../Compare.java
//SOURCES ../SimpleHttpServer.java
//SOURCES ../ThreadedHttpServer.java
//SOURCES ../EchoServer.java
//SOURCES ../PrimeEchoServer.java
//DESCRIPTION Tests of Compare's experiments (architectures, echo-race, prime-race, idle-connections): table, JSON, and the HTML report in a real browser.

// Each experiment runs as its users run it (./jbang Compare.java ...), with tiny sizes, writing --json and --html.
// The table on stdout, the JSON figures and the HTML report must agree: the report is opened in headless Chromium,
// must load without console errors, and every chart must have one series per measured line and one point (or bar)
// per figure, carrying the figure's value. Screenshots of each report: target/screenshots/experiments-*.png
// (or $SCREENSHOT_DIR). Run: tests/run Experiments

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.WebElement;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

public class ExperimentsTest {
    public static void main(String[] args) {
        TestKit.run("ExperimentsTest", Options.class, Reports.class);
    }

    static final JsonMapper JSON = JsonMapper.builder().build();

    record Ran(int exit, String output, JsonNode json, Path html) {}

    /** Runs `./jbang Compare.java args... --json F --html F` and reads what it wrote. */
    static Ran compare(Path dir, String... args) throws Exception {
        var all = new ArrayList<>(List.of("Compare.java"));
        all.addAll(List.of(args));
        Path json = dir.resolve("report.json"), html = dir.resolve("report.html");
        all.addAll(List.of("--json", json.toString(), "--html", html.toString()));
        try (var p = TestKit.ServerProcess.start(all.toArray(String[]::new))) {
            int exit = p.waitFor(Duration.ofMinutes(8));
            return new Ran(exit, p.output(), Files.exists(json) ? JSON.readTree(json.toFile()) : null, html);
        }
    }

    /** Options checked before anything starts, and the mode lists Compare keeps beside the servers' own enums. */
    public static class Options {
        @Test void theExperimentsKnowEveryModeOfEveryServer() {
            assertEquals(names(SimpleHttpServer.Mode.values()), Experiments.Architectures.MODES.get(Sides.Script.SIMPLE));
            assertEquals(names(ThreadedHttpServer.Mode.values()), Experiments.Architectures.MODES.get(Sides.Script.THREADED));
            assertEquals(names(EchoServer.Mode.values()), Experiments.EchoRace.SERVER_MODES);
            assertEquals(names(PrimeEchoServer.Mode.values()), Experiments.PrimeRace.MODES);
        }

        @Test void badArgumentsAreOneErrorLineAndExitCode2() {
            for (var args : List.of(List.of("architectures", "--servers", "threaded:turbo"), List.of("echo-race", "--modes", "bogus"),
                    List.of("prime-race", "--modes", "nio:sometimes"), List.of("architectures", "--concurrency", "0"),
                    List.of("architectures", "--tasks", "disk"))) {
                var err = new java.io.ByteArrayOutputStream();
                var saved = System.err;
                int exit;
                System.setErr(new java.io.PrintStream(err, true));
                try {
                    exit = Compare.execute(args.toArray(String[]::new));   // in this JVM: checked before anything starts
                } finally {
                    System.setErr(saved);
                }
                String text = err.toString().strip();
                assertEquals(2, exit, args + ":\n" + text);
                assertEquals(1, text.lines().count(), args + " prints one line: " + text);
                assertTrue(text.startsWith("Error: "), args + ": " + text);
                assertTrue(text.contains(args.getLast().replaceAll(".*:", "")), args + " names the bad value: " + text);
            }
        }

        @Test void aReportThatCannotBeWrittenIsOneErrorLineAfterTheTable() {
            var err = new java.io.ByteArrayOutputStream();
            var out = new java.io.ByteArrayOutputStream();
            var savedErr = System.err;
            var savedOut = System.out;
            int exit;
            System.setErr(new java.io.PrintStream(err, true));
            System.setOut(new java.io.PrintStream(out, true));
            try {
                exit = Compare.execute("architectures", "--servers", "threaded:virtual", "--tasks", "io", "--io-ms", "1",
                        "--concurrency", "1", "--html", "/proc/no-such-dir/report.html");
            } finally {
                System.setErr(savedErr);
                System.setOut(savedOut);
            }
            assertEquals(1, exit, err.toString());
            assertTrue(out.toString().contains("ThreadedHttpServer virtual"), "the table is printed first: " + out);
            String last = err.toString().strip().lines().reduce((a, b) -> b).orElse("");
            assertTrue(last.startsWith("Error: cannot write the report") && last.contains("/proc/no-such-dir"), err.toString());
        }

        static List<String> names(Enum<?>[] values) { return Arrays.stream(values).map(Enum::name).toList(); }
    }

    /** Each test runs a whole experiment, and the first one may compile Compare.java: more than the kit's 120 s. */
    @TestInstance(TestInstance.Lifecycle.PER_CLASS)
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    public static class Reports {
        Browser browser;

        @BeforeAll void startBrowser() throws Exception {
            browser = Browser.start();
            System.out.println("  screenshots: " + Browser.screenshotDir());
        }

        @AfterAll void stopBrowser() { if (browser != null) browser.close(); }

        @Test void architecturesTableJsonAndChartsAgree(@TempDir Path dir) throws Exception {
            var ran = compare(dir, "architectures", "--servers", "simple:single,threaded:virtual", "--concurrency", "1,2,4",
                    "--io-ms", "50", "--cpu-n", "20000");
            assertEquals(0, ran.exit(), ran.output());
            var results = ran.json().get("results");
            assertEquals(2 * 2 * 3, results.size(), "2 servers x 2 tasks x 3 concurrencies: " + results);
            for (var f : results) assertEquals(0, f.get("failed").asInt(), "no failed request: " + f);
            // The table: one row per server in each task's table, a column per N.
            for (String row : List.of("SimpleHttpServer single", "ThreadedHttpServer virtual"))
                assertEquals(2, ran.output().lines().filter(l -> l.startsWith(row)).count(), row + " in both tables:\n" + ran.output());
            assertTrue(ran.output().contains("N=1") && ran.output().contains("N=4"), ran.output());
            // A server that runs one request at a time cannot answer 4 requests that each wait 50 ms in under 200 ms.
            assertTrue(figure(results, "SimpleHttpServer", "single", "io", 4) >= 200, "sequential /io: " + results);

            var charts = openReport(ran, "experiments-architectures");
            assertEquals(2, charts.size(), "a line chart per task");
            for (var chart : charts) {
                String task = chart.getDomAttribute("data-kind").equals("line") ? null : "?";
                assertNull(task, "a line chart");
                var series = chart.findElements(org.openqa.selenium.By.cssSelector("g.series"));
                assertEquals(2, series.size(), "a line per server");
                for (var s : series) {
                    var points = s.findElements(org.openqa.selenium.By.cssSelector(".point"));
                    assertEquals(3, points.size(), "a point per N in " + s.getDomAttribute("data-series"));
                }
            }
            // Every point carries a figure of the JSON (rounded to 0.1 ms), and every figure is drawn.
            var drawn = browser.findAll("svg.chart .point").stream().map(p -> Double.parseDouble(p.getDomAttribute("data-y"))).sorted().toList();
            var measured = new ArrayList<Double>();
            results.forEach(f -> measured.add(Math.round(f.get("totalMs").asDouble() * 10) / 10.0));
            assertEquals(measured.stream().sorted().toList(), drawn, "the points are the JSON's figures");
            assertFalse(browser.findAll(".reading p").isEmpty(), "sentences under the charts");
        }

        @Test void echoRaceTableJsonAndChartsAgree(@TempDir Path dir) throws Exception {
            var ran = compare(dir, "echo-race", "-n", "200", "-s", "64", "--modes", "nio,virtual", "--warmup", "0");
            assertEquals(0, ran.exit(), ran.output());
            var rounds = ran.json().get("results");
            boolean c = TestKit.projectRoot().resolve("tests/c/echo_client.c").toFile().isFile() && Experiments.onPath("gcc");
            int servers = c ? 3 : 2, clients = c ? 2 : 1;
            assertEquals(servers * clients, rounds.size(), "every client against every server: " + rounds);
            for (var r : rounds) {
                assertEquals(0, r.get("failed").asLong(), "no failed connection: " + r);
                assertEquals(200, r.get("connections").asInt());
                assertTrue(r.get("totalMs").asDouble() > 0 && r.get("p99Ms").asDouble() > 0, r.toString());
                assertTrue(ran.output().lines().anyMatch(l -> l.startsWith(r.get("server").asString()) && l.contains(r.get("client").asString())),
                        "a table row for " + r + ":\n" + ran.output());
            }
            var charts = openReport(ran, "experiments-echo-race");
            assertEquals(2, charts.size(), "total time and p99 bar charts");
            for (var chart : charts) {
                assertEquals("bar", chart.getDomAttribute("data-kind"));
                assertEquals(clients, chart.findElements(org.openqa.selenium.By.cssSelector("g.series")).size(), "a series per client");
                assertEquals(rounds.size(), chart.findElements(org.openqa.selenium.By.cssSelector(".bar")).size(), "a bar per round");
            }
            var totals = charts.getFirst().findElements(org.openqa.selenium.By.cssSelector(".bar")).stream()
                    .map(b -> Double.parseDouble(b.getDomAttribute("data-value"))).sorted().toList();
            var measured = new ArrayList<Double>();
            rounds.forEach(r -> measured.add(Math.round(r.get("totalMs").asDouble() * 10) / 10.0));
            assertEquals(measured.stream().sorted().toList(), totals, "the bars are the JSON's total times");
        }

        @Test void primeRaceShowsWhichModelBlocks(@TempDir Path dir) throws Exception {
            var ran = compare(dir, "prime-race", "--modes", "nio:no-offload,virtual");
            assertEquals(0, ran.exit(), ran.output());
            var runs = ran.json().get("results");
            assertEquals(2, runs.size(), runs.toString());
            // The event loop that divides cannot read Echo before it is done; virtual threads (offload on) answer Echo first.
            var loop = runs.get(0);
            var virtual = runs.get(1);
            assertTrue(loop.get("blocked").asBoolean(), "nio --no-offload blocks: " + loop);
            assertFalse(virtual.get("blocked").asBoolean(), "virtual does not: " + virtual);
            assertEquals("LongPrime", virtual.get("arrivals").get(2).get("name").asString(), "LongPrime last on virtual: " + virtual);
            assertTrue(ran.output().contains("yes: blocked"), ran.output());

            var charts = openReport(ran, "experiments-prime-race");
            assertEquals(2, charts.size(), "a timeline per model");
            for (int i = 0; i < 2; i++) {
                var bars = charts.get(i).findElements(org.openqa.selenium.By.cssSelector(".bar"));
                assertEquals(3, bars.size(), "LongPrime, Echo, SmallPrime");
                for (var a : runs.get(i).get("arrivals")) {
                    assertTrue(bars.stream().anyMatch(b -> a.get("name").asString().equals(b.getDomAttribute("data-category"))
                            && Double.parseDouble(b.getDomAttribute("data-value")) == a.get("ms").asDouble()), "a bar for " + a);
                }
            }
        }

        @Test void compareWritesItsTableAndThroughputChartAsHtml(@TempDir Path dir) throws Exception {
            Path html = dir.resolve("compare.html");
            try (var p = TestKit.ServerProcess.start("Compare.java", "compare", "--quick", "--runs", "1", "--duration", "200ms",
                    "--warmup", "100ms", "--concurrency", "2", "--html", html.toString())) {
                assertEquals(0, p.waitFor(Duration.ofMinutes(8)), p.output());
                String text = Files.readString(html);
                for (String outside : List.of("<script", "<link", "src=", "@import", "url("))
                    assertFalse(text.contains(outside), "the report pulls nothing in (" + outside + ")");
                assertEquals(List.of(), browser.open(html.toUri().toString()), "console errors");
                // The same rows as the table on stdout: every figure line printed there is a row of the page's table.
                var rows = browser.findAll("table tbody tr").stream().map(r -> r.findElements(org.openqa.selenium.By.tagName("td")).getFirst().getText()).toList();
                for (String figure : List.of("contract checks passed", "GET /health c=2 throughput (req/s)", "peak RSS of the process tree (MB)")) {
                    assertTrue(p.output().contains(figure), "stdout has " + figure);
                    assertTrue(rows.contains(figure), "the page has " + figure + ": " + rows);
                }
                var charts = browser.findAll("svg.chart");
                assertEquals(1, charts.size(), "the throughput chart");
                var series = charts.getFirst().findElements(org.openqa.selenium.By.cssSelector("g.series"));
                assertEquals(2, series.size(), "A and B");
                long throughputRows = rows.stream().filter(r -> r.endsWith(" throughput (req/s)")).count();
                for (var s : series)
                    assertEquals(throughputRows, s.findElements(org.openqa.selenium.By.cssSelector(".bar")).size(), "a bar per raced path and count");
                assertTrue(browser.find("footer").getText().contains("Command: ./jbang Compare.java compare --quick"), browser.find("footer").getText());
                System.out.println("        screenshot " + browser.screenshot("experiments-compare"));
            }
        }

        /**
         * Opens the HTML report from the file system (no server: it must stand alone), checks it loads without console
         * errors, pulls in nothing, agrees with the JSON's list of charts, and keeps a screenshot. Returns its charts.
         */
        List<WebElement> openReport(Ran ran, String name) throws Exception {
            String html = Files.readString(ran.html());
            for (String outside : List.of("<script", "<link", "src=", "@import", "url("))
                assertFalse(html.contains(outside), "the report pulls nothing in (" + outside + ")");
            assertEquals(List.of(), browser.open(ran.html().toUri().toString()), "console errors");
            var charts = browser.findAll("svg.chart");
            var listed = ran.json().get("charts");
            assertEquals(listed.size(), charts.size(), "the charts the JSON lists");
            for (int i = 0; i < charts.size(); i++) {
                var series = charts.get(i).findElements(org.openqa.selenium.By.cssSelector("g.series"));
                assertEquals(listed.get(i).get("series").size(), series.size(), "series of chart " + listed.get(i));
                for (int s = 0; s < series.size(); s++)
                    assertEquals(listed.get(i).get("series").get(s).get("points").asInt(),
                            series.get(s).findElements(org.openqa.selenium.By.cssSelector(".point, .bar")).size(), "points of " + listed.get(i));
            }
            assertTrue(browser.find("footer").getText().contains("./jbang Compare.java"), "the footer names the command");
            assertTrue(browser.find("footer").getText().contains("cores"), "and the machine");
            System.out.println("        screenshot " + browser.screenshot(name));
            return charts;
        }

        @Test void idleConnectionsTableJsonAndChartsAgree(@TempDir Path dir) throws Exception {
            var ran = compare(dir, "idle-connections", "--servers", "threaded:nio,simple:virtual", "--counts", "0,20,40",
                    "--load", "300ms", "--load-connections", "4");
            assertEquals(0, ran.exit(), ran.output());
            var results = ran.json().get("results");
            assertEquals(2 * 3, results.size(), "2 servers x 3 numbers of idle connections: " + results);
            for (var f : results) {
                assertEquals(0, f.get("errors").asLong(), "LoadTest counted no error: " + f);
                assertTrue(f.get("rps").asDouble() > 0 && f.get("rssKb").asLong() > 0, "answered under load, memory read: " + f);
                if (f.get("idle").asInt() == 0) assertEquals(0.0, f.get("kbPerIdle").asDouble(), "N=0 is the baseline: " + f);
            }
            for (String row : List.of("ThreadedHttpServer nio", "SimpleHttpServer virtual"))
                assertEquals(3, ran.output().lines().filter(l -> l.startsWith(row)).count(), "a row per N for " + row + ":\n" + ran.output());
            var charts = openReport(ran, "experiments-idle-connections");
            assertEquals(2, charts.size(), "memory per idle connection, and p99 under load");
            for (var chart : charts)
                assertEquals(2, chart.findElements(org.openqa.selenium.By.cssSelector("g.series")).size(), "a line per server");
            // The memory chart has a point per N > 0 (N = 0 is its baseline), the p99 chart one per N.
            assertEquals(2 * 2, charts.get(0).findElements(org.openqa.selenium.By.cssSelector(".point")).size());
            assertEquals(2 * 3, charts.get(1).findElements(org.openqa.selenium.By.cssSelector(".point")).size());
            assertFalse(browser.findAll(".reading p").isEmpty(), "sentences under the charts");
        }

        @Test void idleConnectionsRefusesBadCounts() {
            var err = new java.io.ByteArrayOutputStream();
            var saved = System.err;
            System.setErr(new java.io.PrintStream(err, true));
            try {
                assertEquals(2, Compare.execute("idle-connections", "--counts", "-5"), err.toString());
                assertEquals(2, Compare.execute("idle-connections", "--servers", "threaded:sequential"), err.toString());
            } finally {
                System.setErr(saved);
            }
            assertTrue(err.toString().lines().allMatch(l -> l.startsWith("Error: ")), "one Error: line each: " + err);
        }

        static double figure(JsonNode results, String server, String mode, String task, int n) {
            for (var f : results)
                if (f.get("server").asString().equals(server) && f.get("mode").asString().equals(mode)
                        && f.get("task").asString().equals(task) && f.get("concurrency").asInt() == n) return f.get("totalMs").asDouble();
            throw new AssertionError("no figure for " + server + " " + mode + " " + task + " N=" + n + " in " + results);
        }
    }
}
