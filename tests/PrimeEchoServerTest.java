///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//SOURCES TestKit.java
//SOURCES Scarce.java
//SOURCES ../PrimeEchoServer.java
//SOURCES ../compare/IdleClient.java
//DESCRIPTION Tests of PrimeEchoServer: the framed protocol byte by byte in every mode, the prime check, the client.

// Every conversation runs against every mode on a real socket (127.0.0.1, port 0), in-process; the command line
// (ready line, --help, bad flags, port in use, Ctrl-C, the log, running out of file descriptors) is tested on the
// script as a subprocess. Where a test asserts what happens while a prime is being checked, a CheckGate holds the
// check at its end until the test lets it go: an order of events, never a race against the check's length.
// Needs: prlimit

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

public class PrimeEchoServerTest {
    public static void main(String[] args) { TestKit.run("PrimeEchoServerTest", PrimeEchoServerTest.class); }

    static final String LONG_PRIME = "2305843009213693951"; // 2^61-1: about 3 s of trial division
    static final String SLOW_PRIME = "10000000000000061";   // about 0.2 s: long enough to be overtaken if order broke

    /** An in-process server, quiet, on a free port. */
    static PrimeEchoServer.Running start(PrimeEchoServer.Mode mode, String... more) throws IOException {
        return start(true, mode, more);
    }

    /** An in-process server on a free port, quiet or logging (a CheckGate needs its log lines). */
    static PrimeEchoServer.Running start(boolean quiet, PrimeEchoServer.Mode mode, String... more) throws IOException {
        var server = new PrimeEchoServer();
        var args = new java.util.ArrayList<>(List.of("-p", "0", "-m", mode.name()));
        if (quiet) args.add("-q");
        args.addAll(List.of(more));
        new CommandLine(server).parseArgs(args.toArray(String[]::new));
        return server.start();
    }

    /** A client that has already read the handshake. */
    static Wire connect(PrimeEchoServer.Running server) throws IOException {
        var c = new Wire(server.port());
        int first = c.read();
        assertEquals('*', first, "first byte after connect");
        return c;
    }

    /** Reads exactly as many bytes as expected and compares them, showing what was sent and what came back. */
    static void expect(Wire c, String sent, String expected) throws IOException {
        byte[] got = c.readExactly(expected.getBytes(StandardCharsets.ISO_8859_1).length);
        assertEquals(Wire.show(expected), Wire.show(got), "sent " + Wire.show(sent));
    }

    static void exchange(Wire c, String sent, String expected) throws IOException {
        c.send(sent);
        expect(c, sent, expected);
    }

    /** Proves nothing else was pending: the next frame's echo is the very next byte. */
    static void nothingElsePending(Wire c) throws IOException { exchange(c, "^z$", "{"); }

    /** The whole of a short test: a fresh server, one write, exactly this answer and nothing more. */
    static void oneWrite(PrimeEchoServer.Mode mode, String sent, String expected) throws IOException {
        try (var server = start(mode); var c = connect(server)) {
            exchange(c, sent, expected);
            nothingElsePending(c);
        }
    }

    /**
     * Waits until the server is inside a prime check: a condition, not a guessed sleep. No clock here: a server that
     * never starts the check is ended by the suite's per-test timeout (TestKit), which interrupts this loop.
     */
    static void awaitCheckInProgress(PrimeEchoServer.Running server) throws InterruptedException {
        while (server.checksInProgress() == 0) {
            if (Thread.interrupted()) throw new InterruptedException("no prime check started");
            Thread.yield(); // polls, without a sleep: the check starts as soon as the server has read the request
        }
    }

    /**
     * Holds prime checks at their very end until the test opens the gate: a check logs its result ("... prime in N ms")
     * before it counts itself done and replies, and while a gate is closed that line's println waits, on the threads
     * the gate names (POOL: the check pool's "prime-N"). So a check that has started there cannot end, however fast
     * the machine: the tests below assert what the server does meanwhile as a fact, not as a race against the check.
     * A check that runs elsewhere (a server that does not offload) is not held. The server must log (start(false,
     * ...)); its log lines are dropped from this JVM's stdout from the first gate on (they keep coming as connections
     * close, after the test). Closing the server interrupts a held check; closing the gate lets it go.
     */
    static final class CheckGate implements AutoCloseable {
        static final String POOL = "prime-";
        static final Pattern CHECK_RESULT = Pattern.compile(".* (prime|composite) in \\d+ ms");
        static final Pattern SERVER_LOG = Pattern.compile("\\d{4}-\\d\\d-\\d\\dT\\S+Z .*");
        static volatile CheckGate current;

