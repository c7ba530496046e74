///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//SOURCES TestKit.java
//SOURCES Scarce.java
//SOURCES ../EchoServer.java
//SOURCES ../EchoClient.java
//SOURCES ../compare/IdleClient.java
//DESCRIPTION Tests of EchoServer (every mode) and EchoClient (both modes): echo, back-pressure, broken servers, leaks, CLI.

// Every server mode gets the same conversations over real sockets on 127.0.0.1: many concurrent clients whose
// payloads are split across writes and reads, a slow reader, 10,000 connections from EchoClient with file
// descriptors and threads counted before and after. EchoClient is run against deliberately broken echo servers
// and must count each fault by its kind. The C epoll client and server of the benchmark (compare/c/, built with gcc)
// check the Java server and client from the outside. The command lines are run as real processes.
// Needs: gcc prlimit

import com.sun.management.HotSpotDiagnosticMXBean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

public class EchoServerTest {
    public static void main(String[] args) { TestKit.run("EchoServerTest", EchoServerTest.class); }

    // ---------------------------------------------------------------- idle connections (the C10K question)

    /**
     * 2,000 connections, each echoed once and then idle, are all echoed again: a connection's buffer shrinks while it
     * waits (the nio loop lends one), and no byte of one connection may land in another's.
     */
    @ParameterizedTest @EnumSource(EchoServer.Mode.class)
    void twoThousandIdleConnectionsAreAllEchoedAgain(EchoServer.Mode mode) throws Exception {
        int idle = 2_000;
        try (var server = server(mode); var held = IdleClient.open(new IdleClient.Config(
                new InetSocketAddress("127.0.0.1", server.port()), idle, IdleClient.Protocol.echo, 50 + mode.ordinal(), Duration.ofSeconds(60)))) {
            assertEquals(idle, held.size(), "connections opened, each echoed once");
            assertEquals(idle, held.requestEach(), "a second echo on each idle connection");
            assertEquals(idle, server.counters().open(), "connections the server holds open");
        }
    }

    // ---------------------------------------------------------------- every mode echoes

    @ParameterizedTest @EnumSource(EchoServer.Mode.class)
    void echoesALineBackByteForByteAndClosesWhenTheClientDoes(EchoServer.Mode mode) throws Exception {
        try (var server = server(mode); var c = new Wire(server.port())) {
            String sent = """
                    hello, echo\r
                    \u00e9\u00ff\u0000\r
                    """;
            c.send(sent);
            String back = new String(c.readExactly(sent.length()), StandardCharsets.ISO_8859_1);
            assertEquals(Wire.show(sent), Wire.show(back), "sent " + Wire.show(sent));
            c.shutdownOutput();
            assertTrue(c.closedByPeer(Duration.ofSeconds(5)), "the server did not close after the client's FIN");
        }
    }

    @ParameterizedTest @EnumSource(EchoServer.Mode.class)
    void echoesManyConcurrentClientsWhosePayloadsAreSplitAcrossWritesAndReads(EchoServer.Mode mode) throws Exception {
        int[] pieces = {1, 2, 3, 100, 1, 1_000, 4_093, 7, 9_000, 16_384, 5};
        try (var server = server(mode)) {
            List<String> problems = Wire.concurrently(200, () -> {
                byte[] payload = random(Arrays.stream(pieces).sum());
                try (var c = new Wire(server.port())) {
                    int at = 0;
                    for (int piece : pieces) {
                        c.send(Arrays.copyOfRange(payload, at, at + piece));
                        // Read the piece back in two reads of different sizes from the writes.
                        byte[] back = concat(c.readExactly(piece / 2), c.readExactly(piece - piece / 2));
                        if (!Arrays.equals(back, 0, piece, payload, at, at + piece)) {
                            return "bytes %d..%d: sent %s, got back %s".formatted(at, at + piece,
                                    Wire.show(Arrays.copyOfRange(payload, at, at + piece)), Wire.show(back));
                        }
                        at += piece;
                    }
                    return null;
                }
            }).stream().filter(p -> p != null).toList();
            assertEquals(List.of(), problems, mode + " corrupted some echoes");
            assertEquals(200, server.counters().accepted());
        }
    }

