///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//SOURCES TestKit.java
//SOURCES ../Compare.java
//DESCRIPTION Tests of compare/Counts.java against ground truth: servers whose system calls per request are known.

// The counting engine is checked against what the servers are known to do, never against its own arithmetic:
// tests/TwoReadsServer.java reads each 8-byte request in two reads of 4 and answers with one write, so it must be
// counted at 2 reads and 1 write per request (within 2%); ThreadedHttpServer's event loop (-m nio) reads a request
// once, its virtual threads twice (the second read finds nothing and parks the thread), under the same closed loop;
// in -m thread the threads born after counting began are counted; /proc/PID/io agrees with perf on reads and
// writes within 5%. Counts only: nothing here depends on how long anything took.
// Run: tests/run Counts
// Needs: perf

import org.junit.jupiter.api.Test;

import java.io.*;
import java.net.*;
import java.time.Duration;
import java.util.*;

import static org.junit.jupiter.api.Assertions.*;

public class CountsTest {
    public static void main(String[] args) {
        TestKit.run("CountsTest", CountsTest.class);
    }

    /** TwoReadsServer as a real process (the JDK's source launcher: no build step). */
    static Processes.Proc twoReadsServer() throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        var p = Processes.Procs.start("two-reads", new Processes.Launch(List.of(java, "-XX:+UseSerialGC",
                TestKit.projectRoot().resolve("tests/TwoReadsServer.java").toString()), false), false);
        p.awaitReady(Duration.ofSeconds(120));
        return p;
    }

    static Processes.Proc threaded(String mode) throws Exception {
        var p = Processes.Procs.start("threaded:" + mode, Processes.Launch.direct(Sides.Script.THREADED,
                Processes.Launch.jvmOptions(List.of()), List.of("-p", "0", "-q", "-m", mode)), false);
        p.awaitReady(Duration.ofSeconds(180));
        return p;
    }

    static long pid(Processes.Proc p) { return p.process.pid(); }

    /** Closed-loop GET /health at 16 connections for a second; the requests answered. */
    static long load(Processes.Proc p) throws Exception {
        var r = LoadTest.run(LoadTest.Config.of(URI.create("http://127.0.0.1:" + p.port() + "/health")).withConnections(16)
                .withDuration(Duration.ofSeconds(1)).withWarmup(Duration.ZERO));
        return r.requests();
    }

    /** One request on a TwoReadsServer connection: 8 bytes out, the 1-byte answer back. */
    static void exchange(Socket s) throws IOException {
        s.getOutputStream().write("abcdefgh".getBytes());
        assertEquals('+', s.getInputStream().read(), "TwoReadsServer's answer");
    }

    static void assertWithin(double expected, double actual, double share, String what) {
        assertTrue(Math.abs(actual - expected) <= share * expected, what + ": expected " + expected + " within " + (100 * share) + "%, counted " + actual);
    }

    @Test void twoReadsAndOneWritePerRequestAreCountedWithinTwoPercentByPerfAndByProc() throws Exception {
        var server = twoReadsServer();
        try {
            int connections = 4, perConnection = 500;
            var sockets = new ArrayList<Socket>();
            for (int i = 0; i < connections; i++) sockets.add(new Socket(InetAddress.getLoopbackAddress(), server.port()));
            for (var s : sockets) exchange(s);   // each connection's thread is up and has served once before counting
            var counts = Counts.run(pid(server), () -> {
                for (int k = 0; k < perConnection; k++) for (var s : sockets) exchange(s);
                return (long) connections * perConnection;
            });
            for (var s : sockets) s.close();   // after the count: the read that finds the end of the stream is not in it
            assertTrue(counts.syscallSource().startsWith("perf"), "counted with perf: " + counts.syscallSource() + " " + counts.notes());
            assertWithin(2.0, counts.perRequest(Counts.Kind.READ), 0.02, "reads per request");
            assertWithin(1.0, counts.perRequest(Counts.Kind.WRITE), 0.02, "writes per request");
            // The fallback, read over the same window, agrees with perf.
            assertWithin(counts.syscalls().get(Counts.Kind.READ), counts.procReadsWrites().get(Counts.Kind.READ), 0.05, "/proc/PID/io syscr against perf");
            assertWithin(counts.syscalls().get(Counts.Kind.WRITE), counts.procReadsWrites().get(Counts.Kind.WRITE), 0.05, "/proc/PID/io syscw against perf");
        } finally {
            server.stop();
        }
    }

    @Test void theEventLoopReadsARequestOnceAndAVirtualThreadTwice() throws Exception {
        var perRequest = new LinkedHashMap<String, Counts>();
        for (String mode : List.of("nio", "virtual")) {
            var server = threaded(mode);
            try {
                load(server);   // unmeasured: the JIT compiles the request path first
                perRequest.put(mode, Counts.run(pid(server), () -> load(server)));
            } finally {
                server.stop();
            }
        }
        var nio = perRequest.get("nio");
        var virtual = perRequest.get("virtual");
        for (var c : perRequest.values()) assertTrue(c.syscallSource().startsWith("perf"), "counted with perf: " + c.syscallSource() + " " + c.notes());
        for (var e : perRequest.entrySet()) {
            var c = e.getValue();
            System.out.printf(Locale.ROOT, "        -m %s: %d requests; per request: read %.2f, write %.2f, epoll_wait %.2f, epoll_ctl %.2f, futex %.2f%n", e.getKey(),
                    c.requests(), c.perRequest(Counts.Kind.READ), c.perRequest(Counts.Kind.WRITE), c.perRequest(Counts.Kind.EPOLL_WAIT),
                    c.perRequest(Counts.Kind.EPOLL_CTL), c.perRequest(Counts.Kind.FUTEX));
        }
        assertTrue(nio.requests() >= 200 && virtual.requests() >= 200, "enough requests to count: " + nio.requests() + ", " + virtual.requests());
        // nio: the selector says a connection is readable, one read takes the request.
        assertWithin(1.0, nio.perRequest(Counts.Kind.READ), 0.25, "nio reads per request");
        assertWithin(1.0, nio.perRequest(Counts.Kind.WRITE), 0.25, "nio writes per request");
        // virtual: after each answer the thread reads again, finds nothing (EAGAIN), registers with the poller and parks.
        // About two on a quiet machine; fewer when the next request is already there as the thread reads again.
        assertTrue(virtual.perRequest(Counts.Kind.READ) >= 1.4 * nio.perRequest(Counts.Kind.READ),
                "virtual reads per request " + virtual.perRequest(Counts.Kind.READ) + " against nio's " + nio.perRequest(Counts.Kind.READ));
        // Each read that found nothing parked the thread, which re-armed the poller: one epoll_ctl for each (or more).
        double emptyReads = virtual.perRequest(Counts.Kind.READ) - virtual.perRequest(Counts.Kind.WRITE);
        assertTrue(virtual.perRequest(Counts.Kind.EPOLL_CTL) >= 0.8 * emptyReads, "virtual re-arms the poller after each read that finds nothing: epoll_ctl per request "
                + virtual.perRequest(Counts.Kind.EPOLL_CTL) + ", reads that found nothing " + emptyReads);
        assertTrue(nio.perRequest(Counts.Kind.EPOLL_CTL) < 0.1, "nio registers each connection once: epoll_ctl per request " + nio.perRequest(Counts.Kind.EPOLL_CTL));
        // Both are JVMs: what they allocated and how many threads they ran are counted too.
        for (var c : List.of(nio, virtual)) {
            assertTrue(c.allocatedBytes() > 0, "allocated bytes counted: " + c.jvmSource() + " " + c.notes());
            assertTrue(c.peakThreads() > 1, "threads counted: " + c.peakThreads());
        }
        assertTrue(virtual.carrierThreads() >= 1, "virtual threads run on the scheduler's carriers: " + virtual.carrierThreads());
    }

    @Test void threadsBornAfterCountingBeganAreCounted() throws Exception {
        var server = threaded("thread");
        try {
            int before = Counts.Proc.threads(List.of(pid(server)));   // no connection yet: the JVM's own threads and the acceptor
            load(server);
            // LoadTest opens its 16 connections after Counts.start: the server's 16 threads for them are all new.
            var counts = Counts.run(pid(server), () -> load(server));
            assertTrue(counts.syscallSource().startsWith("perf"), "counted with perf: " + counts.syscallSource() + " " + counts.notes());
            assertTrue(counts.perRequest(Counts.Kind.READ) >= 0.95, "every request read by a thread born during the count: reads per request "
                    + counts.perRequest(Counts.Kind.READ));
            assertTrue(counts.perRequest(Counts.Kind.WRITE) >= 0.95, "and answered by it: writes per request " + counts.perRequest(Counts.Kind.WRITE));
            assertTrue(counts.syscalls().get(Counts.Kind.ACCEPT) >= 16, "16 connections accepted: " + counts.syscalls().get(Counts.Kind.ACCEPT));
            assertTrue(counts.peakThreads() >= before + 16, "a thread per connection at the peak: " + counts.peakThreads() + " against " + before + " with no connection");
        } finally {
            server.stop();
        }
    }

    /** A run that answered nothing (a side that starved every connection in one round) is written, not a crash. */
    @Test void aCountOverNoAnsweredRequestIsNullPerRequestInTheJson() throws Exception {
        var server = twoReadsServer();
        try {
            var counts = Counts.run(pid(server), () -> 0L);
            var syscalls = (Map<?, ?>) counts.json().get("syscalls");
            assertFalse(syscalls.isEmpty(), "system calls counted: " + counts.json());
            for (var entry : syscalls.values()) {
                var call = (Map<?, ?>) entry;
                assertTrue(call.containsKey("per_request") && call.get("per_request") == null, "per request: null, not a number: " + syscalls);
            }
            assertTrue(Double.isNaN(counts.perRequest(Counts.Kind.READ)));
        } finally {
            server.stop();
        }
    }

    @Test void theReadyLineParserReadsHostsPortsAndIpv6() {
        assertEquals(new InetSocketAddress("127.0.0.1", 8080), ReadyLine.parse("Listening on http://127.0.0.1:8080/ mode=nio workers=5").orElseThrow());
        assertEquals(new InetSocketAddress("::1", 7878), ReadyLine.parse("Listening on tcp://[::1]:7878 mode=nio offload=on").orElseThrow());
        assertEquals("virtual", ReadyLine.of("2026-12-06 Listening on http://[::1]:3000/ mode=virtual").orElseThrow().mode());
        assertTrue(ReadyLine.parse("Listening soon").isEmpty());
    }
}
