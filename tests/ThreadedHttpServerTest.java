///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//SOURCES TestKit.java
//SOURCES HttpContract.java
//SOURCES ../ThreadedHttpServer.java
//DESCRIPTION Tests of ThreadedHttpServer: the shared HTTP contract and RFC 9112 from raw bytes, in every mode.

// Every conversation runs against every concurrency model (an in-process server per mode, port 0), except the few
// that need two connections at once, which skip `sequential`. Raw requests are text blocks with explicit \r\n.
// Run: tests/run ThreadedHttpServer   (or ./jbang tests/ThreadedHttpServerTest.java)

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

public class ThreadedHttpServerTest {
    public static void main(String[] args) {
        TestKit.run("ThreadedHttpServerTest", Contract.class, Framing.class, Limits.class, Smuggling.class, SlowAndBrokenClients.class,
                StaticFiles.class, Codecrafters.class, Configuration.class, AsAProcess.class);
    }

    static final List<String> MODES = Arrays.stream(ThreadedHttpServer.Mode.values()).map(Enum::name).toList();

    static List<String> modes() { return MODES; }

    static List<String> concurrentModes() { return MODES.stream().filter(m -> !m.equals("sequential")).toList(); }

    /** Starts the server in-process with these arguments; processes mode gets two worker JVMs to stay quick. */
    static ThreadedHttpServer.Running startServer(String mode, String... args) throws IOException {
        var all = new ArrayList<>(List.of("-p", "0", "-q", "-m", mode));
        if (mode.equals("processes")) all.addAll(List.of("-w", "2"));
        all.addAll(List.of(args));
        return ThreadedHttpServer.parse(all.toArray(String[]::new)).start();
    }

    static String health() { return "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"; }

    /** The shared contract (tests/HttpContract.java), against every mode. */
    public static class Contract extends HttpContract {
        @Override protected List<String> modes() { return MODES; }

        @Override protected Target start(String mode, Path root, Path directory) throws Exception {
            var args = new ArrayList<>(List.of("--root", root.toString()));
            if (directory != null) args.addAll(List.of("--directory", directory.toString()));
            var running = startServer(mode, args.toArray(String[]::new));
            return new Target() {
                @Override public int port() { return running.port(); }

                @Override public void close() { running.close(); }
            };
        }

        @Override protected String serverName() { return "ThreadedHttpServer"; }

        @Override protected boolean servesConnectionsConcurrently(String mode) { return !mode.equals("sequential"); }

        @Override protected boolean slowRequestBlocksOthers(String mode) { return mode.equals("sequential"); }
    }

    /**
     * One server per mode for a whole test class, with small limits and short timeouts so that the tests of limits
     * and slow clients are quick: request line 1 KiB, header section 2 KiB, body 64 KiB, header timeout 1 s,
     * idle timeout 2 s, write timeout 1 s. The web root holds a small text file and a 8 MiB binary.
     */
    @TestInstance(TestInstance.Lifecycle.PER_CLASS)
    abstract static class PerMode {
        static final int HEADER_TIMEOUT_MS = 1000, IDLE_TIMEOUT_MS = 2000, WRITE_TIMEOUT_MS = 1000, MAX_BODY = 64 * 1024;
        static final String SMALL = "0123456789abcdefghijklmnopqrstuvwxyz\n";
        final Map<String, ThreadedHttpServer.Running> servers = new ConcurrentHashMap<>();
        Path root, directory;
        byte[] big;

        @BeforeAll void files() throws IOException {
            root = Files.createTempDirectory("ths-root");
            directory = Files.createTempDirectory("ths-files");
            Files.writeString(root.resolve("index.html"), "<!doctype html><title>t</title><h1>index</h1>\n");
            Files.writeString(root.resolve("small.txt"), SMALL);
            big = new byte[8 << 20];
            new Random(42).nextBytes(big);
            Files.write(root.resolve("big.bin"), big);
        }