        static {
            System.setOut(new java.io.PrintStream(System.out, true) {
                @Override public void println(String line) {
                    if (line == null || !SERVER_LOG.matcher(line).matches()) {
                        super.println(line);
                        return;
                    }
                    var gate = current;
                    if (gate != null && CHECK_RESULT.matcher(line).matches() && Thread.currentThread().getName().startsWith(gate.threads)) {
                        gate.held.incrementAndGet();
                        try {
                            gate.open.await();   // outside PrintStream's lock: other threads go on logging
                        } catch (InterruptedException closing) {
                            Thread.currentThread().interrupt();
                        }
                    }
                }
            });
        }

        final java.util.concurrent.CountDownLatch open = new java.util.concurrent.CountDownLatch(1);
        /** Checks that reached their end on the gate's threads and wait there (or waited). */
        final java.util.concurrent.atomic.AtomicInteger held = new java.util.concurrent.atomic.AtomicInteger();
        final String threads;

        /** Holds the checks that run on threads whose names start with this. */
        CheckGate(String threads) {
            this.threads = threads;
            current = this;
        }

        void open() { open.countDown(); }

        @Override public void close() { open(); }
    }

    // ---------------------------------------------------------------- idle connections (the C10K question)

    /**
     * 2,000 connections, each greeted and answered once and then idle, all answer again: the nio loop lends its buffers
     * to one connection at a time, and no byte of one may land in another. sequential serves one client at a time,
     * pool -w of them: both are given as many threads as connections here, or left out.
     */
    @ParameterizedTest @EnumSource(value = PrimeEchoServer.Mode.class, names = "sequential", mode = EnumSource.Mode.EXCLUDE)
    void twoThousandIdleConnectionsAreAllServedAgain(PrimeEchoServer.Mode mode) throws Exception {
        int idle = 2_000;
        String[] more = mode == PrimeEchoServer.Mode.pool ? new String[]{"-w", String.valueOf(idle + 10)} : new String[0];
        try (var server = start(mode, more); var held = IdleClient.open(new IdleClient.Config(
                new InetSocketAddress("127.0.0.1", server.port()), idle, IdleClient.Protocol.prime, 60 + mode.ordinal(), Duration.ofSeconds(60)))) {
            assertEquals(idle, held.size(), "connections opened, each greeted and answered once");
            assertEquals(idle, held.requestEach(), "a second frame on each idle connection gets its answer");
        }
    }

    // ---------------------------------------------------------------- the protocol, in every mode

    @ParameterizedTest @EnumSource(PrimeEchoServer.Mode.class)
    void sendsOneStarOnAcceptAndNothingElseUntilAFrame(PrimeEchoServer.Mode mode) throws Exception {
        oneWrite(mode, "^a$", "b"); // connect() checks the '*'
    }

    @ParameterizedTest @EnumSource(PrimeEchoServer.Mode.class)
    void benderskySimpleClientSequencesProduceHisExpectedOutput(PrimeEchoServer.Mode mode) throws Exception {
        // simple-client.py sends these three writes; its reader stops at "1111".
        try (var server = start(mode); var c = connect(server)) {
            c.send("^abc$de^abte$f").send("xyz^123").send("25$^ab0000$abab");
            expect(c, "^abc$de^abte$f xyz^123 25$^ab0000$abab", "bcdbcuf23436bc1111");
            nothingElsePending(c);
        }
    }

    @ParameterizedTest @EnumSource(PrimeEchoServer.Mode.class)
    void benderskyServerTestEchoesEachByteAsItArrives(PrimeEchoServer.Mode mode) throws Exception {
        // server-test.py's client_tester1: bytes outside a frame are ignored; inside, each comes back at once.
        try (var server = start(mode); var c = connect(server)) {
            c.send("abcdef").send("^");
            exchange(c, "f", "g");
            exchange(c, "1234", "2345");
            c.send("$").send("1234").send("^");
            exchange(c, "xy", "yz");
            exchange(c, "$", "");
            nothingElsePending(c);
        }
    }

    @ParameterizedTest @EnumSource(PrimeEchoServer.Mode.class)
    void benderskyServerTestSeveralFramesInOneWrite(PrimeEchoServer.Mode mode) throws Exception {
        oneWrite(mode, "^ab$^kl$^80$50", "bclm91"); // server-test.py's client_tester2
    }

    @ParameterizedTest @EnumSource(PrimeEchoServer.Mode.class)
    void frameSplitIntoOneByteWritesWithPauses(PrimeEchoServer.Mode mode) throws Exception {
        try (var server = start(mode); var c = connect(server)) {
            String sent = "^hello$^P7919$^P1x$";
            c.trickle(sent, 3);
            expect(c, sent, "ifmmpprime\nerror: not a digit: 'x'\n");
            nothingElsePending(c);
        }
    }

