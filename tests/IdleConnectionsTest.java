///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//DEPS tools.jackson.core:jackson-databind:3.3.0
//SOURCES TestKit.java
//DESCRIPTION Tests that `Compare.java idle-connections` finishes on the machine it runs on: what does not fit is skipped and says why, a failed server is named and the others are kept.
// Needs: prlimit

// `./jbang Compare.java idle-connections` as a user runs it, under an open-files hard limit (prlimit on the Compare
// process: the servers it starts inherit it). This machine's hard limit (20,000 on the 2-core VM) stopped the default
// run at SimpleHttpServer's 10,000 idle connections and lost every figure measured before; here a limit of 2,000
// makes the default counts (0, 1,000, 5,000, 10,000) not fit the same way, in a run of about a minute (two or three on
// a busy machine).

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

public class IdleConnectionsTest {
    public static void main(String[] args) { TestKit.run("IdleConnectionsTest", IdleConnectionsTest.class); }

    static final JsonMapper JSON = JsonMapper.builder().build();
    static final List<String> DEFAULT_SERVERS = List.of("ThreadedHttpServer nio", "ThreadedHttpServer virtual",
            "ThreadedHttpServer thread", "SimpleHttpServer virtual");

    record Ran(int exit, String output, JsonNode json, String html) {}

    /**
     * Runs `prlimit --nofile=LIMIT:LIMIT ./jbang Compare.java idle-connections args... --json F --html F`; onLine sees
     * each line as it comes (stdout and stderr together) and may act on the run (at most 7 minutes: each server's JVM
     * starts cold, and a busy machine starts it slowly).
     */
    static Ran idleConnections(Path dir, int limit, java.util.function.BiConsumer<Process, String> onLine, String... args) throws Exception {
        Path json = dir.resolve("report.json"), html = dir.resolve("report.html");
        var cmd = new ArrayList<>(List.of("prlimit", "--nofile=" + limit + ":" + limit,
                TestKit.projectRoot().resolve("jbang").toString(), "Compare.java", "idle-connections"));
        cmd.addAll(List.of(args));
        cmd.addAll(List.of("--json", json.toString(), "--html", html.toString()));
        Process p = new ProcessBuilder(cmd).directory(TestKit.projectRoot().toFile()).redirectErrorStream(true).start();
        var out = new StringBuilder();
        try (var r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String l; (l = r.readLine()) != null; ) {
                out.append(l).append('\n');
                if (onLine != null) onLine.accept(p, l);
            }
            assertTrue(p.waitFor(7, TimeUnit.MINUTES), "still running:\n" + out);
        } finally {
            p.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        return new Ran(p.exitValue(), out.toString(), Files.exists(json) ? JSON.readTree(json.toFile()) : null,
                Files.exists(html) ? Files.readString(html) : null);
    }

    static List<JsonNode> rows(Ran ran, String server) {
        var rows = new ArrayList<JsonNode>();
        for (var f : ran.json().get("results")) if ((f.get("server").asString() + " " + f.get("mode").asString()).equals(server)) rows.add(f);
        return rows;
    }