    /**
     * The causal fact, counted: what the server has read from a client and not yet handed back to the kernel (the bytes
     * written, less those still queued in the kernel on either end of the connection, less those the client read back)
     * stays within the server's own buffers, when the client first cannot write more and once it has written all. A
     * server that buffers without bound holds megabytes there, however quickly or slowly it does so. The client reads
     * only when it cannot write, a little at a time, and checks every byte.
     */
    @ParameterizedTest @EnumSource(EchoServer.Mode.class)
    void aSlowReaderGetsEveryByteWhileTheServerStopsReadingInsteadOfBuffering(EchoServer.Mode mode) throws Exception {
        // The most a server may hold: nio reads up to 64 KiB at a time into a buffer and keeps it until written.
        long total = 16L << 20, bound = 128 * 1024;
        try (var server = server(mode); var ch = SocketChannel.open(); var selector = Selector.open()) {
            ch.setOption(java.net.StandardSocketOptions.SO_RCVBUF, 64 * 1024);
            ch.setOption(java.net.StandardSocketOptions.SO_SNDBUF, 64 * 1024);
            ch.connect(new InetSocketAddress("127.0.0.1", server.port()));
            ch.configureBlocking(false);
            ch.register(selector, SelectionKey.OP_READ);
            int serverPort = server.port(), clientPort = ch.socket().getLocalPort();
            var chunk = fillPattern(ByteBuffer.allocate(64 * 1024), 0).flip();
            var in = ByteBuffer.allocate(256 * 1024);
            var expected = ByteBuffer.allocate(in.capacity());
            long written = 0, read = 0, checks = 0;
            while (read < total) {
                if (written < total) {
                    if (!chunk.hasRemaining()) fillPattern(chunk.clear(), written).flip().limit((int) Math.min(chunk.capacity(), total - written));
                    int n = ch.write(chunk);
                    written += n;
                    if (n > 0) continue;
                }
                // The client cannot write more (the first time), or has just written all: count what the server
                // holds. Then read a little.
                if (checks == 0 || (written == total && checks == 1)) {
                    long held = heldByServer(written, read, serverPort, clientPort);
                    assertTrue(held <= bound, mode + " holds " + held + " bytes it read and did not echo (at most " + bound
                            + " expected) after " + written + " written, " + read + " read back: it buffers without bound");
                    checks++;
                }
                selector.select();
                selector.selectedKeys().clear();
                int n = ch.read(in.clear());
                assertTrue(n >= 0, "the server closed after echoing " + read + " of " + written + " bytes");
                fillPattern(expected.clear().limit(n), read);
                int at = Arrays.mismatch(in.array(), 0, n, expected.array(), 0, n);
                assertEquals(-1, at, "byte " + (read + at) + " differs");
                read += n;
            }
            assertEquals(2, checks, "counted when the client was first held back and once all was written");
        }
    }

    /**
     * Bytes the server has read and not handed back to the kernel: written, less the client's send queue and the
     * server's receive queue (not read by it yet), less the server's send queue and the client's receive queue (echoed,
     * on their way back), less what the client read. Taken when two readings of the kernel's table agree.
     */
    static long heldByServer(long written, long read, int serverPort, int clientPort) {
        long previous = -1;
        for (int i = 0; i < 1000; i++) {
            var c = Wire.tcpConnection(serverPort, clientPort);
            var client = c.client();
            var server = c.server();
            assertTrue(client != null && server != null, "the connection is gone: " + c);
            long held = written - read - client.sendQueue() - client.receiveQueue() - server.receiveQueue() - server.sendQueue();
            if (held == previous) return held;
            previous = held;
        }
        return previous;
    }

    // ---------------------------------------------------------------- EchoClient against every mode, and leaks

    @ParameterizedTest @EnumSource(EchoServer.Mode.class)
    void leaksNoFileDescriptorOrThreadAfter10000Connections(EchoServer.Mode mode) throws Exception {
        // Warm up first: pools, pollers, classes and libraries loaded once, on first use, are not leaks (the
        // first thread dump itself opens a file descriptor for good).
        try (var server = server(mode)) {
            assertEquals(0, client(server.port(), "-n", "500").failed());
        }
        int threadsBefore = liveThreads();
        long fdsBefore = openFileDescriptors();
        try (var server = server(mode)) {
            var report = client(server.port(), "-n", "10000", "-c", "2000");
            assertEquals(0, report.failed(), report.text());
            assertEquals(10_000, report.ok());
            assertEquals(10_000, server.counters().accepted());
        }
        long fdsAfter = openFileDescriptors();
        int threadsAfter = liveThreads();
        // A thread that has finished its task may take a moment to terminate: wait (bounded) until it has.
        for (long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
             threadsAfter > threadsBefore && System.nanoTime() < deadline; threadsAfter = liveThreads()) {
            Thread.onSpinWait();
        }
        assertEquals(fdsBefore, fdsAfter, "open file descriptors before and after 10,000 connections");
        assertTrue(threadsAfter <= threadsBefore, "live threads: " + threadsBefore + " before, " + threadsAfter + " after");
    }