    @ParameterizedTest @EnumSource(PrimeEchoServer.Mode.class)
    void framesAndJunkInOneWriteAreAllProcessed(PrimeEchoServer.Mode mode) throws Exception {
        // Junk and a stray $ outside frames, an empty frame, and frames pipelined after a prime request.
        oneWrite(mode, "junk$^ab$more^P4$x$y^$^cd$tail", "bccomposite\nde");
    }

    @ParameterizedTest @EnumSource(PrimeEchoServer.Mode.class)
    void caretInsideAFrameComesBackAsUnderscore(PrimeEchoServer.Mode mode) throws Exception {
        oneWrite(mode, "^a^b^$", "b_c_");
    }

    @ParameterizedTest @EnumSource(PrimeEchoServer.Mode.class)
    void byte255WrapsToZero(PrimeEchoServer.Mode mode) throws Exception {
        try (var server = start(mode); var c = connect(server)) {
            c.send(new byte[] {'^', (byte) 0xff, 0x00, 0x7f, (byte) 0xfe, '$'});
            byte[] got = c.readExactly(4);
            assertArrayEquals(new byte[] {0x00, 0x01, (byte) 0x80, (byte) 0xff}, got, "sent ^ ff 00 7f fe $, got " + Wire.show(got));
            nothingElsePending(c);
        }
    }

    @ParameterizedTest @EnumSource(PrimeEchoServer.Mode.class)
    void answersPrimeOrComposite(PrimeEchoServer.Mode mode) throws Exception {
        try (var server = start(mode); var c = connect(server)) {
            exchange(c, "^P2$", "prime\n");
            exchange(c, "^P3$", "prime\n");
            exchange(c, "^P4$", "composite\n");
            exchange(c, "^P7919$", "prime\n");
            exchange(c, "^P0007919$", "prime\n");
            exchange(c, "^P1000036000099$", "composite\n");       // 1000003 * 1000033: no small factor
            exchange(c, "^P18446744073709551615$", "composite\n"); // 2^64-1, the largest number accepted
            exchange(c, "^P2305843009213693953$", "composite\n");  // 2^61+1
        }
    }

    @ParameterizedTest @EnumSource(PrimeEchoServer.Mode.class)
    void badPrimeRequestsGetAnErrorLineAndTheConnectionGoesOn(PrimeEchoServer.Mode mode) throws Exception {
        try (var server = start(mode); var c = connect(server)) {
            exchange(c, "^P$", "error: no digits\n");
            exchange(c, "^Pabc$", "error: not a digit: 'a'\n");
            exchange(c, "^P12x3$", "error: not a digit: 'x'\n");
            exchange(c, "^P-5$", "error: not a digit: '-'\n");
            exchange(c, "^P 7$", "error: not a digit: 0x20\n");
            exchange(c, "^P7^$", "error: not a digit: '^'\n");
            exchange(c, "^P18446744073709551616$", "error: number too large\n"); // 2^64
            exchange(c, "^P99999999999999999999999$", "error: number too large\n");
            exchange(c, "^P0$", "error: 0 is neither prime nor composite\n");
            exchange(c, "^P1$", "error: 1 is neither prime nor composite\n");
            exchange(c, "^P" + "1".repeat(100) + "$", "error: frame too long\n");
            exchange(c, "^ok$", "pl");
        }
    }

    @ParameterizedTest @EnumSource(PrimeEchoServer.Mode.class)
    void overLongPrimeRequestIsRefusedAtTheCapAndDiscarded(PrimeEchoServer.Mode mode) throws Exception {
        try (var server = start(mode, "--max-frame", "8"); var c = connect(server)) {
            exchange(c, "^P1234567$", "composite\n");        // 8 bytes: at the cap
            exchange(c, "^P12345678", "error: frame too long\n"); // 9 bytes: answered at once, before its $
            c.send("9^abc$");                                   // the rest of it, up to $, is discarded
            exchange(c, "^P7$", "prime\n");
            exchange(c, "^abcdefghijklmnop$", "bcdefghijklmnopq"); // echo frames have no cap
        }
    }

    @ParameterizedTest @EnumSource(PrimeEchoServer.Mode.class)
    void answersStayInOrderBehindASlowPrime(PrimeEchoServer.Mode mode) throws Exception {
        oneWrite(mode, "^P" + SLOW_PRIME + "$^ab$^P4$^cd$", "prime\nbccomposite\nde");
    }