    /**
     * The default servers and counts under a hard limit of 2,000 open files: every server is measured at what fits
     * (0 for all; 1,000 for ThreadedHttpServer, whose open-files limit leaves room), and every count that does not fit
     * is reported as skipped with its reason: SimpleHttpServer's cap from its ready line (max-connections, half its
     * descriptors), or the open-files limits. Nothing failed, so the exit status is 0.
     */
    @Test @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void theDefaultCountsFinishUnderALowHardLimitAndSaySkippedCountsWhy(@TempDir Path dir) throws Exception {
        var ran = idleConnections(dir, 2_000, null, "--load", "300ms");
        assertEquals(0, ran.exit(), ran.output());
        assertNotNull(ran.json(), "the JSON report was written:\n" + ran.output());
        for (String server : DEFAULT_SERVERS) {
            var rows = rows(ran, server);
            assertEquals(List.of(0, 1_000, 5_000, 10_000), rows.stream().map(f -> f.get("idle").asInt()).toList(),
                    "a row per default count for " + server + ": " + rows);
            for (var f : rows) {
                boolean measured = f.get("note").isNull();
                if (f.get("idle").asInt() == 0) assertTrue(measured, "the baseline fits: " + f);
                if (f.get("idle").asInt() >= 5_000) {
                    assertFalse(measured, "5,000 and more cannot fit under 2,000 open files: " + f);
                    assertTrue(f.get("note").asString().startsWith("skipped: "), f.toString());
                    assertTrue(f.get("note").asString().contains("open-files limit") || f.get("note").asString().contains("max-connections"),
                            "the reason names the limit: " + f);
                }
                if (measured) assertTrue(f.get("rps").asDouble() > 0 && f.get("rssKb").asLong() > 0, "measured: " + f);
            }
            assertTrue(ran.output().lines().anyMatch(l -> l.startsWith(server) && l.contains("skipped: ")),
                    "the table says which counts were skipped for " + server + ":\n" + ran.output());
        }
        var simple1000 = rows(ran, "SimpleHttpServer virtual").get(1);
        assertTrue(simple1000.get("note").asString().contains("max-connections="),
                "SimpleHttpServer's own cap (its ready line) is what stops 1,000 idle + 50 busy: " + simple1000);
        var threaded1000 = rows(ran, "ThreadedHttpServer nio").get(1);
        assertTrue(threaded1000.get("note").isNull(), "ThreadedHttpServer holds 1,000 idle under 2,000 open files: " + threaded1000);
        assertTrue(ran.html() != null && ran.html().contains("skipped"), "the charts' legend says what was skipped");
    }

    /**
     * A server that dies during its measurement is named in the report with what went wrong, the servers measured
     * before and after it keep their figures, and the exit status is 1. The test kills SimpleHttpServer's JVM once
     * its baseline (N = 0) is reported, so its next count fails.
     */
    @Test @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void aServerThatFailsIsNamedAndTheOthersAreKept(@TempDir Path dir) throws Exception {
        var killed = new java.util.concurrent.atomic.AtomicLong(-1);
        var ran = idleConnections(dir, 2_000, (compare, line) -> {
            if (killed.get() < 0 && line.contains("idle-connections: SimpleHttpServer virtual, 0 idle:")) {
                var server = compare.toHandle().descendants().filter(h -> h.info().commandLine().orElse("").contains("SimpleHttpServer"))
                        .findFirst().orElseThrow(() -> new AssertionError("no SimpleHttpServer under Compare"));
                killed.set(server.pid());
                server.destroyForcibly();
            }
        }, "--servers", "threaded:nio,simple:virtual,threaded:virtual", "--counts", "0,100", "--load", "2s");
        assertTrue(killed.get() > 0, "the test killed SimpleHttpServer:\n" + ran.output());
        assertEquals(1, ran.exit(), "a failed server is a failed run:\n" + ran.output());
        assertNotNull(ran.json(), "the report was written all the same:\n" + ran.output());
        for (String kept : List.of("ThreadedHttpServer nio", "ThreadedHttpServer virtual")) {
            var rows = rows(ran, kept);
            assertEquals(2, rows.size(), kept + ": " + rows);
            assertTrue(rows.stream().allMatch(f -> f.get("note").isNull() && f.get("rps").asDouble() > 0), kept + " measured: " + rows);
        }
        var simple = rows(ran, "SimpleHttpServer virtual");
        assertEquals(2, simple.size(), simple.toString());
        assertTrue(simple.get(0).get("note").isNull(), "its baseline was measured before it died: " + simple);
        assertTrue(simple.get(1).get("note").asString().startsWith("failed: "), simple.toString());
        assertTrue(ran.output().lines().anyMatch(l -> l.contains("SimpleHttpServer virtual") && l.contains("failed")),
                "the report names the failed server:\n" + ran.output());
    }
}
