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
// per figure, drawn where the figure belongs: its position read in the browser against the chart's own axis ticks. Screenshots of each report: target/screenshots/experiments-*.png
// (or $SCREENSHOT_DIR). Run: tests/run Experiments
// Needs: chromium chromedriver gcc

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

    /** The output up to the mechanism table every experiment ends with (compare/Counts.java: a row per model there too). */
    static java.util.stream.Stream<String> figureLines(Ran ran) {
        return ran.output().lines().takeWhile(l -> !l.startsWith("The mechanism per request"));
    }

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
            assertEquals(names(SimpleHttpServer.Mode.values()), Experiment.HTTP_MODES.get(Sides.Script.SIMPLE));
            assertEquals(names(ThreadedHttpServer.Mode.values()), Experiment.HTTP_MODES.get(Sides.Script.THREADED));
            assertEquals(names(EchoServer.Mode.values()), EchoRace.SERVER_MODES);
            assertEquals(names(PrimeEchoServer.Mode.values()), PrimeRace.MODES);
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
                assertEquals(2, figureLines(ran).filter(l -> l.startsWith(row)).count(), row + " in both tables:\n" + ran.output());
            assertTrue(ran.output().contains("N=1") && ran.output().contains("N=4"), ran.output());
            var charts = openReport(ran, "experiments-architectures");
            assertEquals(2, charts.size(), "a line chart per task");
            for (var chart : charts) {
                assertEquals("line", chart.getDomAttribute("data-kind"), "a line chart");
                String task = chart.findElement(org.openqa.selenium.By.tagName("title")).getAttribute("textContent").contains("/io") ? "io" : "cpu";
                var series = chart.findElements(org.openqa.selenium.By.cssSelector("g.series"));
                assertEquals(2, series.size(), "a line per server");
                // What is drawn: each point sits at its N's tick on the x axis and at its figure's height on the
                // y axis, both read off the chart's own tick labels; the axes say what they measure.
                var y = Axis.values(chart);
                var x = Axis.categories(chart, y.pixel(0));
                assertTrue(axisTitle(chart, true).contains("(ms)"), "the y axis says its unit: " + axisTitle(chart, true));
                assertTrue(axisTitle(chart, false).contains("(N)"), "the x axis says it is N: " + axisTitle(chart, false));
                for (var s : series) {
                    String name = s.getDomAttribute("data-series");
                    String[] serverAndMode = name.split(" ");
                    assertTrue(chart.getAttribute("textContent").contains(name), "the legend names " + name);
                    var points = s.findElements(org.openqa.selenium.By.cssSelector(".point"));
                    assertEquals(3, points.size(), "a point per N in " + name);
                    var seen = new java.util.TreeSet<Integer>();
                    for (var p : points) {
                        int n = Integer.parseInt(x.nameAt(attr(p, "cx")));
                        assertEquals(x.pixelOf(String.valueOf(n)), attr(p, "cx"), 1, name + ": a point off its N's tick");
                        seen.add(n);
                        double ms = figure(results, serverAndMode[0], serverAndMode[1], task, n);
                        assertEquals(y.pixel(ms), attr(p, "cy"), 1, name + " " + task + " N=" + n + ": " + ms + " ms drawn at the wrong height");
                        y.assertCovers(ms);
                    }
                    assertEquals(java.util.Set.of(1, 2, 4), seen, "one point at each N's tick");
                }
            }
            assertFalse(browser.findAll(".reading p").isEmpty(), "sentences under the charts");
        }

        @Test void echoRaceTableJsonAndChartsAgree(@TempDir Path dir) throws Exception {
            var ran = compare(dir, "echo-race", "-n", "200", "-s", "64", "--modes", "nio,virtual", "--warmup", "0");
            assertEquals(0, ran.exit(), ran.output());
            var rounds = ran.json().get("results");
            // The C epoll pair is part of the race: this script needs gcc (tests/run fails it when gcc is missing).
            assertTrue(TestKit.projectRoot().resolve("compare/c/echo_client.c").toFile().isFile() && Util.onPath("gcc"), "compare/c and gcc");
            int servers = 3, clients = 2;   // C epoll, EchoServer nio and virtual; the C client and EchoClient
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
            // What is drawn: each bar stands on the zero line, reaches its figure's height on the y axis read off the
            // chart's tick labels, and stands in the group of its server's label; its series is its client.
            for (int i = 0; i < 2; i++) {
                var chart = charts.get(i);
                String field = i == 0 ? "totalMs" : "p99Ms";
                assertTrue(axisTitle(chart, true).contains("(ms)"), "the y axis says its unit: " + axisTitle(chart, true));
                var y = Axis.values(chart);
                var serverLabels = Axis.categories(chart, y.pixel(0));
                for (var s : chart.findElements(org.openqa.selenium.By.cssSelector("g.series"))) {
                    String client = s.getDomAttribute("data-series");
                    for (var bar : s.findElements(org.openqa.selenium.By.cssSelector(".bar"))) {
                        String server = serverLabels.nameAt(attr(bar, "x") + attr(bar, "width") / 2);
                        var round = java.util.stream.StreamSupport.stream(rounds.spliterator(), false)
                                .filter(r -> r.get("server").asString().equals(server) && r.get("client").asString().equals(client))
                                .findFirst().orElseThrow(() -> new AssertionError("no round for the bar of " + client + " under " + server));
                        double ms = round.get(field).asDouble();
                        assertEquals(y.pixel(0), attr(bar, "y") + attr(bar, "height"), 1, "the bar stands on the zero line");
                        assertEquals(y.pixel(ms), attr(bar, "y"), 1, client + " on " + server + ": " + field + " " + ms + " drawn at the wrong height");
                        y.assertCovers(ms);
                    }
                }
            }
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
                // What is drawn: each bar runs from the time axis' 0 tick to its arrival's time, read off the tick labels
                // under the chart, on the row its job's label names.
                var time = Axis.ticks(charts.get(i), "middle", false);
                var rows = charts.get(i).findElements(org.openqa.selenium.By.cssSelector("text[text-anchor='end']"));
                for (var a : runs.get(i).get("arrivals")) {
                    var row = rows.stream().filter(t -> t.getAttribute("textContent").equals(a.get("name").asString())).toList();
                    assertEquals(1, row.size(), "a row label for " + a);
                    double rowY = attr(row.getFirst(), "y");
                    var bar = bars.stream().filter(b -> attr(b, "y") < rowY && rowY < attr(b, "y") + attr(b, "height")).toList();
                    assertEquals(1, bar.size(), "one bar on the row of " + a);
                    double ms = a.get("ms").asDouble();
                    assertEquals(time.pixel(0), attr(bar.getFirst(), "x"), 1, "the bar starts at 0 ms");
                    assertEquals(Math.max(time.pixel(ms), time.pixel(0) + 1), attr(bar.getFirst(), "x") + attr(bar.getFirst(), "width"), 1,
                            a + " drawn to the wrong time");
                    time.assertCovers(ms);
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
            // The experiment's own charts; the stacked chart of system calls per request (compare/Counts.java) is checked above with every chart.
            return charts.stream().filter(c -> !"stacked".equals(c.getDomAttribute("data-kind"))).toList();
        }

        static double attr(WebElement e, String name) { return Double.parseDouble(e.getDomAttribute(name)); }

        /** The text of the chart's y axis title (rotated) or x axis title (the lowest text under the plot). */
        static String axisTitle(WebElement chart, boolean y) {
            var texts = chart.findElements(org.openqa.selenium.By.tagName("text"));
            if (y) return texts.stream().filter(t -> String.valueOf(t.getDomAttribute("transform")).contains("rotate(-90"))
                    .map(t -> t.getAttribute("textContent")).findFirst().orElse("");
            return texts.stream().max(java.util.Comparator.comparingDouble(t -> attr(t, "y"))).map(t -> t.getAttribute("textContent")).orElse("");
        }

        /**
         * An axis as the chart draws it: its tick labels, each a value (or a name) and a pixel position, read from the
         * SVG in the browser. A value axis maps a value to a pixel through its outermost ticks, once every tick has
         * been checked to lie on that line (a linear scale from 0).
         */
        record Axis(List<String> names, List<Double> pixels) {
            /**
             * The value axis on the left: numbers right-aligned beside the plot, each beside a grid line (within 6 px:
             * a label's baseline sits a little below its line), whose height is the value's position.
             */
            static Axis values(WebElement chart) {
                var labels = ticks(chart, "end", true);
                var grid = chart.findElements(org.openqa.selenium.By.tagName("line")).stream()
                        .filter(l -> l.getDomAttribute("y1").equals(l.getDomAttribute("y2"))).map(l -> attr(l, "y1")).toList();
                var pixels = new ArrayList<Double>();
                for (double p : labels.pixels()) {
                    var line = grid.stream().min(java.util.Comparator.comparingDouble(g -> Math.abs(g - p))).orElseThrow();
                    assertTrue(Math.abs(line - p) <= 6, "the tick label at y=" + p + " has its grid line: " + grid);
                    pixels.add(line);
                }
                return linear(new Axis(labels.names(), pixels));
            }

            /** Labels just under a plot whose zero line is at baseline: what names each position along the x axis. */
            static Axis categories(WebElement chart, double baseline) {
                var names = new ArrayList<String>();
                var pixels = new ArrayList<Double>();
                for (var t : chart.findElements(org.openqa.selenium.By.cssSelector("text[text-anchor='middle']"))) {
                    double ty = attr(t, "y");
                    if (ty > baseline && ty <= baseline + 30) {
                        names.add(t.getAttribute("textContent"));
                        pixels.add(attr(t, "x"));
                    }
                }
                assertFalse(names.isEmpty(), "labels under the plot");
                return new Axis(names, pixels);
            }

            /** The numeric tick labels with this text-anchor, at their y (a vertical axis) or x (a horizontal one). */
            static Axis ticks(WebElement chart, String anchor, boolean vertical) {
                var names = new ArrayList<String>();
                var pixels = new ArrayList<Double>();
                for (var t : chart.findElements(org.openqa.selenium.By.cssSelector("text[text-anchor='" + anchor + "']"))) {
                    String text = t.getAttribute("textContent").strip();
                    if (!text.matches("\\d+(\\.\\d+)?")) continue;
                    names.add(text);
                    pixels.add(attr(t, vertical ? "y" : "x"));
                }
                return linear(new Axis(names, pixels));
            }

            /** Checks that the axis starts at 0 and every tick lies on the line through the outermost two. */
            static Axis linear(Axis axis) {
                assertTrue(axis.names().size() >= 2, "at least two numeric ticks: " + axis);
                assertEquals(0, axis.names().stream().mapToDouble(Double::parseDouble).min().orElseThrow(), "the axis starts at 0: " + axis);
                for (int i = 0; i < axis.names().size(); i++)
                    assertEquals(axis.pixel(axis.value(i)), axis.pixels().get(i), 0.6, "the tick '" + axis.names().get(i) + "' lies on a linear scale: " + axis);
                return axis;
            }

            double value(int i) { return Double.parseDouble(names.get(i)); }

            double pixel(double v) {
                int lo = 0, hi = 0;
                for (int i = 0; i < names.size(); i++) {
                    if (value(i) < value(lo)) lo = i;
                    if (value(i) > value(hi)) hi = i;
                }
                return pixels.get(lo) + (v - value(lo)) * (pixels.get(hi) - pixels.get(lo)) / (value(hi) - value(lo));
            }

            /** The value lies on the drawn scale: not beyond its last tick. */
            void assertCovers(double v) {
                double top = names.stream().mapToDouble(Double::parseDouble).max().orElseThrow();
                assertTrue(v <= top, v + " beyond the axis' last tick " + top);
            }

            /** The position of the label with this name. */
            double pixelOf(String name) { return pixels.get(names.indexOf(name)); }

            /** The name of the label nearest to this position. */
            String nameAt(double pixel) {
                int best = 0;
                for (int i = 1; i < pixels.size(); i++) if (Math.abs(pixels.get(i) - pixel) < Math.abs(pixels.get(best) - pixel)) best = i;
                return names.get(best);
            }
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
                assertEquals(3, figureLines(ran).filter(l -> l.startsWith(row)).count(), "a row per N for " + row + ":\n" + ran.output());
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
            var lines = err.toString().lines().toList();
            assertTrue(lines.size() == 2 && lines.stream().allMatch(l -> l.startsWith("Error: ")), "one Error: line each: " + err);
        }

        static double figure(JsonNode results, String server, String mode, String task, int n) {
            for (var f : results)
                if (f.get("server").asString().equals(server) && f.get("mode").asString().equals(mode)
                        && f.get("task").asString().equals(task) && f.get("concurrency").asInt() == n) return f.get("totalMs").asDouble();
            throw new AssertionError("no figure for " + server + " " + mode + " " + task + " N=" + n + " in " + results);
        }
    }
}
