///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//SOURCES TestKit.java
//SOURCES Scarce.java
//SOURCES HttpContract.java
//SOURCES ../SimpleHttpServer.java
//DESCRIPTION Tests of SimpleHttpServer: the shared HTTP contract in every mode, and the script as a process.

// The HTTP contract (tests/HttpContract.java) runs against in-process servers in single, pool and virtual mode;
// Process starts ./jbang SimpleHttpServer.java as a user would, to pin the ready line, errors and Ctrl-C.
// Needs: prlimit

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

public class SimpleHttpServerTest {
    public static void main(String[] args) {
        TestKit.run("SimpleHttpServerTest", Contract.class, Failures.class, Rfc9112.class, Process.class, Lessons.class,
                OnePolicyWithThreaded.class);
    }

    /** Starts SimpleHttpServer in this JVM, with its options parsed by picocli exactly as from a command line. */
    static SimpleHttpServer.Running startInProcess(String... args) throws Exception {
        var server = new SimpleHttpServer();
        new CommandLine(server).parseArgs(args);
        return server.start();
    }

    public static class Contract extends HttpContract {
        @Override protected List<String> modes() {
            return Arrays.stream(SimpleHttpServer.Mode.values()).map(Enum::name).toList();
        }

        @Override protected Target start(String mode, Path root, Path directory) throws Exception {
            var args = new ArrayList<>(List.of("-p", "0", "-q", "-m", mode, "--root", root.toString()));
            if (directory != null) args.addAll(List.of("--directory", directory.toString()));
            var running = startInProcess(args.toArray(String[]::new));
            return new Target() {
                @Override public int port() { return running.port(); }
                @Override public void close() { running.close(); }
            };
        }

        @Override protected String serverName() { return "SimpleHttpServer"; }

        @Override protected boolean slowRequestBlocksOthers(String mode) { return mode.equals("single"); }
    }

    /** Failures on the server's side still get an answer, and the server goes on. */
    public static class Failures {
        @Test void aFileThatCannotBeWrittenIsA500AndTheServerGoesOn(@TempDir Path dir) throws Exception {
            // A non-empty folder where the upload should go: the rename into place fails.
            Files.createDirectories(dir.resolve("taken/inside"));
            try (var server = startInProcess("-p", "0", "-q", "--directory", dir.toString())) {
                var r = Wire.exchange(server.port(), "POST /files/taken HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
                assertEquals(500, r.status(), r::toString);
                assertTrue(r.text().contains("\"error\""), r::toString);
                assertTrue(Files.isDirectory(dir.resolve("taken/inside")), "the folder is untouched");
                try (var files = Files.list(dir)) {
                    assertEquals(List.of("taken"), files.map(p -> p.getFileName().toString()).toList(), "no temporary file left behind");
                }
                assertEquals(200, Wire.exchange(server.port(), "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").status());
            }
        }
    }

    /** What the RFC 9112 filter adds to the JDK's parser, in every mode. */
    public static class Rfc9112 {

        /** Sends the raw request to a fresh server of each mode and returns "mode: status" for each. */
        static List<String> statuses(String raw) throws Exception {
            var out = new ArrayList<String>();
            for (var mode : SimpleHttpServer.Mode.values()) {
                try (var server = startInProcess("-p", "0", "-q", "-m", mode.name())) {
                    var r = Wire.exchange(server.port(), raw);
                    out.add(mode + ": " + r.status() + (r.status() == 400 && !r.text().startsWith("{\"error\":") ? " (not JSON)" : ""));
                }
            }
            return out;
        }

        static List<String> expected(int status) {
            return Arrays.stream(SimpleHttpServer.Mode.values()).map(m -> m + ": " + status).toList();
        }

        static String get(String target, String version, String hostLine) {
            return "GET " + target + " " + version + "\r\n" + hostLine + "Connection: close\r\n\r\n";
        }