    @ParameterizedTest @EnumSource(PrimeEchoServer.Mode.class)
    void halfClosedClientGetsEveryAnswerThenTheServerCloses(PrimeEchoServer.Mode mode) throws Exception {
        try (var server = start(mode); var c = connect(server)) {
            c.send("^P" + SLOW_PRIME + "$^ab$");
            c.shutdownOutput();
            assertEquals(Wire.show("prime\nbc"), Wire.show(c.readToEnd()), "after ^P" + SLOW_PRIME + "$^ab$ and a half-close");
        }
    }

    @ParameterizedTest @EnumSource(PrimeEchoServer.Mode.class)
    void hundredConcurrentClientsAreEachServedOnTheirOwnConnectionAndLoggedOnce(PrimeEchoServer.Mode mode) throws Exception {
        // Run as a process that logs: the server's own line per connection, not the test's bookkeeping, says which
        // connections it served and what it saw on each.
        try (var server = TestKit.ServerProcess.start("PrimeEchoServer.java", "-p", "0", "-m", mode.name())) {
            int port = server.port();
            var clientPorts = Wire.concurrently(100, () -> {
                try (var c = new Wire(port)) {
                    assertEquals('*', c.read(), "first byte after connect");
                    String id = "client" + c.socket.getLocalPort();
                    var echo = new StringBuilder();
                    for (char ch : id.toCharArray()) echo.append((char) (ch + 1));
                    exchange(c, "^" + id + "$", echo.toString());
                    exchange(c, "^P7919$", "prime\n");
                    return c.socket.getLocalPort();
                }
            });
            var logged = new java.util.TreeMap<Integer, String>();
            var line = Pattern.compile("127\\.0\\.0\\.1:(\\d+) closed after \\d+ ms, (\\d+ frames, \\d+ prime requests)");
            for (int clientPort : clientPorts) {
                server.awaitOutput("127.0.0.1:" + clientPort + " closed after", Duration.ofSeconds(20));
            }
            for (var m = line.matcher(server.output()); m.find(); ) {
                String before = logged.put(Integer.parseInt(m.group(1)), m.group(2));
                assertNull(before, "one line per connection, but port " + m.group(1) + " was logged twice:\n" + server.output());
            }
            assertEquals(new java.util.TreeSet<>(clientPorts), logged.keySet(), "the server logged exactly the 100 clients' connections");
            for (var e : logged.entrySet())
                assertEquals("2 frames, 1 prime requests", e.getValue(), "what the server saw on the connection from port " + e.getKey());
        }
    }

    // ---------------------------------------------------------------- blocking costs: offload or stall

    @ParameterizedTest @EnumSource(value = PrimeEchoServer.Mode.class, names = {"nio", "async", "virtual"})
    void anEchoIsAnsweredWhileAPrimeIsStillBeingChecked(PrimeEchoServer.Mode mode) throws Exception {
        // The order of events, not a stopwatch: the check has started and cannot end until the gate opens (CheckGate),
        // the echo comes back, and only then does the check end and its answer arrive.
        try (var gate = new CheckGate(CheckGate.POOL); var server = start(false, mode); var slow = connect(server); var fast = connect(server)) {
            slow.send("^P" + SLOW_PRIME + "$");
            awaitCondition(() -> gate.held.get() > 0 || answered(List.of(slow)) > 0);
            assertEquals(1, gate.held.get(), "the check ran on the check pool (else it was answered, not held)");
            exchange(fast, "^echo$", "fdip");
            assertEquals(1, server.checksInProgress(), "the echo came back while the check was still running");
            nothingArrivedYet(slow, "the prime's answer comes after the echo");
            gate.open();
            expect(slow, "^P" + SLOW_PRIME + "$", "prime\n");
        }
    }

    /**
     * async --no-offload checks on the completion handlers' threads: with -w 1 a check holds the only one, so an echo
     * on another connection is answered only after the check ends (held on that thread by a CheckGate until the test
     * lets it end).
     */
    @Test
    void asyncWithoutOffloadStallsEveryConnectionDuringACheck() throws Exception {
        try (var gate = new CheckGate("async-"); var server = start(false, PrimeEchoServer.Mode.async, "-w", "1", "--no-offload");
             var slow = connect(server); var fast = connect(server)) {
            slow.send("^P" + SLOW_PRIME + "$");
            awaitCondition(() -> gate.held.get() > 0 || answered(List.of(slow)) > 0);
            assertEquals(1, gate.held.get(), "the check runs on the one handler thread, held there");
            var events = new java.util.concurrent.ConcurrentLinkedQueue<String>();
            fast.send("^echo$");
            var echo = Thread.ofVirtual().start(() -> {
                try {
                    expect(fast, "^echo$", "fdip");
                    events.add("echo");
                } catch (IOException | AssertionError e) {
                    events.add("echo failed: " + e);
                }
            });
            nothingArrivedYet(slow, "the check is still running");
            events.add("check ends");
            gate.open();
            echo.join(Duration.ofSeconds(30));
            assertEquals(List.of("check ends", "echo"), List.copyOf(events), "the only handler thread was checking");
            expect(slow, "^P" + SLOW_PRIME + "$", "prime\n");
        }
    }