        int port(String mode) {
            return servers.computeIfAbsent(mode, m -> {
                try {
                    return startServer(m, "--root", root.toString(), "--directory", directory.toString(),
                            "--max-request-line", "1024", "--max-header-size", "2048", "--max-body", String.valueOf(MAX_BODY),
                            "--header-timeout", String.valueOf(HEADER_TIMEOUT_MS), "--idle-timeout", String.valueOf(IDLE_TIMEOUT_MS),
                            "--write-timeout", String.valueOf(WRITE_TIMEOUT_MS));
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }).port();
        }

        @AfterAll void stop() throws IOException {
            servers.values().forEach(ThreadedHttpServer.Running::close);
            for (Path dir : List.of(root, directory)) {
                try (var files = Files.walk(dir)) {
                    files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }

        /** Sends a request the server must refuse: the status, a JSON error, and the connection closed after it. */
        void refused(String mode, String raw, int status) throws IOException {
            int port = port(mode);
            try (var c = new TestKit.Conn(port)) {
                c.send(raw);
                var r = c.readResponse();
                assertEquals(status, r.status(), "sent " + TestKit.show(raw) + "\ngot " + r);
                assertTrue(r.text().startsWith("{\"error\":"), "a JSON error body: " + r);
                assertEquals("close", r.header("Connection"), "a framing error closes the connection: " + r);
                assertTrue(c.closedByPeer(Duration.ofSeconds(5)), "closed after " + TestKit.show(raw));
            }
            assertEquals(200, TestKit.exchange(port, health()).status(), "the server goes on serving");
        }
    }

    /** Message framing (RFC 9112 §6, §7, §9): pipelining, chunked bodies, 100-continue, keep-alive, HEAD. */
    public static class Framing extends PerMode {
        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void pipelinedRequestsAreAnsweredInOrder(String mode) throws IOException {
            try (var c = new TestKit.Conn(port(mode))) {
                c.send("""
                        GET /echo/one HTTP/1.1\r
                        Host: x\r
                        \r
                        HEAD /echo/two HTTP/1.1\r
                        Host: x\r
                        \r
                        POST /api/echo HTTP/1.1\r
                        Host: x\r
                        Content-Type: application/json\r
                        Content-Length: 7\r
                        \r
                        [1,2,3]GET /echo/three HTTP/1.1\r
                        Host: x\r
                        \r
                        """);
                assertEquals("one", c.readResponse().text());
                var head = c.readHeadResponse();
                assertEquals(200, head.status());
                assertEquals("3", head.header("Content-Length"), "HEAD: the length a GET would get, and no body");
                assertEquals("{\"received\":[1,2,3]}", c.readResponse().text());
                assertEquals("three", c.readResponse().text());
            }
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void aRequestArrivingOneByteAtATimeIsParsed(String mode) throws Exception {
            try (var c = new TestKit.Conn(port(mode))) {
                c.trickle("GET /echo/slow%20but%20whole HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n", 1);
                assertEquals("slow but whole", c.readResponse().text());
            }
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void chunkedBodyWithExtensionsAndTrailersIsDecoded(String mode) throws IOException {
            try (var c = new TestKit.Conn(port(mode))) {
                c.send("""
                        POST /api/echo HTTP/1.1\r
                        Host: x\r
                        Content-Type: application/json\r
                        Transfer-Encoding: chunked\r
                        \r
                        5;name=value\r
                        {"a":\r
                        A ; quoted="x;y" ; flag\r
                        [1,2,3,4]}\r
                        0\r
                        X-Checksum: abc\r
                        X-Other: 1\r
                        \r
                        GET /echo/after HTTP/1.1\r
                        Host: x\r
                        \r
                        """);
                var r = c.readResponse();
                assertEquals(200, r.status(), r.toString());
                assertEquals("{\"received\":{\"a\":[1,2,3,4]}}", r.text());
                assertEquals("after", c.readResponse().text(), "the connection stays usable after a chunked body");
            }
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void chunkedBodySplitAcrossManyReadsIsDecoded(String mode) throws Exception {
            try (var c = new TestKit.Conn(port(mode))) {
                c.trickle("POST /files/chunked.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 0);
                assertEquals(201, c.readResponse().status());
            }
            assertEquals("abcde", Files.readString(directory.resolve("chunked.txt")));
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void expectContinueIsAnsweredBeforeTheBodyIsSent(String mode) throws IOException {
            try (var c = new TestKit.Conn(port(mode))) {
                c.send("""
                        POST /api/echo HTTP/1.1\r
                        Host: x\r
                        Content-Type: application/json\r
                        Content-Length: 4\r
                        Expect: 100-continue\r
                        \r
                        """);
                var interim = c.readUntil("\r\n\r\n");
                assertEquals("HTTP/1.1 100 Continue\r\n\r\n", interim, "sent no body yet, got " + TestKit.show(interim));
                c.send("true");
                var r = c.readResponse();
                assertEquals(200, r.status(), r.toString());
                assertEquals("{\"received\":true}", r.text());
            }
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void expectContinueWithATooLargeBodyGets413Instead(String mode) throws IOException {
            refused(mode, "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + (MAX_BODY + 1)
                    + "\r\nExpect: 100-continue\r\n\r\n", 413);
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void anUnknownExpectationIs417(String mode) throws IOException {
            refused(mode, "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nExpect: 200-ok\r\n\r\n", 417);
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void http10ClosesUnlessAskedToKeepAlive(String mode) throws IOException {
            try (var c = new TestKit.Conn(port(mode))) {
                c.send("GET /echo/a HTTP/1.0\r\n\r\n");
                var r = c.readResponse();
                assertEquals("a", r.text());
                assertEquals("close", r.header("Connection"));
                assertTrue(c.closedByPeer(Duration.ofSeconds(5)));
            }
            try (var c = new TestKit.Conn(port(mode))) {
                c.send("GET /echo/b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
                var r = c.readResponse();
                assertEquals("keep-alive", r.header("Connection"), r.toString());
                c.send("GET /echo/c HTTP/1.0\r\n\r\n");
                assertEquals("c", c.readResponse().text(), "still open after a keep-alive HTTP/1.0 request");
            }
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void connectionCloseIsEchoedAndHonoured(String mode) throws IOException {
            try (var c = new TestKit.Conn(port(mode))) {
                c.send("GET /echo/bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /echo/never HTTP/1.1\r\nHost: x\r\n\r\n");
                var r = c.readResponse();
                assertEquals("bye", r.text());
                assertEquals("close", r.header("Connection"));
                assertTrue(c.closedByPeer(Duration.ofSeconds(5)), "a request after Connection: close is not answered");
            }
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void emptyLinesBeforeARequestAndBareLineFeedsAreTolerated(String mode) throws IOException {
            try (var c = new TestKit.Conn(port(mode))) {
                c.send("\r\n\r\nGET /echo/lf HTTP/1.1\nHost: x\n\n");
                assertEquals("lf", c.readResponse().text(), "RFC 9112 §2.2 allows both");
            }
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void absoluteFormAndAsteriskFormTargetsAreServed(String mode) throws IOException {
            int port = port(mode);
            assertEquals("abs", TestKit.exchange(port, "GET http://example.com/echo/abs HTTP/1.1\r\nHost: example.com\r\n\r\n").text());
            var options = TestKit.exchange(port, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
            assertEquals(204, options.status());
            assertEquals("GET, HEAD, POST, OPTIONS", options.header("Allow"));
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void everyResponseCarriesDateAndLength(String mode) throws IOException {
            var r = TestKit.exchange(port(mode), "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
            assertEquals(404, r.status());
            assertNotNull(r.header("Date"), r.toString());
            assertEquals(String.valueOf(r.body().length), r.header("Content-Length"));
        }
    }

    /** Every limit answers with its own status (RFC 9112 §2.3, §3; RFC 6585 §5; RFC 9110 §15.5.14). */
    public static class Limits extends PerMode {
        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void aTooLongRequestLineIs414(String mode) throws IOException {
            refused(mode, "GET /" + "a".repeat(2000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414);
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void aTooLongRequestLineIs414EvenBeforeItEnds(String mode) throws IOException {
            refused(mode, "GET /" + "a".repeat(2000), 414);
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void aTooLargeHeaderSectionIs431(String mode) throws IOException {
            refused(mode, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(3000) + "\r\n\r\n", 431);
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void tooManyHeaderFieldsIs431(String mode) throws IOException {
            refused(mode, "GET / HTTP/1.1\r\nHost: x\r\n" + "A: b\r\n".repeat(101) + "\r\n", 431);
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void aTooLargeBodyIs413FromItsContentLength(String mode) throws IOException {
            refused(mode, "POST /files/big.txt HTTP/1.1\r\nHost: x\r\nContent-Length: " + (MAX_BODY + 1) + "\r\n\r\n" + "x".repeat(5000), 413);
            assertFalse(Files.exists(directory.resolve("big.txt")), "nothing written");
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void aHugeContentLengthIs413(String mode) throws IOException {
            refused(mode, "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413);
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void aTooLargeChunkedBodyIs413WhileReading(String mode) throws IOException {
            String chunk = Integer.toHexString(16 * 1024) + "\r\n" + "y".repeat(16 * 1024) + "\r\n";
            refused(mode, "POST /files/big2.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk.repeat(5), 413);
            assertFalse(Files.exists(directory.resolve("big2.txt")), "nothing written");
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void aTooLargeTrailerSectionIs431(String mode) throws IOException {
            refused(mode, "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "1\r\n1\r\n0\r\nX-T: " + "t".repeat(3000) + "\r\n\r\n", 431);
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void otherHttpVersionsAre505(String mode) throws IOException {
            refused(mode, "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
            refused(mode, "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505);
        }
    }

    /** Malformed and ambiguous requests, request smuggling attempts among them (RFC 9112 §5, §6.1, §6.3, §7.1, §11.2). */
    public static class Smuggling extends PerMode {
        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void contentLengthWithTransferEncodingIs400AndTheRestIsNeverServed(String mode) throws IOException {
            refused(mode, """
                    POST /api/echo HTTP/1.1\r
                    Host: x\r
                    Content-Type: application/json\r
                    Content-Length: 4\r
                    Transfer-Encoding: chunked\r
                    \r
                    0\r
                    \r
                    GET /echo/smuggled HTTP/1.1\r
                    Host: x\r
                    \r
                    """, 400);
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void conflictingContentLengthsAre400(String mode) throws IOException {
            refused(mode, "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\ntrue ", 400);
            refused(mode, "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 5\r\n\r\ntrue ", 400);
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void identicalDuplicateContentLengthsAreOneLength(String mode) throws IOException {
            var r = TestKit.exchange(port(mode), "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 4\r\nContent-Length: 4\r\n\r\ntrue");
            assertEquals(200, r.status(), r.toString());
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void aContentLengthThatIsNotDigitsIs400(String mode) throws IOException {
            for (String cl : List.of("+4", "-1", "0x4", "4.0", "four", ""))
                refused(mode, "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + cl + "\r\n\r\ntrue", 400);
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void badChunkSizesAre400(String mode) throws IOException {
            for (String body : List.of("zz\r\nab\r\n0\r\n\r\n", "-1\r\n", "0x2\r\nab\r\n0\r\n\r\n", "\r\nab\r\n0\r\n\r\n",
                    "2\r\nabc\r\n0\r\n\r\n", "2 3\r\nab\r\n0\r\n\r\n"))
                refused(mode, "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + body, 400);
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void anUnknownTransferCodingIs501(String mode) throws IOException {
            refused(mode, "POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501);
            refused(mode, "POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 501);
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void chunkedTwiceOrInHttp10Is400(String mode) throws IOException {
            refused(mode, "POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
            refused(mode, "POST /api/echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void obsoleteLineFoldingIs400(String mode) throws IOException {
            refused(mode, "GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n  b\r\n\r\n", 400);
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void whitespaceBeforeTheColonIs400(String mode) throws IOException {
            refused(mode, "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length : 4\r\n\r\ntrue", 400);
            refused(mode, "POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n", 400);
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void controlCharactersAndBareCarriageReturnsAre400(String mode) throws IOException {
            refused(mode, "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 400);
            refused(mode, "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rX-B: b\r\n\r\n", 400);
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void aMissingOrDuplicateHostIs400(String mode) throws IOException {
            refused(mode, "GET /health HTTP/1.1\r\n\r\n", 400);
            refused(mode, "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
            assertEquals(200, TestKit.exchange(port(mode), "GET /health HTTP/1.0\r\n\r\n").status(), "HTTP/1.0 needs no Host");
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void malformedRequestLinesAre400(String mode) throws IOException {
            for (String line : List.of("GET  / HTTP/1.1", "GET / HTTP/1.1 ", "GET /", "GET / HTTP/1", "G(T / HTTP/1.1", "GET /a b HTTP/1.1",
                    "GET nopath HTTP/1.1", "GET * HTTP/1.1"))
                refused(mode, line + "\r\nHost: x\r\n\r\n", 400);
        }
    }

    /** Clients that are slow, silent, rude or gone: the server cuts them off and goes on serving everyone else. */
    public static class SlowAndBrokenClients extends PerMode {
        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void aSlowlorisClientIsCutOffByTheHeaderTimeout(String mode) throws Exception {
            int port = port(mode);
            try (var c = new TestKit.Conn(port)) {
                c.send("GET / HTTP/1.1\r\nHost: x\r\n");
                long start = System.nanoTime();
                // Keep trickling header bytes for far longer than the header timeout: every byte is "progress".
                var trickler = Thread.ofVirtual().start(() -> {
                    try {
                        c.trickle("X-Slow: " + "s".repeat(200), 50);
                    } catch (IOException | InterruptedException closed) {
                        // the server closed the connection: what we wait for
                    }
                });
                if (!mode.equals("sequential")) {
                    assertEquals(200, TestKit.exchange(port, health()).status(), "others are served meanwhile");
                }
                assertTrue(c.closedByPeer(Duration.ofSeconds(8)), "the server should close a head that never ends");
                long ms = (System.nanoTime() - start) / 1_000_000;
                assertTrue(ms >= HEADER_TIMEOUT_MS - 100 && ms < HEADER_TIMEOUT_MS + 4000, "closed after " + ms + " ms");
                trickler.interrupt();
            }
            assertEquals(200, TestKit.exchange(port, health()).status());
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void aSilentConnectionIsClosedByTheIdleTimeout(String mode) throws Exception {
            try (var c = new TestKit.Conn(port(mode))) {
                long start = System.nanoTime();
                assertTrue(c.closedByPeer(Duration.ofSeconds(10)), "an idle connection is closed");
                long ms = (System.nanoTime() - start) / 1_000_000;
                assertTrue(ms >= IDLE_TIMEOUT_MS - 200 && ms < IDLE_TIMEOUT_MS + 4000, "closed after " + ms + " ms");
            }
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void aBodyThatStallsIsCutOff(String mode) throws Exception {
            try (var c = new TestKit.Conn(port(mode))) {
                c.send("POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n[1,");
                assertTrue(c.closedByPeer(Duration.ofSeconds(10)), "a stalled body is not waited for forever");
            }
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void abruptDisconnectsLeaveTheServerServing(String mode) throws Exception {
            int port = port(mode);
            var c = new TestKit.Conn(port);
            c.send("POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":");
            c.socket.setSoLinger(true, 0);   // close with a reset, mid-body
            c.close();
            var d = new TestKit.Conn(port);
            d.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
            d.readUntil("\r\n\r\n");
            d.readExactly(1000);
            d.socket.setSoLinger(true, 0);   // and mid-download
            d.close();
            try (var e = new TestKit.Conn(port)) {
                e.send("GET /echo/still HTTP/1.1\r\nHost: x\r\n\r\n");
                assertEquals("still", e.readResponse().text());
            }
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void aClientThatNeverReadsIsDroppedAfterTheWriteTimeout(String mode) throws Exception {
            int port = port(mode);
            try (var s = new Socket()) {
                s.setReceiveBufferSize(4096);
                s.connect(new InetSocketAddress("127.0.0.1", port));
                s.getOutputStream().write("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                if (!mode.equals("sequential")) {
                    assertEquals(200, TestKit.exchange(port, health()).status(), "others are served while one client does not read");
                }
                // This client's behaviour is "do not read for a while": longer than the write timeout.
                Thread.sleep(WRITE_TIMEOUT_MS + 1000);
                s.setSoTimeout(20_000);
                long received = drain(s.getInputStream());
                assertTrue(received < big.length, "the server gave up on the write: got " + received + " of " + big.length + " bytes");
            }
            assertEquals(200, TestKit.exchange(port, health()).status());
        }

        static long drain(InputStream in) {
            long n = 0;
            byte[] buf = new byte[64 * 1024];
            try {
                for (int r; (r = in.read(buf)) >= 0; ) n += r;
            } catch (IOException reset) {
                // a reset ends the stream as well
            }
            return n;
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#concurrentModes")
        void manyConnectionsAtOnceAreAllServed(String mode) throws Exception {
            int port = port(mode);
            // pool mode serves -w (5) connections at once; each of these closes after its answer.
            var statuses = TestKit.concurrently(mode.equals("pool") ? 5 : 50,
                    () -> TestKit.exchange(port, "GET /echo/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status());
            assertEquals(Collections.nCopies(statuses.size(), 200), statuses);
        }
    }

    /** Static files: validators, 304, ranges, and a large file sent whole with transferTo. */
    public static class StaticFiles extends PerMode {
        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void aLargeFileIsSentWhole(String mode) throws Exception {
            try (var c = new TestKit.Conn(port(mode))) {
                c.send("GET /big.bin HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n");
                var r = c.readResponse();
                assertEquals(200, r.status());
                assertEquals("application/octet-stream", r.header("Content-Type"));
                assertNull(r.header("Content-Encoding"), "not a compressible type");
                assertArrayEquals(sha256(big), sha256(r.body()), "8 MiB, byte for byte");
                assertEquals(SMALL, c.readResponse().text(), "the connection goes on after a file body");
            }
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void aSingleRangeIs206(String mode) throws IOException {
            int port = port(mode);
            var r = TestKit.exchange(port, "GET /small.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=2-5\r\nAccept-Encoding: gzip\r\n\r\n");
            assertEquals(206, r.status(), r.toString());
            assertEquals("2345", r.text());
            assertEquals("bytes 2-5/" + SMALL.length(), r.header("Content-Range"));
            assertEquals(SMALL.substring(SMALL.length() - 3),
                    TestKit.exchange(port, "GET /small.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=-3\r\n\r\n").text());
            var tail = TestKit.exchange(port, "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=8388600-\r\n\r\n");
            assertEquals(206, tail.status());
            assertArrayEquals(Arrays.copyOfRange(big, 8388600, big.length), tail.body(), "a range of a large file, via transferTo");
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void anUnsatisfiableRangeIs416AndSeveralRangesGetTheWholeFile(String mode) throws IOException {
            int port = port(mode);
            var r = TestKit.exchange(port, "GET /small.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-\r\n\r\n");
            assertEquals(416, r.status(), r.toString());
            assertEquals("bytes */" + SMALL.length(), r.header("Content-Range"));
            var whole = TestKit.exchange(port, "GET /small.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,4-5\r\n\r\n");
            assertEquals(200, whole.status());
            assertEquals(SMALL, whole.text());
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void ifRangeWithAnOldValidatorGetsTheWholeFile(String mode) throws IOException {
            var r = TestKit.exchange(port(mode), "GET /small.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nIf-Range: \"old\"\r\n\r\n");
            assertEquals(200, r.status());
            assertEquals(SMALL, r.text());
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void aMatchingEtagIs304AndAChangedFileIsNot(String mode) throws Exception {
            int port = port(mode);
            Path f = root.resolve("changing-" + mode + ".txt");
            Files.writeString(f, "one");
            var first = TestKit.exchange(port, "GET /" + f.getFileName() + " HTTP/1.1\r\nHost: x\r\n\r\n");
            String etag = first.header("ETag");
            var again = TestKit.exchange(port, "GET /" + f.getFileName() + " HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + etag + "\r\n\r\n");
            assertEquals(304, again.status());
            assertEquals(etag, again.header("ETag"));
            Files.writeString(f, "two!");
            var changed = TestKit.exchange(port, "GET /" + f.getFileName() + " HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + etag + "\r\n\r\n");
            assertEquals(200, changed.status(), "the cache notices the new size and mtime");
            assertEquals("two!", changed.text());
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void traversalAndHiddenFilesAre404(String mode) throws IOException {
            int port = port(mode);
            Files.writeString(root.resolve(".secret"), "no");
            for (String path : List.of("/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/.secret", "/%2Esecret", "/a%00b", "/..%2fsmall.txt"))
                assertEquals(404, TestKit.exchange(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n").status(), path);
        }

        static byte[] sha256(byte[] b) throws Exception { return MessageDigest.getInstance("SHA-256").digest(b); }
    }

    /** The codecrafters HTTP server stages that seed 003 followed, as their tester sends them. */
    public static class Codecrafters extends PerMode {
        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void stage1RootIs200(String mode) throws IOException {
            assertEquals(200, TestKit.exchange(port(mode), "GET / HTTP/1.1\r\nHost: localhost:4221\r\n\r\n").status());
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void stage2UnknownPathIs404(String mode) throws IOException {
            assertEquals(404, TestKit.exchange(port(mode), "GET /abcdefg HTTP/1.1\r\nHost: localhost:4221\r\n\r\n").status());
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void stage3EchoReturnsTheText(String mode) throws IOException {
            var r = TestKit.exchange(port(mode), "GET /echo/abc HTTP/1.1\r\nHost: localhost:4221\r\n\r\n");
            assertEquals(200, r.status());
            assertEquals("text/plain; charset=utf-8", r.header("Content-Type"));
            assertEquals("3", r.header("Content-Length"));
            assertEquals("abc", r.text());
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void stage4UserAgentIsEchoed(String mode) throws IOException {
            var r = TestKit.exchange(port(mode), "GET /user-agent HTTP/1.1\r\nHost: localhost:4221\r\nUser-Agent: foobar/1.2.3\r\nAccept: */*\r\n\r\n");
            assertEquals("foobar/1.2.3", r.text());
            assertEquals("12", r.header("Content-Length"));
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#concurrentModes")
        void stage5ConcurrentConnections(String mode) throws Exception {
            int port = port(mode);
            var conns = new ArrayList<TestKit.Conn>();
            try {
                for (int i = 0; i < 3; i++) conns.add(new TestKit.Conn(port));
                for (var c : conns.reversed()) c.send("GET / HTTP/1.1\r\nHost: localhost:4221\r\n\r\n");
                for (var c : conns) assertEquals(200, c.readResponse().status());
            } finally {
                for (var c : conns) c.close();
            }
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void stage6FilesAreReturned(String mode) throws IOException {
            Files.writeString(directory.resolve("foo-" + mode), "Hello, World!");
            var r = TestKit.exchange(port(mode), "GET /files/foo-" + mode + " HTTP/1.1\r\nHost: localhost:4221\r\n\r\n");
            assertEquals(200, r.status());
            assertEquals("application/octet-stream", r.header("Content-Type"));
            assertEquals("Hello, World!", r.text());
            assertEquals(404, TestKit.exchange(port(mode), "GET /files/non_existent_file HTTP/1.1\r\nHost: localhost:4221\r\n\r\n").status());
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void stage7FilesArePosted(String mode) throws IOException {
            var r = TestKit.exchange(port(mode), "POST /files/posted-" + mode + " HTTP/1.1\r\nHost: localhost:4221\r\n"
                    + "Content-Type: application/octet-stream\r\nContent-Length: 5\r\n\r\n12345");
            assertEquals(201, r.status());
            assertEquals("12345", Files.readString(directory.resolve("posted-" + mode)));
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void stage8to10GzipFollowsAcceptEncoding(String mode) throws IOException {
            int port = port(mode);
            var none = TestKit.exchange(port, "GET /echo/abc HTTP/1.1\r\nHost: localhost:4221\r\nAccept-Encoding: invalid-encoding\r\n\r\n");
            assertNull(none.header("Content-Encoding"), none.toString());
            var listed = TestKit.exchange(port, "GET /echo/abc HTTP/1.1\r\nHost: localhost:4221\r\nAccept-Encoding: invalid-encoding-1, gzip, invalid-encoding-2\r\n\r\n");
            assertEquals("gzip", listed.header("Content-Encoding"));
            assertEquals(String.valueOf(listed.body().length), listed.header("Content-Length"));
            assertEquals("abc", new String(new GZIPInputStream(new ByteArrayInputStream(listed.body())).readAllBytes(), StandardCharsets.UTF_8));
            var refused = TestKit.exchange(port, "GET /echo/abc HTTP/1.1\r\nHost: localhost:4221\r\nAccept-Encoding: gzip;q=0, *;q=1\r\n\r\n");
            assertNull(refused.header("Content-Encoding"), "gzip;q=0 refuses gzip");
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void stage11PersistentConnection(String mode) throws IOException {
            try (var c = new TestKit.Conn(port(mode))) {
                for (String word : List.of("banana", "mango", "apple")) {
                    c.send("GET /echo/" + word + " HTTP/1.1\r\nHost: localhost:4221\r\n\r\n");
                    assertEquals(word, c.readResponse().text());
                }
            }
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#concurrentModes")
        void stage12ConcurrentPersistentConnections(String mode) throws Exception {
            int port = port(mode);
            try (var a = new TestKit.Conn(port); var b = new TestKit.Conn(port)) {
                for (int i = 0; i < 3; i++) {
                    a.send("GET /echo/a" + i + " HTTP/1.1\r\nHost: localhost:4221\r\n\r\n");
                    b.send("GET /echo/b" + i + " HTTP/1.1\r\nHost: localhost:4221\r\n\r\n");
                    assertEquals("b" + i, b.readResponse().text());
                    assertEquals("a" + i, a.readResponse().text());
                }
            }
        }

        @ParameterizedTest @MethodSource("ThreadedHttpServerTest#modes")
        void stage13ConnectionClose(String mode) throws IOException {
            try (var c = new TestKit.Conn(port(mode))) {
                c.send("GET /echo/orange HTTP/1.1\r\nHost: localhost:4221\r\nConnection: close\r\n\r\n");
                var r = c.readResponse();
                assertEquals("orange", r.text());
                assertEquals("close", r.header("Connection"));
                assertTrue(c.closedByPeer(Duration.ofSeconds(5)));
            }
        }
    }

    /** Options from the command line, the environment (THS_*) and a --config file, in that order of precedence. */
    public static class Configuration {
        static ThreadedHttpServer parse(Map<String, String> env, String... args) {
            var server = new ThreadedHttpServer();
            ThreadedHttpServer.commandLine(server, args, env).parseArgs(args);
            return server;
        }

        @Test void commandLineBeatsEnvironmentBeatsFileBeatsDefault() throws IOException {
            Path file = Files.createTempFile("ths", ".properties");
            try {
                Files.writeString(file, "port=1111\nmode=pool\nworkers=7\nmax-body=100\n");
                var s = parse(Map.of("THS_PORT", "2222", "THS_MODE", "nio"), "--config", file.toString(), "-p", "3333");
                assertEquals(3333, s.port, "command line");
                assertEquals(ThreadedHttpServer.Mode.nio, s.mode, "environment");
                assertEquals(7, s.workers, "file");
                assertEquals(100, s.maxBody, "file");
                assertEquals(ThreadedHttpServer.DEFAULT_HEADER_TIMEOUT_MS, s.headerTimeout, "default");
                var fromEnvFile = parse(Map.of("THS_CONFIG", file.toString(), "THS_QUIET", "true"));
                assertEquals(1111, fromEnvFile.port, "THS_CONFIG names the file too");
                assertTrue(fromEnvFile.quiet);
            } finally {
                Files.delete(file);
            }
        }

        @Test void anUnknownKeyInTheConfigFileIsAnError() throws IOException {
            Path file = Files.createTempFile("ths", ".properties");
            try {
                Files.writeString(file, "prot=1111\n");
                var e = assertThrows(ThreadedHttpServer.StartupError.class, () -> parse(Map.of(), "--config", file.toString()));
                assertTrue(e.getMessage().contains("prot"), e.getMessage());
                assertEquals(2, e.exitCode);
            } finally {
                Files.delete(file);
            }
        }
    }

    /** The script as its users run it: ./jbang ThreadedHttpServer.java ... */
    public static class AsAProcess {
        @Test void printsOneReadyLineServesAndStopsOnSigterm() throws Exception {
            try (var server = TestKit.ServerProcess.start("ThreadedHttpServer.java", "-p", "0", "-m", "nio")) {
                int port = server.port();
                var r = TestKit.exchange(port, health());
                assertEquals(200, r.status());
                assertTrue(r.text().contains("\"mode\":\"nio\""), r.text());
                assertTrue(server.output().contains("Listening on http://127.0.0.1:" + port + "/ mode=nio\n"), server.output());
                int code = server.terminate();
                assertTrue(code == 0 || code == 143, "exit code " + code);
                assertTrue(server.output().contains("nio-loop 127.0.0.1:"), "an access log line names the thread: " + server.output());
                assertTrue(server.output().contains("Stopped after 1 requests"), server.output());
            }
        }

        @Test void helpListsModesDefaultsAndEnvironment() throws Exception {
            try (var p = TestKit.ServerProcess.start("ThreadedHttpServer.java", "--help")) {
                assertEquals(0, p.waitFor(Duration.ofSeconds(60)));
                String out = p.output();
                for (String mode : MODES) assertTrue(out.contains(mode), mode + " in " + out);
                assertTrue(out.contains("Default: 3000"), out);
                assertTrue(out.contains("THS_PORT") && out.contains("--config"), out);
            }
        }

        @Test void aBadFlagValueIsOneErrorLineAndExit2() throws Exception {
            try (var p = TestKit.ServerProcess.start("ThreadedHttpServer.java", "-m", "fibers")) {
                assertEquals(2, p.waitFor(Duration.ofSeconds(60)));
                String out = p.output().lines().filter(l -> !l.startsWith("[jbang]")).reduce("", (a, b) -> a + b + "\n");
                assertTrue(out.startsWith("Error: ") && out.strip().lines().count() == 1, out);
            }
        }

        @Test void aPortInUseIsOneErrorLineAndExit1() throws Exception {
            try (var taken = new ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"));
                 var p = TestKit.ServerProcess.start("ThreadedHttpServer.java", "-p", String.valueOf(taken.getLocalPort()))) {
                assertEquals(1, p.waitFor(Duration.ofSeconds(60)));
                assertTrue(p.output().contains("Error: cannot listen on 127.0.0.1:" + taken.getLocalPort()), p.output());
            }
        }

        @Test void processesModeSpreadsConnectionsOverWorkersAndReplacesADeadOne() throws Exception {
            try (var server = TestKit.ServerProcess.start("ThreadedHttpServer.java", "-p", "0", "-m", "processes", "-w", "2")) {
                int port = server.port();
                assertEquals(2, server.process.children().count(), "two worker JVMs");
                for (int i = 0; i < 30; i++) assertEquals(200, TestKit.exchange(port, health()).status());
                // The workers' access logs reach us through two pipes: wait for them (bounded).
                // SO_REUSEPORT spreads the 30 connections over both workers; their access logs reach us through two pipes.
                server.awaitOutput("p1-nio-", Duration.ofSeconds(30));
                server.awaitOutput("p2-nio-", Duration.ofSeconds(30));
                var victim = server.process.children().findFirst().orElseThrow();
                victim.destroyForcibly();
                server.awaitOutput("starting another", Duration.ofSeconds(30));
                for (int i = 0; i < 10; i++) assertEquals(200, TestKit.exchange(port, health()).status(), "served throughout");
                var workers = server.process.children().toList();
                server.terminate();
                for (var w : workers) assertTrue(w.onExit().get(30, java.util.concurrent.TimeUnit.SECONDS) != null && !w.isAlive(), "worker stopped");
            }
        }
    }
}