        @Test void anInvalidHostIs400() throws Exception {
            // RFC 9112 §3.2 with RFC 3986 §3.2.2: Host = uri-host [ ":" port ]. The last one is a byte 0xE9.
            for (String host : List.of("{", "user@localhost:8080", "localhost:8080/path", "a, b", "abc\\foo", "::1",
                    "2001:db8::1", "localhost::80", "localhost:80 x", "localhost:80x", "[4712::abcd::]", "[::1", "[::1]x",
                    "[1:2:3:4:5:6:7:8:9]", "[::256.1.1.1]", "caf\u00e9")) {
                assertEquals(expected(400), statuses(get("/health", "HTTP/1.1", "Host: " + host + "\r\n")), "Host: " + host);
            }
        }

        @Test void aValidOrEmptyHostIsServed() throws Exception {
            for (String host : List.of("", "localhost", "localhost:", "127.0.0.1:8000", "[::1]:80", "[2001:db8::ff00:42:8329]",
                    "[::ffff:192.0.2.1]", "[v1.fe80::a+en1]", "xn--caf-dma.example:443", "my_host.local%41")) {
                assertEquals(expected(200), statuses(get("/health", "HTTP/1.1", "Host: " + host + "\r\n")), "Host: " + host);
            }
        }

        @Test void anAbsoluteFormTargetFollowsTheSameRules() throws Exception {
            for (String target : List.of("http://localhost:80x/health", "http://localhost::80/health", "http://[4712::abcd::]/health",
                    "http://user@localhost/health", "http:///health", "ftp://localhost/health")) {
                // (The JDK itself refuses some of these, with its own HTML 400: the status is what counts here.)
                assertEquals(expected(400), statuses(get(target, "HTTP/1.1", "Host: t\r\n")).stream()
                        .map(l -> l.replace(" (not JSON)", "")).toList(), target);
            }
            assertEquals(expected(200), statuses(get("http://localhost:8000/health", "HTTP/1.1", "Host: t\r\n")));
        }

        @Test void aFragmentInTheTargetIs400() throws Exception {
            assertEquals(expected(400), statuses(get("/health#top", "HTTP/1.1", "Host: t\r\n")));
            assertEquals(expected(400), statuses(get("/health#", "HTTP/1.1", "Host: t\r\n")));
        }

        @Test void http12IsAnsweredAsHttp11AndAnotherMajorVersionIs505() throws Exception {
            try (var server = startInProcess("-p", "0", "-q")) {
                var r = Wire.exchange(server.port(), get("/health", "HTTP/1.2", "Host: t\r\n"));
                assertEquals(200, r.status(), r::toString);
                assertEquals("HTTP/1.1", r.version(), r::toString);
                assertEquals(400, Wire.exchange(server.port(), get("/health", "HTTP/1.2", "")).status(), "HTTP/1.2 needs a Host too");
                assertEquals(505, Wire.exchange(server.port(), get("/health", "HTTP/2.0", "Host: t\r\n")).status());
                assertEquals(400, Wire.exchange(server.port(), get("/health", "HTTP/1.10", "Host: t\r\n")).status());
            }
        }

        /**
         * The JDK's server reads the whole head (up to the empty line) before it or the filter looks at a field or the
         * version, so these bad lines are answered when the head ends, not when the line does (ThreadedHttpServer,
         * which parses its own bytes, answers at the line). What the answer is, once the head is there: 505 for the
         * version (the filter, JSON), 400 for a Content-Length that overflows or conflicts (the JDK's own HTML 400).
         */
        @Test void aBadVersionOrContentLengthIsRefusedOnceTheHeadEnds() throws Exception {
            String post = "POST /api/echo HTTP/1.1\r\nHost: t\r\n";
            var cases = new java.util.LinkedHashMap<String, Integer>();
            cases.put("GET /health HTTP/2.0\r\n", 505);
            cases.put(post + "Content-Length: 99999999999999999999999\r\n", 400);
            cases.put(post + "Content-Length: 4\r\nContent-Length: 5\r\n", 400);
            for (var e : cases.entrySet()) {
                assertEquals(expected(e.getValue()), statuses(e.getKey() + "\r\n").stream().map(l -> l.replace(" (not JSON)", "")).toList(),
                        Wire.show(e.getKey()));
            }
        }