    /**
     * With --offload, checks wait in a queue of CHECK_QUEUE for the pool's threads; beyond it a request is answered at
     * once with "error: server busy" and the connection goes on. With the checks held (CheckGate), the pool's threads
     * and the queue are full, so exactly the requests beyond both are refused, whichever connections they came on.
     */
    @ParameterizedTest @EnumSource(value = PrimeEchoServer.Mode.class, names = {"nio", "async", "virtual"})
    void aFullCheckQueueAnswersServerBusyAndServesOn(PrimeEchoServer.Mode mode) throws Exception {
        int threads = Runtime.getRuntime().availableProcessors(), beyond = 5;
        int requests = threads + PrimeEchoServer.CHECK_QUEUE + beyond;
        var clients = new java.util.ArrayList<Wire>();
        try (var gate = new CheckGate(CheckGate.POOL); var server = start(false, mode)) {
            try {
                for (int i = 0; i < requests; i++) clients.add(connect(server));
                for (var c : clients) c.send("^P7919$");
                // Held checks never reply: the only answers before the gate opens are the refusals. A queued check
                // has started once a pool thread took it, which may come after the refusals. (Every client answered:
                // nothing was held, and the assertion below says so.)
                awaitCondition(() -> answered(clients) >= beyond && server.checksInProgress() == threads || answered(clients) == requests);
                assertEquals(beyond, answered(clients), "the refusals, the only answers before the gate opened");
                gate.open();
                var got = new java.util.TreeMap<String, Integer>();
                for (var c : clients) {
                    String reply = c.readUntil("\n");
                    got.merge(reply.strip(), 1, Integer::sum);
                    if (reply.startsWith("error")) exchange(c, "^ok$", "pl");   // a refused connection is served on
                }
                assertEquals(java.util.Map.of("error: server busy", beyond, "prime", threads + PrimeEchoServer.CHECK_QUEUE), got);
            } finally {
                for (var c : clients) c.close();
            }
        }
    }

    /** Connections with an answer waiting. */
    static long answered(List<Wire> clients) {
        return clients.stream().filter(c -> {
            try {
                return c.available() > 0;
            } catch (IOException e) {
                return true;
            }
        }).count();
    }

    /** Polls a condition the server brings about; the suite's per-test timeout (TestKit) bounds the wait. */
    static void awaitCondition(java.util.function.BooleanSupplier condition) throws InterruptedException {
        while (!condition.getAsBoolean()) Thread.sleep(5);
    }

    @Test
    void nioWithoutOffloadStallsEveryConnectionDuringALongPrime() throws Exception {
        try (var server = start(PrimeEchoServer.Mode.nio, "--no-offload"); var slow = connect(server); var fast = connect(server)) {
            slow.send("^P" + LONG_PRIME + "$");
            awaitCheckInProgress(server);
            fast.setReadTimeout(Duration.ofSeconds(60));
            exchange(fast, "^echo$", "fdip");
            assertEquals(0, server.checksInProgress(), "the loop answered the echo only after the check had finished");
            expect(slow, "^P" + LONG_PRIME + "$", "prime\n");
        }
    }

    // ---------------------------------------------------------------- the client subcommand

    record Run(int code, String out, String err) {}

    static Run cli(String... args) {
        var out = new StringWriter();
        var err = new StringWriter();
        var cl = new CommandLine(new PrimeEchoServer());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void clientDemoPrintsEchoAndSmallPrimeBeforeTheLongPrime() throws Exception {
        try (var server = start(PrimeEchoServer.Mode.virtual)) {
            var r = cli("client", "-p", String.valueOf(server.port()));
            assertEquals(0, r.code(), r.err());
            List<String> results = r.out().lines().filter(l -> l.contains("->")).toList();
            assertEquals(3, results.size(), r.out());
            assertTrue(results.get(2).matches("LongPrime\\s+P" + LONG_PRIME + "\\s+-> prime\\s+\\d+ ms"), r.out());
            assertTrue(results.subList(0, 2).stream().anyMatch(l -> l.matches("Echo\\s+echo\\s+-> fdip\\s+\\d+ ms")), r.out());
            assertTrue(results.subList(0, 2).stream().anyMatch(l -> l.matches("SmallPrime\\s+P7\\s+-> prime\\s+\\d+ ms")), r.out());
            assertTrue(r.out().contains("All three answered in"), r.out());
        }
    }

    @Test
    void clientSendPrintsTheAnswerToOneFrame() throws Exception {
        try (var server = start(PrimeEchoServer.Mode.nio)) {
            String port = String.valueOf(server.port());
            assertEquals(new Run(0, "prime\n", ""), cli("client", "-p", port, "--send", "P7919"));
            assertEquals(new Run(0, "fdip\n", ""), cli("client", "-p", port, "--send", "echo"));
            assertEquals(new Run(0, "error: not a digit: 'x'\n", ""), cli("client", "-p", port, "--send", "P12x"));
        }
    }

    @Test
    void clientSaysWhenTheServerIsNotThere() throws Exception {
        int port;
        try (var s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) { port = s.getLocalPort(); }
        var r = cli("client", "-p", String.valueOf(port), "--send", "P7");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().startsWith("Error: cannot connect to 127.0.0.1:" + port + ": "), r.err());
        assertTrue(r.err().contains("is the server running?"), r.err());
        assertEquals(1, r.err().lines().count(), "one line: " + r.err());
    }