    static Stream<Arguments> everyServerModeWithEveryClientMode() {
        return Arrays.stream(EchoServer.Mode.values())
                .flatMap(s -> Arrays.stream(EchoClient.Mode.values()).map(c -> Arguments.of(s, c)));
    }

    @ParameterizedTest @MethodSource("everyServerModeWithEveryClientMode")
    void echoClientVerifiesLargerPayloadsInBothModes(EchoServer.Mode serverMode, EchoClient.Mode clientMode) throws Exception {
        try (var server = server(serverMode)) {
            var report = client(server.port(), "-n", "300", "-s", "300000", "-c", "50", "-m", clientMode.name());
            assertEquals(0, report.failed(), report.text());
            // The server counts a connection's bytes when it sees the client's close: let it see every one.
            server.shutdown(Duration.ofSeconds(10));
            assertEquals(300L * 300_000, server.counters().bytesEchoed());
            assertEquals(0, server.counters().open());
        }
    }

    // ---------------------------------------------------------------- EchoClient against broken servers

    /** How a deliberately broken echo server answers a 100-byte payload. */
    enum Broken { FLIPS_A_BYTE, DROPS_THE_TAIL, NEVER_ANSWERS, RESETS }

    static Stream<Arguments> brokenServersAndWhatTheClientMustCount() {
        var expected = Map.of(Broken.FLIPS_A_BYTE, "mismatch", Broken.DROPS_THE_TAIL, "short read",
                Broken.NEVER_ANSWERS, "read timeout", Broken.RESETS, "reset");
        return Arrays.stream(Broken.values())
                .flatMap(b -> Arrays.stream(EchoClient.Mode.values()).map(m -> Arguments.of(b, m, expected.get(b))));
    }

    @ParameterizedTest @MethodSource("brokenServersAndWhatTheClientMustCount")
    void echoClientCountsEveryFaultOfABrokenServerByItsKind(Broken how, EchoClient.Mode mode, String kind) throws Exception {
        try (var broken = new BrokenEchoServer(how)) {
            // Each fault's kind must not depend on the machine's speed. The server that never answers cannot be
            // anything but a read timeout, however short the wait (the connect itself completes in the kernel). The
            // others always answer or close, so their wait is long enough never to run out first on a slow machine.
            String timeoutMs = how == Broken.NEVER_ANSWERS ? "500" : "60000";
            var report = client(broken.port(), "-n", "40", "-s", "100", "--timeout", timeoutMs, "-m", mode.name());
            assertEquals(40, report.failed(), report.text());
            assertEquals(Map.of(kind, 40L), report.failures(), report.text());
            assertTrue(report.text().contains("failed: 40 of 40 (" + kind + " 40)"), report.text());
        }
    }