        /**
         * The strict answers where request suites disagree (docs/protocol-choices.md): an HTTP/0.9 request line and an
         * RTSP or ICE version are invalid request lines (400, RFC 9112 §3); a transfer coding the server does not know
         * is 501 (RFC 9112 §6.1), as the JDK answers it.
         */
        @Test void otherProtocolsAre400AndAnUnknownTransferCodingIs501() throws Exception {
            for (String raw : List.of("GET /health\r\n\r\n", get("/health", "RTSP/1.0", "Host: t\r\n"), get("/health", "ICE/1.0", "Host: t\r\n")))
                assertEquals(expected(400), statuses(raw).stream().map(l -> l.replace(" (not JSON)", "")).toList(), Wire.show(raw));
            for (String te : List.of("gzip, chunked", "gzip"))
                assertEquals(expected(501), statuses("POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: "
                        + te + "\r\n\r\n2\r\n{}\r\n0\r\n\r\n"), te);
        }
    }

    /** The script as its users run it: ./jbang SimpleHttpServer.java ... */
    public static class Process {
        @Test void printsOneReadyLineServesAndStopsOnSigterm() throws Exception {
            try (var server = TestKit.ServerProcess.start("SimpleHttpServer.java", "-p", "0", "-m", "pool")) {
                int port = server.port();
                var r = Wire.exchange(port, "GET /index.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
                assertEquals(200, r.status(), r::toString);
                assertTrue(r.text().contains("Java network servers"), "serves the project's www/");
                assertTrue(server.output().contains("Listening on http://127.0.0.1:" + port + "/ mode=pool max-connections="), server.output());
                int code = server.terminate();
                assertEquals(1, server.output().lines().filter(l -> l.startsWith("Listening on")).count(), server.output());
                assertTrue(java.util.regex.Pattern.compile("(?m)^" + Scarce.TIMESTAMP + "127\\.0\\.0\\.1 \"GET /index.html HTTP/1.1\" 200 \\d+ pool-\\d+$")
                        .matcher(server.output()).find(), "access log line, starting with a timestamp: " + server.output());
                assertTrue(server.output().contains("Stopped after"), "a clean stop says so (exit " + code + "): " + server.output());
                assertEquals(143, code, "killed by SIGTERM, after the shutdown hook ran");
            }
        }

        @Test void aTakenPortIsOneErrorLineAndExitCode1() throws Exception {
            try (var first = startInProcess("-p", "0", "-q");
                 var second = TestKit.ServerProcess.start("SimpleHttpServer.java", "-p", String.valueOf(first.port()))) {
                assertEquals(1, second.waitFor(Duration.ofSeconds(120)), second.output());
                String last = second.output().strip().lines().reduce((a, b) -> b).orElse("");
                assertTrue(last.startsWith("Error: cannot listen on 127.0.0.1:" + first.port()), second.output());
                assertTrue(last.contains("-p 0"), "the hint says how to get a free port: " + last);
            }
        }

        @Test void aBadOptionIsOneErrorLineAndExitCode2() throws Exception {
            try (var p = TestKit.ServerProcess.start("SimpleHttpServer.java", "-m", "turbo")) {
                assertEquals(2, p.waitFor(Duration.ofSeconds(120)), p.output());
                String last = p.output().strip().lines().reduce((a, b) -> b).orElse("");
                assertTrue(last.startsWith("Error: ") && last.contains("turbo") && last.contains("single, pool, virtual"), p.output());
            }
            try (var p = TestKit.ServerProcess.start("SimpleHttpServer.java", "--root", "no-such-dir")) {
                assertEquals(2, p.waitFor(Duration.ofSeconds(120)), p.output());
                assertTrue(p.output().strip().endsWith("(run from the project folder, or pass --root)"), p.output());
            }
        }

        @Test void helpListsEveryOptionWithDefaultsAndEveryModeWithItsTradeOff() throws Exception {
            try (var p = TestKit.ServerProcess.start("SimpleHttpServer.java", "--help")) {
                assertEquals(0, p.waitFor(Duration.ofSeconds(120)), p.output());
                for (String s : List.of("--port", "--bind", "--mode", "--workers", "--root", "--directory", "--backlog",
                        "--max-body", "--quiet", "single, pool, virtual", "Default: 8000", "Default: 4096")) {
                    assertTrue(p.output().contains(s), "--help mentions " + s + ":\n" + p.output());
                }
                // The lesson of each mode, one line each, under the Modes heading (not just the name in the option list).
                Scarce.assertEachModeHasItsTradeOffLine(p.output(), SimpleHttpServer.Mode.values().length, List.of(
                        "  single   the JDK's dispatcher thread runs every handler: no threads to manage, but one slow request stalls everyone",
                        "  pool     an exchange pool: -w platform threads run the handlers; slow requests stall others only when all are busy",
                        "  virtual  a virtual thread per exchange: blocking is cheap, so a slow request stalls nobody"));
            }
        }

        @Test void quietHidesTheAccessLogButNeverAFailure(@TempDir Path root) throws Exception {
            Files.write(root.resolve("big.bin"), new byte[SimpleHttpServer.MAX_BUFFERED_FILE + 1]); // streamed
            try (var server = TestKit.ServerProcess.start("SimpleHttpServer.java", "-p", "0", "-q", "--root", root.toString())) {
                try (var c = new Wire(server.port())) {
                    c.send("GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
                    c.readUntil("\r\n\r\n"); // the head has come: the body is on its way
                    c.socket.setSoLinger(true, 0); // then the client resets the connection
                }
                server.awaitOutput(" failed: ", Duration.ofSeconds(20));
                assertTrue(java.util.regex.Pattern.compile("(?m)^" + Scarce.TIMESTAMP + "\\S+ connection from /127\\.0\\.0\\.1:\\d+ failed: ")
                        .matcher(server.output()).find(), server.output());
                assertFalse(server.output().contains("GET /big.bin"), "-q shows no access log: " + server.output());
            }
        }

        @Test void aPortInUseFailsToStartInEveryMode() throws Exception {
            try (var first = startInProcess("-p", "0", "-q")) {
                for (var mode : SimpleHttpServer.Mode.values()) {
                    var e = assertThrows(SimpleHttpServer.StartupError.class,
                            () -> startInProcess("-p", String.valueOf(first.port()), "-q", "-m", mode.name()), mode.name());
                    assertEquals(1, e.exitCode, e.getMessage());
                }
            }
        }

        /** The open-files limit the server runs under: its JVM needs about 30 of them before the first connection. */
        static final int OPEN_FILES = 128;

        @ParameterizedTest @EnumSource(SimpleHttpServer.Mode.class)
        void outOfFileDescriptorsTheJdkClosesConnectionsBeyondTheCapNeitherSpinsNorLogsAndServesTheOpenOnes(SimpleHttpServer.Mode mode) throws Exception {
            var health = new Scarce.Talk() {
                @Override public void hello(Wire c) {}

                @Override public void roundTrip(Wire c) throws IOException {
                    c.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
                    assertEquals(200, c.readResponse().status());
                }
            };
            try (var server = Scarce.start(OPEN_FILES, "SimpleHttpServer.java", "-p", "0", "-q", "-m", mode.name())) {
                server.runOutOfFileDescriptors(OPEN_FILES + 20, health, flood -> {
                    // The newest connection is beyond the cap: the JDK closes it without an answer.
                    try {
                        assertTrue(flood.getLast().closedByPeer(Duration.ofSeconds(20)), "a connection beyond the cap is closed");
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                var m = java.util.regex.Pattern.compile("max-connections=(\\d+)").matcher(server.stdout());
                assertTrue(m.find(), server.stdout());
                assertTrue(Integer.parseInt(m.group(1)) < OPEN_FILES / 2, "the cap leaves room for files: " + server.stdout());
                assertEquals("", server.stderr().lines().filter(l -> !l.startsWith("[jbang]")).collect(java.util.stream.Collectors.joining("\n")));
            }
        }

        /**
         * virtual mode flooded right after start-up, before any exchange: the JDK's cap closes what is beyond it, the
         * poller virtual threads wait on was started before the ready line, and keep-alive clients afterwards get
         * their second request answered; nothing is logged.
         */
        @Test void virtualModeFloodedRightAfterStartUpKeepsServingKeepAliveClients() throws Exception {
            var health = new Scarce.Talk() {
                @Override public void hello(Wire c) {}

                @Override public void roundTrip(Wire c) throws IOException {
                    c.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
                    assertEquals(200, c.readResponse().status());
                }
            };
            try (var server = Scarce.start(OPEN_FILES, "SimpleHttpServer.java", "-p", "0", "-q", "-m", "virtual")) {
                server.floodAtStartUp(OPEN_FILES + 100, 3, health, flood -> {
                    try {
                        assertTrue(flood.getLast().closedByPeer(Duration.ofSeconds(20)), "a connection beyond the cap is closed");
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                assertEquals("", server.stderr().lines().filter(l -> !l.startsWith("[jbang]")).collect(java.util.stream.Collectors.joining("\n")));
            }
        }
    }

    /**
     * What the pool and the JDK server's limits teach, asserted as the order of events they cause. The limits are
     * system properties the JDK reads once per JVM, so the two timed ones (request time, idle) get a process of their
     * own with a short value; the others run in this JVM with the values SimpleHttpServer sets.
     */
    public static class Lessons {
        static String health() { return "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"; }

        /** Handler threads of an in-process pool server that are inside /io's sleep right now. */
        static long poolWorkersInsideIo() {
            return Thread.getAllStackTraces().entrySet().stream().filter(e -> e.getKey().getName().startsWith("pool-")
                    && Arrays.stream(e.getValue()).anyMatch(f -> f.getMethodName().equals("io") && f.getClassName().endsWith("App"))).count();
        }

        @Test void poolARequestWaitsWhileEveryWorkerIsBusyAndIsAnsweredOnlyAfterOneIsFree() throws Exception {
            try (var running = startInProcess("-p", "0", "-q", "-m", "pool", "-w", "2")) {
                int port = running.port();
                try (var slow1 = new Wire(port); var slow2 = new Wire(port); var quick = new Wire(port)) {
                    for (var c : List.of(slow1, slow2)) c.send("GET /io?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n");
                    // Both workers are inside /io (their stacks say so): a condition the server brings about.
                    while (poolWorkersInsideIo() < 2) {
                        if (Thread.interrupted()) throw new InterruptedException("the two /io requests never both ran");
                        Thread.onSpinWait();
                    }
                    quick.send(health());
                    assertEquals(200, quick.readResponse().status());
                    // Nothing read the slow answers before the quick one came: bytes waiting in a slow socket now are
                    // the server's order.
                    assertTrue(slow1.socket.getInputStream().available() > 0 || slow2.socket.getInputStream().available() > 0,
                            "the quick request was answered only after a worker finished its /io");
                    for (var c : List.of(slow1, slow2)) assertEquals(200, c.readResponse().status());
                }
            }
        }

        /**
         * close() (what Ctrl-C runs) stops accepting and lets an exchange in flight complete: a request whose body is
         * half sent when the stop begins is answered once the client sends the rest, and close() returns after that.
         * The order of events the test itself brings about, in every mode.
         */
        @ParameterizedTest @EnumSource(SimpleHttpServer.Mode.class)
        void aStopLetsTheExchangeInFlightComplete(SimpleHttpServer.Mode mode) throws Exception {
            try (var running = startInProcess("-p", "0", "-q", "-m", mode.name()); var c = new Wire(running.port())) {
                // The handler has read the half body (the kernel's table says so): the exchange is in flight.
                c.sendAndAwaitRead("POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\ntr");
                var stopper = Thread.ofVirtual().start(running::close);
                // The stop has begun and waits (its thread in a timed wait, the JDK's grace): in single mode even the
                // listener's close waits for the dispatcher, the very thread that runs our handler, so no probe tells.
                while (stopper.getState() != Thread.State.TIMED_WAITING) {
                    assertTrue(stopper.isAlive(), "the stop returned while an exchange was in flight");
                    Thread.onSpinWait();
                }
                c.send("ue");
                var r = c.readResponse();   // sent after the stop began: the exchange completed during it
                assertEquals(200, r.status(), r.toString());
                assertEquals("{\"received\":true}", r.text());
                assertTrue(stopper.join(Duration.ofSeconds(60)), "the stop returned once the exchange was done");
            }
        }

        /**
         * SimpleHttpServer as a process with these JDK server properties (-D before the script, as the header says).
         * The JDK looks for idle connections every clockTick ms (10 s unless set): every 200 ms here, so that a test of
         * its idle limit waits for the limit, not for the next look.
         */
        static TestKit.ServerProcess withProperties(String... properties) throws Exception {
            var args = new ArrayList<>(List.of("-Dsun.net.httpserver.clockTick=200"));
            args.addAll(List.of(properties));
            args.addAll(List.of("SimpleHttpServer.java", "-p", "0", "-q"));
            return TestKit.ServerProcess.start(args.toArray(String[]::new));
        }

        /** One byte, -1 at the end of the stream, or null if nothing came within the wait (the connection is open). */
        static Integer readWithin(Wire c, Duration wait) throws IOException {
            c.setReadTimeout(wait);
            try {
                return c.read();
            } catch (java.net.SocketTimeoutException nothingYet) {
                return null;
            } catch (java.net.SocketException reset) {
                return -1;
            }
        }

        @Test void aRequestHeadStillArrivingAfterTheRequestTimeIsCutOffWithoutAnAnswer() throws Exception {
            // Request time 1 s, idle time left at 30 s: this client keeps sending, so only the request time can end it.
            try (var server = withProperties("-Dsun.net.httpserver.maxReqTime=1")) {
                int port = server.port();
                boolean closed = false;
                int lines = 0;
                try (var c = new Wire(port)) {
                    c.send("GET /health HTTP/1.1\r\nHost: x\r\n");
                    // The client's behaviour: a header line every 200 ms, a head that never ends (fewer lines than the
                    // header-count limit allows).
                    for (; lines < 60 && !closed; lines++) {
                        Integer b = readWithin(c, Duration.ofMillis(200));
                        if (b != null) {
                            assertEquals(-1, b, "no answer to a head that has not ended");
                            closed = true;
                        } else {
                            try {
                                c.send("X-Slow-" + lines + ": 1\r\n");
                            } catch (IOException reset) {
                                closed = true;
                            }
                        }
                    }
                }
                assertTrue(closed, "the server cut off a head still arriving after " + lines + " header lines");
                assertEquals(200, Wire.exchange(port, health()).status(), "and serves the next client");
            }
        }

        @Test void anIdleKeepAliveConnectionIsClosedWhileABusyOneGoesOnBeingServed() throws Exception {
            try (var server = withProperties("-Dsun.net.httpserver.idleInterval=2")) {
                int port = server.port();
                try (var quiet = new Wire(port); var busy = new Wire(port)) {
                    quiet.send(health());
                    assertEquals(200, quiet.readResponse().status());
                    var events = new ArrayList<String>();
                    // The busy client asks every 200 ms; the quiet one says nothing after its first answer.
                    for (int i = 0; i < 75 && events.isEmpty(); i++) {
                        busy.send(health());
                        assertEquals(200, busy.readResponse().status(), "the busy connection is never idle");
                        Integer b = readWithin(quiet, Duration.ofMillis(200));
                        if (b != null) {
                            assertEquals(-1, b, "nothing but a close on the quiet connection");
                            events.add("quiet closed");
                        }
                    }
                    busy.send(health());
                    events.add("busy " + busy.readResponse().status());
                    assertEquals(List.of("quiet closed", "busy 200"), events, "the idle limit closed only the idle connection");
                }
            }
        }

        @Test void aRequestWithMoreHeaderFieldsThanTheLimitIsClosedWithoutAnAnswerAndOneAtTheLimitIsServed() throws Exception {
            try (var running = startInProcess("-p", "0", "-q")) {
                int port = running.port();
                int limit = Integer.parseInt(System.getProperty("sun.net.httpserver.maxReqHeaders"));
                java.util.function.IntFunction<String> withFields = n -> "GET /health HTTP/1.1\r\nHost: x\r\n"
                        + java.util.stream.IntStream.range(1, n).mapToObj(i -> "X-F" + i + ": v\r\n").collect(java.util.stream.Collectors.joining()) + "\r\n";
                assertEquals(200, Wire.exchange(port, withFields.apply(limit)).status(), limit + " fields are served");
                try (var c = new Wire(port)) {
                    c.send(withFields.apply(limit + 1));
                    byte[] answer;
                    try {
                        answer = c.readToEnd();
                    } catch (java.net.SocketException reset) {
                        answer = new byte[0];
                    }
                    assertEquals("", Wire.show(answer), (limit + 1) + " fields: the JDK closes without an answer");
                }
                assertEquals(200, Wire.exchange(port, health()).status(), "and serves the next client");
            }
        }

        @Test void anUnreadBodyIsDrainedSoTheConnectionGoesOnButOneBeyondTheDrainLimitEndsIt() throws Exception {
            try (var running = startInProcess("-p", "0", "-q", "--max-body", "1024")) {
                int port = running.port();
                int drain = Integer.parseInt(System.getProperty("sun.net.httpserver.drainAmount"));
                String post = "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ";
                // 1 MiB, within the drain limit: 413, the body is read and thrown away, and the connection serves on.
                try (var c = new Wire(port)) {
                    int size = 1 << 20;
                    var writer = Thread.ofVirtual().start(() -> {
                        try {
                            c.send(post + size + "\r\n\r\n");
                            c.send(new byte[size]);
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    });
                    assertEquals(413, c.readResponse().status());
                    writer.join();
                    c.send(health());
                    assertEquals(200, c.readResponse().status(), "the drained connection answers its next request");
                }
                // Beyond the drain limit: 413, then the connection ends (a close, or a reset once the writer goes on).
                try (var c = new Wire(port)) {
                    long size = drain + (1L << 20);
                    var writer = Thread.ofVirtual().start(() -> {
                        try {
                            c.send(post + size + "\r\n\r\n");
                            byte[] chunk = new byte[64 * 1024];
                            for (long sent = 0; sent < size; sent += chunk.length) c.send(chunk);
                        } catch (IOException expected) {
                            // the server closed the connection once it had drained what it would
                        }
                    });
                    assertEquals(413, c.readResponse().status());
                    writer.join();
                    assertEquals(-1, readWithin(c, Duration.ofSeconds(20)), "the connection ended after the drain limit");
                }
                assertEquals(200, Wire.exchange(port, health()).status(), "and the server serves the next client");
            }
        }
    }

    // ---------------------------------------------------------------- added by the http helper (issues 24, 25)

    /**
     * Where SimpleHttpServer and ThreadedHttpServer follow one policy (the `authority` twin): a Host field may be
     * empty, but a non-empty one needs a host; `:80` alone is 400 in both servers.
     */
    public static class OnePolicyWithThreaded {
        @Test void aHostWithAPortButNoHostIs400AndAnEmptyHostIsServed() throws Exception {
            try (var server = startInProcess("-p", "0", "-q")) {
                for (String host : List.of(":80", ":"))
                    assertEquals(400, Wire.exchange(server.port(), "GET /health HTTP/1.1\r\nHost: " + host + "\r\n\r\n").status(), "Host: " + host);
                assertEquals(200, Wire.exchange(server.port(), "GET /health HTTP/1.1\r\nHost: \r\n\r\n").status(), "an empty Host");
            }
        }

        @Test void aBadBindAddressIsOneErrorLineAndExit2() throws Exception {
            var server = new SimpleHttpServer();
            var cli = new picocli.CommandLine(server);
            cli.parseArgs("-p", "0", "-b", "no.such.host.invalid");
            var e = assertThrows(SimpleHttpServer.StartupError.class, server::start);
            assertEquals(2, e.exitCode);
            assertEquals("unknown bind address: no.such.host.invalid (use an IP such as 127.0.0.1 or 0.0.0.0)", e.getMessage());
        }
    }
}