    @Test
    void clientRefusesTextThatWouldEndTheFrameEarly() {
        var r = cli("client", "--send", "a$b");
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("contains '$'"), r.err());
    }

    // ---------------------------------------------------------------- the script as its users run it

    @Test
    void scriptPrintsTheReadyLineServesAndStopsOnSigterm() throws Exception {
        try (var p = TestKit.ServerProcess.start("PrimeEchoServer.java", "-p", "0", "-m", "nio")) {
            int port = p.port();
            assertTrue(Pattern.compile("(?m)^Listening on tcp://127\\.0\\.0\\.1:" + port + " mode=nio offload=on$").matcher(p.output()).find(), p.output());
            try (var c = new Wire(port)) {
                assertEquals('*', c.read());
                exchange(c, "^P7$", "prime\n");
            }
            try (var client = TestKit.ServerProcess.start("PrimeEchoServer.java", "client", "-p", String.valueOf(port), "--send", "echo")) {
                assertEquals(0, client.waitFor(Duration.ofSeconds(120)), client.output());
                assertTrue(client.output().lines().anyMatch("fdip"::equals), client.output());
            }
            assertEquals(143, p.terminate(), "exit status after SIGTERM (128 + 15): " + p.output());
            assertTrue(p.output().contains("Shutting down"), p.output());
            assertThrows(java.net.ConnectException.class, () -> new Wire(port).close(), "the listener is closed");
        }
    }

    @ParameterizedTest @EnumSource(PrimeEchoServer.Mode.class)
    void aPortInUseFailsToStartInEveryMode(PrimeEchoServer.Mode mode) throws Exception {
        try (var taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            var s = new PrimeEchoServer();
            new CommandLine(s).parseArgs("-p", String.valueOf(taken.getLocalPort()), "-q", "-m", mode.name());
            assertThrows(java.net.BindException.class, s::start, mode + " started on a port that is in use");
        }
    }

    @Test
    void scriptSaysWhenThePortIsTaken() throws Exception {
        try (var server = start(PrimeEchoServer.Mode.virtual);
             var p = TestKit.ServerProcess.start("PrimeEchoServer.java", "-p", String.valueOf(server.port()))) {
            assertEquals(1, p.waitFor(Duration.ofSeconds(120)), p.output());
            var errors = p.output().lines().filter(l -> l.startsWith("Error:")).toList();
            assertEquals(1, errors.size(), p.output());
            assertTrue(errors.getFirst().startsWith("Error: cannot listen on 127.0.0.1:" + server.port() + ": "), p.output());
            assertFalse(p.output().contains("\tat "), "no stack trace: " + p.output());
        }
    }

    @Test
    void scriptHelpNamesEveryModeAndWhatNoOffloadCosts() throws Exception {
        try (var p = TestKit.ServerProcess.start("PrimeEchoServer.java", "--help")) {
            assertEquals(0, p.waitFor(Duration.ofSeconds(120)), p.output());
            String help = p.output().replaceAll("\\s+", " "); // picocli wraps long descriptions
            assertTrue(help.contains("sequential, thread, pool, nio, async, virtual"), help);
            assertTrue(help.contains("--[no-]offload"), help);
            assertTrue(help.contains("stalls the event loop"), help);
            assertTrue(help.contains("Default: 7878"), help);
            assertTrue(help.contains("Default: 4096"), help);
            assertTrue(help.contains("client"), help);
            // The lesson of each mode, one line each, under the Modes heading (not just the name in the option list).
            Scarce.assertEachModeHasItsTradeOffLine(p.output(), PrimeEchoServer.Mode.values().length, List.of(
                    "  sequential  one client at a time: the simplest code, but everyone else waits, even for an echo",
                    "  thread      a platform thread per client: truly concurrent, but a kernel thread and a stack each",
                    "  pool        a hand-off pool: -w threads, a client each: bounded cost, but client w+1 waits until one of them leaves",
                    "  nio         one Selector loop for every client: cheap per connection, but nothing may block the loop",
                    "  async       NIO.2 completion handlers on -w threads: nobody waits on a socket, but the code is a chain of callbacks",
                    "  virtual     a virtual thread per client: blocking code at near event-loop cost (--no-offload: checks hold carriers)"));
        }
    }

    // ---------------------------------------------------------------- the log, and scarce resources

    @Test
    void everyLogLineStartsWithATimestampAndQuietKeepsTheFailures() throws Exception {
        try (var p = TestKit.ServerProcess.start("PrimeEchoServer.java", "-p", "0", "-m", "nio")) {
            try (var c = new Wire(p.port())) {
                assertEquals('*', c.read());
                exchange(c, "^P7$", "prime\n");
            }
            p.awaitOutput(" 1 prime requests", Duration.ofSeconds(20));
            assertTrue(Pattern.compile("(?m)^" + Scarce.TIMESTAMP + "prime-\\d+ P7 prime in \\d+ ms$").matcher(p.output()).find(), p.output());
            assertTrue(Pattern.compile("(?m)^" + Scarce.TIMESTAMP + "nio-loop 127\\.0\\.0\\.1:\\d+ closed after \\d+ ms, 1 frames, 1 prime requests$")
                    .matcher(p.output()).find(), p.output());
        }
        // -q hides the access log, never a failure: a connection reset by its client is still logged.
        try (var p = TestKit.ServerProcess.start("PrimeEchoServer.java", "-p", "0", "-q", "-m", "nio")) {
            var c = new Wire(p.port());
            assertEquals('*', c.read());
            exchange(c, "^ab$", "bc");
            c.socket.setSoLinger(true, 0);
            c.close(); // an RST instead of a FIN
            p.awaitOutput(" failed after ", Duration.ofSeconds(20));
            assertTrue(Pattern.compile("(?m)^" + Scarce.TIMESTAMP + "nio-loop 127\\.0\\.0\\.1:\\d+ failed after \\d+ ms, 1 frames, 0 prime requests: .*reset.*$")
                    .matcher(p.output()).find(), p.output());
            assertFalse(p.output().contains(" closed after "), "-q shows no access log: " + p.output());
        }
    }

    /** The open-files limit the server runs under: its JVM needs about 20 of them before the first connection. */
    static final int OPEN_FILES = 128;

    static final Scarce.Talk FRAMES = new Scarce.Talk() {
        @Override public void hello(Wire c) throws IOException { assertEquals('*', c.read(), "the handshake"); }

        @Override public void roundTrip(Wire c) throws IOException { exchange(c, "^ab$", "bc"); }
    };

    // sequential is left out: it holds one connection at a time, so clients cannot make it run out of descriptors.
    @ParameterizedTest @EnumSource(value = PrimeEchoServer.Mode.class, names = {"thread", "pool", "nio", "async", "virtual"})
    void outOfFileDescriptorsItLogsOnceNeitherSpinsNorFloodsServesTheOpenConnectionAndRecovers(PrimeEchoServer.Mode mode) throws Exception {
        try (var server = Scarce.start(OPEN_FILES, "PrimeEchoServer.java", "-p", "0", "-q", "-m", mode.name())) {
            server.runOutOfFileDescriptors(OPEN_FILES + 20, FRAMES, server.untilStderrSays("accept failed"));
            server.assertTheEpisodeWasLoggedOnce(OPEN_FILES);
        }
    }

    /**
     * Out of descriptors before the first client was served: virtual mode's poller was started before the ready
     * line, so the flood's connections and three keep-alive clients after it are served, and the episode is one line.
     */
    @Test
    void virtualModeFloodedRightAfterStartUpKeepsServingKeepAliveClients() throws Exception {
        try (var server = Scarce.start(OPEN_FILES, "PrimeEchoServer.java", "-p", "0", "-q", "-m", "virtual")) {
            server.floodAtStartUp(OPEN_FILES + 100, 3, FRAMES, server.untilStderrSays("accept failed"));
            server.assertTheEpisodeWasLoggedOnce(OPEN_FILES);
        }
    }

    @Test
    void scriptRejectsABadFlagWithOneErrorLine() throws Exception {
        try (var p = TestKit.ServerProcess.start("PrimeEchoServer.java", "--mode", "bogus")) {
            assertEquals(2, p.waitFor(Duration.ofSeconds(120)), p.output());
            var lines = p.output().lines().filter(l -> !l.startsWith("[jbang]") && !l.startsWith("[launcher]")).toList();
            assertEquals(1, lines.size(), p.output());
            assertTrue(lines.getFirst().startsWith("Error: ") && lines.getFirst().contains("bogus"), p.output());
        }
    }

    // ---------------------------------------------------------------- the lessons, as the order of events they cause

    /** No answer has arrived on this connection yet: nothing waits in its socket. */
    static void nothingArrivedYet(Wire c, String why) throws IOException {
        assertEquals(0, c.socket.getInputStream().available(), why);
    }

    @Test
    void sequentialASecondClientIsNotEvenGreetedWhileTheFirstHoldsTheConnection() throws Exception {
        try (var server = start(PrimeEchoServer.Mode.sequential)) {
            var first = connect(server);
            try (var second = new Wire(server.port())) {
                // The kernel completed the second connect; the server is busy with the first, which it answers.
                exchange(first, "^one$", "pof");
                exchange(first, "^P7919$", "prime\n");
                nothingArrivedYet(second, "one client at a time: no '*' for the second while the first is connected");
                second.send("^two$");
                exchange(first, "^three$", "uisff");
                nothingArrivedYet(second, "the second's frame waits too, unread");
                first.close();
                // Only now is it accepted: its greeting, then the echo of the frame it sent long ago.
                expect(second, "(connect) ^two$", "*uxp");
            } finally {
                first.close();
            }
        }
    }

    @Test
    void poolTheClientBeyondTheWorkersIsGreetedOnlyWhenOneOfThemLeaves() throws Exception {
        try (var server = start(PrimeEchoServer.Mode.pool, "-w", "2")) {
            var first = connect(server);
            var second = connect(server);
            try (var third = new Wire(server.port())) {
                for (var c : List.of(first, second)) exchange(c, "^ab$", "bc");   // each holds one of the two threads
                nothingArrivedYet(third, "client w+1 is not served while the first w are connected");
                third.send("^cd$");
                for (var c : List.of(first, second)) exchange(c, "^ab$", "bc");   // both threads still busy with them
                nothingArrivedYet(third, "client w+1's frame waits, unread");
                first.close();
                expect(third, "(connect) ^cd$", "*de");
                exchange(second, "^ab$", "bc");
            } finally {
                first.close();
                second.close();
            }
        }
    }

    /**
     * In virtual mode a check runs on the client's virtual thread, and trial division never blocks: with --no-offload
     * it keeps its carrier thread. With as many long checks as there are carriers, an echo on another connection is
     * answered only after a check ended; with the checks offloaded to their own pool it is answered while they all
     * still run.
     */
    @ParameterizedTest(name = "offload={0}") @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void virtualNoOffloadLongChecksOnEveryCarrierHoldBackAnEchoOnAnotherConnection(boolean offload) throws Exception {
        int carriers = Integer.getInteger("jdk.virtualThreadScheduler.parallelism", Runtime.getRuntime().availableProcessors());
        // Offloaded, the checks are held by a CheckGate until the echo is in: "every check still ran" is then a fact.
        // Without offload, long checks keep every carrier busy at once; the echo needs one of them to end.
        String prime = offload ? SLOW_PRIME : LONG_PRIME;
        try (var gate = new CheckGate(CheckGate.POOL); var server = start(false, PrimeEchoServer.Mode.virtual, offload ? "--offload" : "--no-offload");
             var fast = connect(server)) {
            var slow = new java.util.ArrayList<Wire>();
            try {
                for (int i = 0; i < carriers; i++) slow.add(connect(server));
                for (var c : slow) c.send("^P" + prime + "$");
                if (offload) {   // every check held at its end on the pool, or answered (then it did not run there)
                    awaitCondition(() -> gate.held.get() == carriers || answered(slow) > 0);
                    assertEquals(carriers, gate.held.get(), "every check ran on the check pool");
                }
                while (server.checksInProgress() < carriers) {   // as awaitCheckInProgress: the suite's timeout bounds it
                    if (Thread.interrupted()) throw new InterruptedException("the checks did not all start");
                    Thread.yield();
                }
                fast.setReadTimeout(Duration.ofSeconds(120));
                exchange(fast, "^echo$", "fdip");
                int stillChecking = server.checksInProgress();
                if (offload) assertEquals(carriers, stillChecking, "offloaded: the echo came back while every check still ran");
                else assertTrue(stillChecking < carriers, "--no-offload: every carrier was held by a check, so the echo "
                        + "came back only after one ended; checks still running: " + stillChecking + " of " + carriers);
                gate.open();
                for (var c : slow) {
                    c.setReadTimeout(Duration.ofSeconds(120));
                    expect(c, "^P" + prime + "$", "prime\n");
                }
            } finally {
                for (var c : slow) c.close();
            }
        }
    }
}