    @ParameterizedTest @EnumSource(EchoClient.Mode.class)
    void echoClientCountsRefusedConnectionsAndSaysWhy(EchoClient.Mode mode) throws Exception {
        int port;
        try (var s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        var report = client(port, "-n", "20", "-m", mode.name());
        assertEquals(Map.of("refused", 20L), report.failures(), report.text());
        assertTrue(report.text().contains("hint: refused: nothing listens on that port"), report.text());
    }

    @Test
    void echoClientExitsNonZeroAndPrintsTheFaultWhenAServerCorruptsData() throws Exception {
        try (var broken = new BrokenEchoServer(Broken.FLIPS_A_BYTE)) {
            var r = launch("EchoClient.java", "-p", String.valueOf(broken.port()), "-n", "20");
            assertEquals(1, r.code(), r.out());
            assertTrue(r.out().contains("Java: 20 clients, total time = "), r.out());
            assertTrue(r.out().contains("failed: 20 of 20 (mismatch 20)"), r.out());
            assertTrue(r.out().matches("(?s).*mismatch, e\\.g\\.: byte 50 of 100: sent 0x\\p{XDigit}{2}, got back 0x\\p{XDigit}{2}.*"), r.out());
        }
    }

    @Test
    void echoClientPrintsTheResultLinePercentilesAndJson() throws Exception {
        try (var server = server(EchoServer.Mode.virtual)) {
            var text = launch("EchoClient.java", "-p", String.valueOf(server.port()), "-n", "300");
            assertEquals(0, text.code(), text.out());
            assertTrue(Pattern.compile("(?m)^Java: 300 clients, total time = \\d+\\.\\d ms, avg latency = \\d+\\.\\d µs$")
                    .matcher(text.out()).find(), text.out());
            assertTrue(Pattern.compile("(?m)^latency \\(connect to verified echo\\): p50 = \\d+ µs, p90 = \\d+ µs, "
                    + "p99 = \\d+ µs, max = \\d+ µs$").matcher(text.out()).find(), text.out());
            assertTrue(text.out().contains("failed: 0 of 300"), text.out());

            var json = launch("EchoClient.java", "-p", String.valueOf(server.port()), "-n", "200", "-m", "nio", "--json", "-q");
            assertEquals(0, json.code(), json.out());
            JsonNode j = JsonMapper.builder().build().readTree(json.out().lines().filter(l -> l.startsWith("{")).findFirst().orElseThrow());
            assertEquals(200, j.get("connections").asInt(), json.out());
            assertEquals(0, j.get("failed").asInt(), json.out());
            assertTrue(j.get("latencyUs").get("p99").asDouble() > 0, json.out());
            assertTrue(j.get("totalMs").asDouble() > 0, json.out());
        }
    }

    @Test
    void echoClientWarmsUpWithAsManyConnectionsInFlightAsItMeasures() throws Exception {
        try (var server = server(EchoServer.Mode.virtual)) {
            String port = String.valueOf(server.port());
            var all = launch("EchoClient.java", "-p", port, "-n", "2500");   // all 2,500 at once: so is the warm-up
            assertEquals(0, all.code(), all.out());
            assertTrue(all.out().contains("warm-up round 1: 2500 connections, 0 failed"), all.out());
            var few = launch("EchoClient.java", "-p", port, "-n", "2500", "-c", "10");   // 10 at once: 2,000 suffice
            assertEquals(0, few.code(), few.out());
            assertTrue(few.out().contains("warm-up round 1: 2000 connections, 0 failed"), few.out());
            var none = launch("EchoClient.java", "-p", port, "-n", "50", "--warmup", "0");
            assertEquals(0, none.code(), none.out());
            assertFalse(none.out().contains("warm-up"), none.out());
        }
    }

    @Test
    void echoClientRefusesToStartWhenTheOpenFilesLimitIsBelowItsConcurrency() throws Exception {
        var r = launchWithShell("ulimit -n 300 && exec ./jbang EchoClient.java -n 1000 -p 9");
        assertEquals(1, r.code(), r.out());
        var errors = r.out().lines().filter(l -> l.startsWith("Error:")).toList();
        assertEquals(1, errors.size(), r.out());
        assertTrue(errors.getFirst().startsWith("Error: open files limit too low: 300 for 1000 connections at once"), r.out());
        assertTrue(errors.getFirst().contains("ulimit -n"), r.out());
    }

    @Test
    void echoClientRejectsABadFlagValueWithOneErrorLineAndExit2() throws Exception {
        var r = launch("EchoClient.java", "-n", "0");
        assertEquals(2, r.code(), r.out());
        assertEquals(List.of("Error: connections must be at least 1: 0 (see --help)"),
                r.out().lines().filter(l -> !l.startsWith("[jbang]") && !l.startsWith("[launcher]")).toList(), r.out());
    }

    // ---------------------------------------------------------------- EchoServer as a real process

    @ParameterizedTest @EnumSource(EchoServer.Mode.class)
    void theServerProcessPrintsTheReadyLineLogsEachConnectionAndItsCountersOnSigterm(EchoServer.Mode mode) throws Exception {
        try (var p = TestKit.ServerProcess.start("EchoServer.java", "-p", "0", "-m", mode.name())) {
            int port = p.port();
            assertTrue(p.output().contains("Listening on tcp://127.0.0.1:" + port + " mode=" + mode + "\n"), p.output());
            try (var c = new Wire(port)) {
                c.send("ping\r\n");
                assertEquals("ping\r\n", c.readUntil("\r\n"));
            }
            p.terminate();
            String threadName = switch (mode) {
                case thread -> "conn-\\d+";
                case nio -> "nio-loop";
                case async -> "async-\\d+";
                case virtual -> "vt-\\d+";
            };
            // The access log line starts with a timestamp (UTC, milliseconds).
            assertTrue(Pattern.compile("(?m)^" + Scarce.TIMESTAMP + threadName
                            + " #1 127\\.0\\.0\\.1:\\d+ closed, 6 bytes echoed$")
                    .matcher(p.output()).find(), p.output());
            assertTrue(p.output().contains("Connections: 1 accepted, 1 closed (0 failed), 0 open; 6 bytes echoed"), p.output());
        }
    }

    @Test
    void helpShowsEveryModeWithItsTradeOffAndTheDefaults() throws Exception {
        var r = launch("EchoServer.java", "--help");
        assertEquals(0, r.code(), r.out());
        for (String s : List.of("thread, nio, async, virtual", "Default: virtual", "Default: 8080", "Default: 4096", "--quiet"))
            assertTrue(r.out().contains(s), "missing '" + s + "' in:\n" + r.out());
        // The lesson of each mode, one line each, under the Modes heading (not just the name in the option list).
        Scarce.assertEachModeHasItsTradeOffLine(r.out(), EchoServer.Mode.values().length, List.of(
                "  thread   a platform thread per connection: plain blocking code, but a kernel thread and a stack each",
                "  nio      one Selector loop on one thread: no thread per connection, but one core, and nothing may block it",
                "  async    NIO.2 completion handlers on -w threads: nobody waits on a socket, but the code is a chain of callbacks",
                "  virtual  a virtual thread per connection: the thread code unchanged, at near event-loop cost"));
    }

    @Test
    void aBadModeIsOneErrorLineAndExit2() throws Exception {
        var r = launch("EchoServer.java", "-m", "fork");
        assertEquals(2, r.code(), r.out());
        var lines = r.out().lines().filter(l -> !l.startsWith("[jbang]") && !l.startsWith("[launcher]")).toList();
        assertEquals(1, lines.size(), r.out());
        assertTrue(lines.getFirst().startsWith("Error: ") && lines.getFirst().contains("fork"), r.out());
    }

    @ParameterizedTest @EnumSource(EchoServer.Mode.class)
    void aPortInUseFailsToStartInEveryMode(EchoServer.Mode mode) throws Exception {
        try (var taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            var s = new EchoServer();
            new CommandLine(s).parseArgs("-p", String.valueOf(taken.getLocalPort()), "-q", "-m", mode.name());
            assertThrows(java.net.BindException.class, s::start, mode + " started on a port that is in use");
        }
    }

    @Test
    void aPortInUseIsOneErrorLineAndExit1() throws Exception {
        try (var taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            var r = launch("EchoServer.java", "-p", String.valueOf(taken.getLocalPort()));
            assertEquals(1, r.code(), r.out());
            var lines = r.out().lines().filter(l -> !l.startsWith("[jbang]") && !l.startsWith("[launcher]")).toList();
            assertEquals(1, lines.size(), r.out());
            assertTrue(lines.getFirst().startsWith("Error: cannot listen on 127.0.0.1:" + taken.getLocalPort()), r.out());
        }
    }

    // ---------------------------------------------------------------- the lessons, a reset, a shutdown

    /**
     * Each model's lesson as events and as the threads its log names. A client that writes and never reads (the
     * server stops reading it once its echo cannot be written) holds back no other connection, in every model, nio's
     * one thread included. The line logged for each finished connection names the thread that served it: a platform
     * thread each (conn-N), one loop for all (nio-loop), the channel group's -w threads (async-1 with -w 1), a virtual
     * thread each (vt-N). A client that resets the connection mid-echo, its echo unread, is logged once, and the
     * server serves on.
     */
    @ParameterizedTest @EnumSource(EchoServer.Mode.class)
    void eachModelServesOthersPastAStalledClientAndAResetAndNamesItsThreads(EchoServer.Mode mode) throws Exception {
        try (var server = TestKit.ServerProcess.start("EchoServer.java", "-p", "0", "-m", mode.name(), "-w", "1");
             var stalled = SocketChannel.open()) {
            int port = server.port();
            stalled.setOption(java.net.StandardSocketOptions.SO_RCVBUF, 16 * 1024);
            stalled.connect(new InetSocketAddress("127.0.0.1", port));
            stalled.configureBlocking(false);
            var chunk = ByteBuffer.allocate(64 * 1024);
            while (stalled.write(chunk.clear()) > 0) {
                // until the kernel takes no more: the chain of buffers back to this client is full, or filling
            }
            var served = new ArrayList<Integer>();
            for (int i = 0; i < 3; i++) served.add(echoOnce(port, "while one client stalls " + i));
            // Reset mid-echo: the server has begun echoing (a byte came back), the rest is unread, then RST.
            int reset;
            try (var r = new Socket("127.0.0.1", port)) {
                r.getOutputStream().write(new byte[64 * 1024]);
                r.setSoTimeout(20_000);
                assertEquals(0, r.getInputStream().read(), "the echo had begun");
                r.setSoLinger(true, 0);
                reset = r.getLocalPort();
            }
            server.awaitOutput("127.0.0.1:" + reset + " ", Duration.ofSeconds(30));
            served.add(echoOnce(port, "after the reset"));   // served on; its line comes after the reset's
            for (int p : served) server.awaitOutput("127.0.0.1:" + p + " closed", Duration.ofSeconds(30));
            String log = server.output();
            assertEquals(1, log.lines().filter(l -> l.contains("127.0.0.1:" + reset + " ")).count(), "the reset logged once:\n" + log);
            var threads = new ArrayList<String>();
            for (int p : served) {
                var m = Pattern.compile("(\\S+) #\\d+ 127\\.0\\.0\\.1:" + p + " closed").matcher(log);
                assertTrue(m.find(), "a line for the connection from port " + p + ":\n" + log);
                threads.add(m.group(1));
            }
            var distinct = threads.stream().distinct().toList();
            switch (mode) {
                case thread -> assertTrue(distinct.size() == 4 && distinct.stream().allMatch(t -> t.startsWith("conn-")), "a platform thread each: " + threads);
                case nio -> assertEquals(List.of("nio-loop"), distinct, "one loop for all: " + threads);
                case async -> assertEquals(List.of("async-1"), distinct, "the group's one thread (-w 1): " + threads);
                case virtual -> assertTrue(distinct.size() == 4 && distinct.stream().allMatch(t -> t.startsWith("vt-")), "a virtual thread each: " + threads);
            }
        }
    }

    /** Connects, echoes the text once, closes; returns the client's port (the server's log names it). */
    static int echoOnce(int port, String text) throws IOException {
        try (var c = new Wire(port)) {
            exchangeEcho(c, text);
            return c.socket.getLocalPort();
        }
    }

    /**
     * A shutdown stops accepting and lets an open connection finish: it is still echoed while the shutdown waits, and
     * the shutdown returns once its client has closed it, with nothing counted as failed.
     */
    @ParameterizedTest @EnumSource(EchoServer.Mode.class)
    void aShutdownLetsAnOpenConnectionFinish(EchoServer.Mode mode) throws Exception {
        var server = server(mode);
        int port = server.port();
        try (var open = new Wire(port)) {
            exchangeEcho(open, "before");
            var shutdown = Thread.ofVirtual().start(() -> server.shutdown(Duration.ofSeconds(120)));
            while (true) {   // until the listener is closed: a connect accepted before that closes at once
                try (var probe = new Socket("127.0.0.1", port)) {
                    Thread.sleep(10);
                } catch (java.net.ConnectException refused) {
                    break;
                }
            }
            exchangeEcho(open, "during the shutdown");
            assertTrue(shutdown.isAlive(), "the shutdown waits for the open connection");
            open.close();
            assertTrue(shutdown.join(Duration.ofSeconds(60)), "the shutdown ended once the client closed");
            var n = server.counters();
            assertEquals(0, n.open(), n.summary());
            assertEquals(0, n.failed(), n.summary());
        } finally {
            server.close();
        }
    }

    /** A connection still open when the grace is over is closed by the server, and not counted as failed. */
    @ParameterizedTest @EnumSource(EchoServer.Mode.class)
    void aShutdownClosesAConnectionStillOpenAfterTheGrace(EchoServer.Mode mode) throws Exception {
        var server = server(mode);
        try (var open = new Wire(server.port())) {
            exchangeEcho(open, "before");
            server.shutdown(Duration.ZERO);
            assertTrue(open.closedByPeer(Duration.ofSeconds(30)), "closed by the server");
            var n = server.counters();
            while (n.open() > 0) Thread.sleep(10);   // its thread counts the close just after closing; the suite's timeout bounds this
            assertEquals(1, n.accepted(), n.summary());
            assertEquals(0, n.open(), n.summary());
            assertEquals(0, n.failed(), "closed by a shutdown is not a failure: " + n.summary());
        }
    }

    static void exchangeEcho(Wire c, String text) throws IOException {
        c.send(text);
        assertEquals(text, new String(c.readExactly(text.length()), StandardCharsets.ISO_8859_1));
    }

    // ---------------------------------------------------------------- scarce resources

    /** The open-files limit the server runs under: its JVM needs about 20 of them before the first connection. */
    static final int OPEN_FILES = 128;

    static final Scarce.Talk ECHO = new Scarce.Talk() {
        @Override public void hello(Wire c) {}

        @Override public void roundTrip(Wire c) throws IOException {
            c.send("ping\n");
            assertEquals("ping\n", c.readUntil("\n"));
        }
    };

    @ParameterizedTest @EnumSource(EchoServer.Mode.class)
    void outOfFileDescriptorsItLogsOnceNeitherSpinsNorFloodsServesTheOpenConnectionAndRecovers(EchoServer.Mode mode) throws Exception {
        try (var server = Scarce.start(OPEN_FILES, "EchoServer.java", "-p", "0", "-q", "-m", mode.name())) {
            server.runOutOfFileDescriptors(OPEN_FILES + 20, ECHO, server.untilStderrSays("accept failed"));
            server.assertTheEpisodeWasLoggedOnce(OPEN_FILES);
        }
    }

    /**
     * Out of descriptors before the first client was served: virtual mode's poller was started before the ready
     * line, so keep-alive clients after the flood get their second line echoed, and the episode is one line.
     */
    @Test
    void virtualModeFloodedRightAfterStartUpKeepsServingKeepAliveClients() throws Exception {
        try (var server = Scarce.start(OPEN_FILES, "EchoServer.java", "-p", "0", "-q", "-m", "virtual")) {
            server.floodAtStartUp(OPEN_FILES + 100, 3, ECHO, server.untilStderrSays("accept failed"));
            server.assertTheEpisodeWasLoggedOnce(OPEN_FILES);
        }
    }

    // ---------------------------------------------------------------- the C epoll pair checks from the outside

    @ParameterizedTest @EnumSource(EchoServer.Mode.class)
    void theCEpollClientVerifiesEveryMode(EchoServer.Mode mode) throws Exception {
        Path client = compiled("echo_client");
        try (var server = server(mode)) {
            var r = run(List.of(client.toString(), "-p", String.valueOf(server.port()), "-n", "3000", "-c", "1000"));
            assertEquals(0, r.code(), r.out());
            assertTrue(r.out().startsWith("C: 3000 clients, total time = ") && r.out().contains("failed = 0"), r.out());
        }
    }

    @ParameterizedTest @EnumSource(EchoClient.Mode.class)
    void echoClientVerifiesTheCEpollServer(EchoClient.Mode mode) throws Exception {
        Path serverBinary = compiled("echo_server");
        var p = new ProcessBuilder(serverBinary.toString(), "-p", "0").redirectErrorStream(true).start();
        try {
            var out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            Matcher m = Pattern.compile("Listening on tcp://127\\.0\\.0\\.1:(\\d+) mode=c-epoll").matcher(String.valueOf(out.readLine()));
            assertTrue(m.find(), "no ready line from the C server");
            var report = client(Integer.parseInt(m.group(1)), "-n", "3000", "-s", "5000", "-m", mode.name());
            assertEquals(0, report.failed(), report.text());
        } finally {
            p.destroy();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    // ---------------------------------------------------------------- helpers

    static EchoServer.Running server(EchoServer.Mode mode) throws IOException {
        var s = new EchoServer();
        new CommandLine(s).parseArgs("-p", "0", "-q", "-m", mode.name());
        return s.start();
    }

    /** Runs EchoClient's engine in this JVM on its command line's options (no warm-up, no progress line) and returns its result. */
    static EchoClient.Result client(int port, String... args) throws Exception {
        var c = new EchoClient();
        var all = new ArrayList<>(List.of("-p", String.valueOf(port), "-q"));
        all.addAll(List.of(args));
        new CommandLine(c).parseArgs(all.toArray(String[]::new));
        return EchoClient.run(c.config());
    }

    record Result(int code, String out) {}

    /** `./jbang args...` from the project root, stdout and stderr together. */
    static Result launch(String... args) throws Exception {
        var cmd = new ArrayList<>(List.of(TestKit.projectRoot().resolve("jbang").toString()));
        cmd.addAll(List.of(args));
        return run(cmd);
    }

    static Result launchWithShell(String script) throws Exception { return run(List.of("bash", "-c", script)); }

    static Result run(List<String> cmd) throws Exception {
        var p = new ProcessBuilder(cmd).directory(TestKit.projectRoot().toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "still running: " + cmd);
        return new Result(p.exitValue(), out);
    }

    private static final Map<String, Path> BINARIES = new ConcurrentHashMap<>();

    /** compare/c/NAME.c built with gcc into a temporary folder, once; without gcc the test fails saying so. */
    static synchronized Path compiled(String name) throws Exception {
        assertTrue(Stream.of(System.getenv("PATH").split(":")).anyMatch(d -> Files.isExecutable(Path.of(d, "gcc"))),
                "missing prerequisite: gcc not found on PATH (tests/run installs it; or 'sudo apt-get install gcc')");
        Path done = BINARIES.get(name);
        if (done != null) return done;
        Path dir = Files.createTempDirectory("echo-c");
        dir.toFile().deleteOnExit();
        Path binary = dir.resolve(name);
        var r = run(List.of("gcc", "-O2", "-o", binary.toString(), TestKit.projectRoot().resolve("compare/c/" + name + ".c").toString()));
        assertEquals(0, r.code(), "gcc failed: " + r.out());
        binary.toFile().deleteOnExit();
        BINARIES.put(name, binary);
        return binary;
    }

    static long openFileDescriptors() throws IOException {
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    /** Platform and virtual threads alive in this JVM, counted from a thread dump. */
    static int liveThreads() throws IOException {
        Path file = Files.createTempFile("threads", ".json");
        Files.delete(file);
        ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
                .dumpThreads(file.toString(), HotSpotDiagnosticMXBean.ThreadDumpFormat.JSON);
        String dump = Files.readString(file);
        Files.delete(file);
        return dump.split("\"tid\"", -1).length - 1;
    }

    static byte[] random(int n) {
        byte[] b = new byte[n];
        ThreadLocalRandom.current().nextBytes(b);
        return b;
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /** Fills the buffer with the bytes of an endless, position-dependent pattern, starting at `position`. */
    static ByteBuffer fillPattern(ByteBuffer b, long position) {
        while (b.hasRemaining()) {
            long i = position++;
            b.put((byte) (i ^ (i >>> 8) ^ (i >>> 16) * 31));
        }
        return b;
    }

    /** A deliberately broken echo server: it reads the client's 100 bytes and answers wrongly. */
    static final class BrokenEchoServer implements AutoCloseable {
        final ServerSocket listener = new ServerSocket(0, 4096, InetAddress.getLoopbackAddress());
        final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();

        BrokenEchoServer(Broken how) throws IOException {
            threads.execute(() -> {
                while (!listener.isClosed()) {
                    try {
                        Socket s = listener.accept();
                        threads.execute(() -> serve(s, how));
                    } catch (IOException closed) {
                        return;
                    }
                }
            });
        }

        int port() { return listener.getLocalPort(); }

        private static void serve(Socket s, Broken how) {
            try (s) {
                var in = s.getInputStream();
                var out = s.getOutputStream();
                byte[] got = in.readNBytes(100);
                switch (how) {
                    case FLIPS_A_BYTE -> {
                        got[50] ^= 1;
                        out.write(got);
                        in.readAllBytes();
                    }
                    case DROPS_THE_TAIL -> out.write(got, 0, 90);
                    case NEVER_ANSWERS -> in.readAllBytes();
                    case RESETS -> s.setSoLinger(true, 0);
                }
            } catch (IOException e) {
                // The client gave up on this broken server first: that is what the test expects of it.
            }
        }

        @Override public void close() throws IOException {
            listener.close();
            threads.shutdownNow();
        }
    }
}
