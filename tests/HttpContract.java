//DEPS tools.jackson.core:jackson-databind:3.3.0

// The shared HTTP contract (README, "The HTTP contract"), as one abstract JUnit class. Each HTTP server's test
// script subclasses it and says how to start that server; every test then runs against every mode.
//   tests/SimpleHttpServerTest.java   -> SimpleHttpServer (single, pool, virtual)
//   tests/ThreadedHttpServerTest.java -> ThreadedHttpServer (sequential, thread, pool, virtual, nio, processes)
// Requests are raw bytes with explicit \r\n; responses are read off the wire by TestKit.Conn.

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class HttpContract {
    /** A running server under test. close() stops it and everything it started. */
    public interface Target extends AutoCloseable {
        int port();
    }

    /** The modes to test, as given to -m. */
    protected abstract List<String> modes();

    /** Starts the server with -p 0 -q -m mode --root root, and --directory directory unless it is null. */
    protected abstract Target start(String mode, Path root, Path directory) throws Exception;

    /** The value of "server" in /health. */
    protected abstract String serverName();

    /** False for a mode that serves one connection at a time (tests that hold two connections open skip it). */
    protected boolean servesConnectionsConcurrently(String mode) { return true; }

    /** True for a mode in which one slow request delays requests on other connections. */
    protected boolean slowRequestBlocksOthers(String mode) { return false; }

    // ---------------------------------------------------------------- fixtures: a web root, an upload folder, servers

    static final JsonMapper JSON = JsonMapper.builder().build();
    Path base, root, outside, uploads;
    final Map<String, Target> servers = new ConcurrentHashMap<>();
    final Map<String, Target> serversWithoutDirectory = new ConcurrentHashMap<>();

    Stream<String> modeNames() { return modes().stream(); }

    @BeforeAll void createFiles() throws IOException {
        base = Files.createTempDirectory("contract-");
        root = base.resolve("www");
        outside = base.resolve("outside");
        uploads = base.resolve("uploads");
        Files.createDirectories(root.resolve("docs"));
        Files.createDirectories(outside);
        Files.createDirectories(uploads);
        Files.writeString(root.resolve("index.html"), "<!DOCTYPE html><html><head><title>Test root</title></head><body>" + "hello ".repeat(100) + "</body></html>");
        Files.writeString(root.resolve("docs/index.html"), "<html><body>nested page</body></html>");
        Files.writeString(root.resolve("style.css"), "body { color: red; }\n".repeat(20));
        Files.writeString(root.resolve("app.js"), "console.log('hi');\n");
        Files.writeString(root.resolve("logo.svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>");
        Files.writeString(root.resolve("data.json"), "{\"a\":1}");
        Files.writeString(root.resolve("note.txt"), "plain text\n");
        Files.write(root.resolve("blob.bin"), new byte[]{0, 1, 2, (byte) 255});
        Files.writeString(root.resolve(".hidden"), "SECRET-HIDDEN");
        Files.writeString(outside.resolve("secret.txt"), "SECRET-OUTSIDE");
        Files.createSymbolicLink(root.resolve("link-out"), outside.resolve("secret.txt"));
        Files.createSymbolicLink(root.resolve("dir-out"), outside);
    }

    @AfterAll void stopServers() throws Exception {
        for (var t : servers.values()) t.close();
        for (var t : serversWithoutDirectory.values()) t.close();
    }

    /** The server for this mode (one per mode, shared by the tests). */
    int port(String mode) {
        return servers.computeIfAbsent(mode, m -> startOrFail(m, uploads)).port();
    }

    Target startOrFail(String mode, Path directory) {
        try {
            return start(mode, root, directory);
        } catch (Exception e) {
            throw new IllegalStateException("could not start the server in mode " + mode, e);
        }
    }

    // ---------------------------------------------------------------- helpers

    /** Sends a GET (or any method) with Host and the extra header lines, on a fresh connection. */
    TestKit.HttpResponse request(String mode, String method, String target, String... headerLines) throws IOException {
        var sb = new StringBuilder(method + " " + target + " HTTP/1.1\r\nHost: test\r\n");
        for (String h : headerLines) sb.append(h).append("\r\n");
        String raw = sb.append("Connection: close\r\n\r\n").toString();
        var r = TestKit.exchange(port(mode), raw);
        assertNotNull(r.header("Date"), () -> "every response has a Date header; sent " + TestKit.show(raw) + " got " + r);
        return r;
    }

    TestKit.HttpResponse post(String mode, String target, String contentType, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        String raw = "POST " + target + " HTTP/1.1\r\nHost: test\r\n" + (contentType == null ? "" : "Content-Type: " + contentType + "\r\n")
                + "Content-Length: " + b.length + "\r\nConnection: close\r\n\r\n" + new String(b, StandardCharsets.ISO_8859_1);
        try (var c = new TestKit.Conn(port(mode))) {
            try {
                c.send(raw);
            } catch (IOException e) {
                // The server answered (413) and closed while the body was still going out: its answer is still to read.
            }
            return c.readResponse();
        }
    }

    static void assertStatus(int expected, TestKit.HttpResponse r, String what) {
        assertEquals(expected, r.status(), () -> what + " -> " + r);
    }

    /** An error answer: the status, and a JSON body {"error": "..."} with a non-empty reason. */
    static void assertJsonError(int expected, TestKit.HttpResponse r, String what) {
        assertStatus(expected, r, what);
        assertTrue(r.header("Content-Type") != null && r.header("Content-Type").startsWith("application/json"), () -> what + ": error body must be JSON: " + r);
        JsonNode error = JSON.readTree(r.text()).get("error");
        assertTrue(error != null && error.isString() && !error.stringValue().isBlank(), () -> what + ": {\"error\": reason} expected: " + r);
    }

    static JsonNode json(TestKit.HttpResponse r) {
        assertTrue(r.header("Content-Type").startsWith("application/json"), () -> "JSON expected: " + r);
        return JSON.readTree(r.text());
    }

    // ---------------------------------------------------------------- static files

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void rootServesIndexHtmlWithValidators(String mode) throws Exception {
        var r = request(mode, "GET", "/");
        assertStatus(200, r, "GET /");
        assertEquals("text/html; charset=utf-8", r.header("Content-Type"), r::toString);
        assertTrue(r.text().contains("<title>Test root</title>"), r::toString);
        assertEquals(String.valueOf(r.body().length), r.header("Content-Length"), "Content-Length is exact");
        assertNotNull(r.header("ETag"), "ETag");
        assertNotNull(r.header("Last-Modified"), "Last-Modified");
    }

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void contentTypeFollowsTheExtension(String mode) throws Exception {
        Map<String, String> expected = new LinkedHashMap<>();
        expected.put("/style.css", "text/css; charset=utf-8");
        expected.put("/app.js", "text/javascript; charset=utf-8");
        expected.put("/logo.svg", "image/svg+xml");
        expected.put("/data.json", "application/json");
        expected.put("/note.txt", "text/plain; charset=utf-8");
        expected.put("/blob.bin", "application/octet-stream");
        expected.put("/docs/", "text/html; charset=utf-8");
        for (var e : expected.entrySet()) {
            var r = request(mode, "GET", e.getKey());
            assertStatus(200, r, "GET " + e.getKey());
            assertEquals(e.getValue(), r.header("Content-Type"), () -> "GET " + e.getKey() + " -> " + r);
        }
        assertArrayEquals(new byte[]{0, 1, 2, (byte) 255}, request(mode, "GET", "/blob.bin").body(), "binary file byte for byte");
    }

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void headSendsTheHeadersOfGetAndNoBody(String mode) throws Exception {
        int length = request(mode, "GET", "/index.html").body().length;
        try (var c = new TestKit.Conn(port(mode))) {
            c.send("HEAD /index.html HTTP/1.1\r\nHost: test\r\n\r\n");
            var head = c.readHeadResponse();
            assertStatus(200, head, "HEAD /index.html");
            assertEquals(String.valueOf(length), head.header("Content-Length"), "HEAD shows the length a GET gets");
            // If the server had sent a body after the HEAD response, it would be read here as the next status line.
            c.send("GET /health HTTP/1.1\r\nHost: test\r\n\r\n");
            assertStatus(200, c.readResponse(), "GET /health after HEAD on the same connection");
        }
    }

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void matchingValidatorsGive304WithoutBody(String mode) throws Exception {
        var first = request(mode, "GET", "/style.css");
        String etag = first.header("ETag"), lastModified = first.header("Last-Modified");
        var byTag = request(mode, "GET", "/style.css", "If-None-Match: " + etag);
        assertStatus(304, byTag, "If-None-Match: " + etag);
        assertEquals(0, byTag.body().length);
        assertEquals(etag, byTag.header("ETag"), "304 repeats the ETag");
        assertStatus(304, request(mode, "GET", "/style.css", "If-None-Match: \"other\", " + etag), "a list of tags");
        assertStatus(304, request(mode, "GET", "/style.css", "If-None-Match: *"), "If-None-Match: *");
        assertStatus(304, request(mode, "GET", "/style.css", "If-Modified-Since: " + lastModified), "If-Modified-Since = Last-Modified");
        assertStatus(200, request(mode, "GET", "/style.css", "If-None-Match: \"other\""), "a tag that does not match");
        assertStatus(200, request(mode, "GET", "/style.css", "If-Modified-Since: Mon, 01 Jan 1990 00:00:00 GMT"), "an old date");
        assertStatus(200, request(mode, "GET", "/style.css", "If-None-Match: \"other\"", "If-Modified-Since: " + lastModified),
                "If-Modified-Since is ignored when If-None-Match is present");
    }

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void aDirectoryServesItsIndexAndRedirectsWithoutSlash(String mode) throws Exception {
        var r = request(mode, "GET", "/docs");
        assertStatus(301, r, "GET /docs");
        assertEquals("/docs/", r.header("Location"));
        var page = request(mode, "GET", "/docs/");
        assertStatus(200, page, "GET /docs/");
        assertTrue(page.text().contains("nested page"), page::toString);
    }

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void nothingOutsideTheRootIsServed(String mode) throws Exception {
        for (String target : List.of("/../outside/secret.txt", "/%2e%2e/outside/secret.txt", "/docs/%2E%2E/%2e%2e/outside/secret.txt",
                "/..%2foutside%2fsecret.txt", "/%2e%2e%2foutside%2fsecret.txt", "/docs/..%5c..%5coutside%5csecret.txt",
                "/.hidden", "/%2ehidden", "/link-out", "/dir-out/secret.txt", "/index.html%00.txt", "/no-such-file")) {
            var r = request(mode, "GET", target);
            assertJsonError(404, r, "GET " + target);
            assertFalse(r.text().contains("SECRET"), () -> "GET " + target + " leaked: " + r);
        }
        assertStatus(200, request(mode, "GET", "/health"), "still serving");
    }

    // ---------------------------------------------------------------- gzip

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void gzipWhenAcceptEncodingAllowsIt(String mode) throws Exception {
        String plain = request(mode, "GET", "/index.html").text();
        Map<String, Boolean> cases = new LinkedHashMap<>();
        cases.put("gzip", true);
        cases.put("deflate, gzip;q=0.5, br", true);
        cases.put("GZIP", true);
        cases.put("*", true);
        cases.put("gzip;q=0", false);
        cases.put("gzip;q=0, *", false);
        cases.put("identity", false);
        cases.put("br, deflate", false);
        cases.put("*;q=0", false);
        for (var c : cases.entrySet()) {
            var r = request(mode, "GET", "/index.html", "Accept-Encoding: " + c.getKey());
            String what = "Accept-Encoding: " + c.getKey();
            assertStatus(200, r, what);
            assertEquals(c.getValue() ? "gzip" : null, r.header("Content-Encoding"), () -> what + " -> " + r);
            assertEquals("Accept-Encoding", r.header("Vary"), () -> what + ": Vary -> " + r);
            assertEquals(String.valueOf(r.body().length), r.header("Content-Length"), what + ": length of the bytes sent");
            assertEquals(plain, r.text(), what + ": same content");
        }
        var echo = request(mode, "GET", "/echo/abc", "Accept-Encoding: gzip");
        assertEquals("gzip", echo.header("Content-Encoding"), () -> "small text is gzipped too: " + echo);
        assertEquals("abc", echo.text());
        var binary = request(mode, "GET", "/blob.bin", "Accept-Encoding: gzip");
        assertNull(binary.header("Content-Encoding"), () -> "application/octet-stream is not compressed: " + binary);
    }

    // ---------------------------------------------------------------- /health and the JSON API

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void healthSaysWhoIsAnswering(String mode) throws Exception {
        var r = request(mode, "GET", "/health");
        assertStatus(200, r, "GET /health");
        assertEquals("*", r.header("Access-Control-Allow-Origin"));
        JsonNode h = json(r);
        assertEquals("ok", h.get("status").stringValue());
        assertEquals(serverName(), h.get("server").stringValue());
        assertEquals(mode, h.get("mode").stringValue());
        assertEquals(port(mode), h.get("port").intValue());
        assertTrue(h.get("uptime_ms").isIntegralNumber() && h.get("uptime_ms").longValue() >= 0, r::toString);
    }

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void createReturns201WithLocationAndTheItemCanBeRead(String mode) throws Exception {
        var r = post(mode, "/api/create", "application/json; charset=utf-8", "{\"name\": \"Grüße\"}");
        assertStatus(201, r, "POST /api/create");
        JsonNode created = json(r);
        long id = created.get("id").longValue();
        assertEquals("Grüße", created.get("name").stringValue());
        assertEquals("Resource created successfully", created.get("message").stringValue());
        java.time.Instant.parse(created.get("created_at").stringValue());
        assertEquals("/api/items/" + id, r.header("Location"));
        JsonNode item = json(request(mode, "GET", r.header("Location")));
        assertEquals(id, item.get("id").longValue());
        assertEquals("Grüße", item.get("name").stringValue());
        assertEquals(created.get("created_at"), item.get("created_at"));
        boolean listed = false;
        for (JsonNode i : json(request(mode, "GET", "/api/items"))) listed |= i.get("id").longValue() == id;
        assertTrue(listed, "the new item is in /api/items");
        assertJsonError(404, request(mode, "GET", "/api/items/999999999"), "unknown id");
        assertJsonError(404, request(mode, "GET", "/api/items/abc"), "non-numeric id");
    }

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void createRejectsBadInputWithAReason(String mode) throws Exception {
        assertJsonError(400, post(mode, "/api/create", "application/json", "{\"name\": "), "truncated JSON");
        assertJsonError(400, post(mode, "/api/create", "application/json", "{\"name\": \"a\"} trailing"), "trailing garbage");
        assertJsonError(400, post(mode, "/api/create", "application/json", ""), "empty body");
        assertJsonError(400, post(mode, "/api/create", "application/json", "{}"), "missing name");
        assertJsonError(400, post(mode, "/api/create", "application/json", "{\"name\": \"   \"}"), "blank name");
        assertJsonError(400, post(mode, "/api/create", "application/json", "{\"name\": 42}"), "name not a string");
        assertJsonError(400, post(mode, "/api/create", "application/json", "[\"name\"]"), "not an object");
        assertJsonError(415, post(mode, "/api/create", "text/plain", "{\"name\": \"a\"}"), "text/plain body");
        assertJsonError(415, post(mode, "/api/create", null, "{\"name\": \"a\"}"), "no Content-Type");
        assertStatus(201, post(mode, "/api/create", "application/vnd.test+json", "{\"name\": \"a\"}"), "a +json type is JSON");
        String big = "{\"name\": \"" + "x".repeat(1_100_000) + "\"}";
        assertJsonError(413, post(mode, "/api/create", "application/json", big), "a body over 1 MiB");
        // The same with a chunked body: no Content-Length to judge by, so the limit applies while reading.
        try (var c = new TestKit.Conn(port(mode))) {
            c.send("POST /api/create HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
            byte[] chunk = ("100000\r\n" + "x".repeat(0x100000) + "\r\n").getBytes(StandardCharsets.ISO_8859_1);
            try {
                c.send(chunk);
                c.send(chunk);
                c.send("0\r\n\r\n");
            } catch (IOException serverClosedEarly) {
                // a server may answer 413 and close before reading everything: the response is still there to read
            }
            assertJsonError(413, c.readResponse(), "a chunked body over 1 MiB");
        }
        assertStatus(200, request(mode, "GET", "/health"), "still serving");
    }

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void concurrentCreatesGetUniqueIdsAndNoneIsLost(String mode) throws Exception {
        assumeTrue(servesConnectionsConcurrently(mode), "one connection at a time");
        List<Long> ids = TestKit.concurrently(200, () -> {
            var r = post(mode, "/api/create", "application/json", "{\"name\": \"c\"}");
            assertStatus(201, r, "concurrent POST /api/create");
            return json(r).get("id").longValue();
        });
        assertEquals(200, new HashSet<>(ids).size(), "200 creates, 200 distinct ids: " + ids);
        Set<Long> listed = new HashSet<>();
        for (JsonNode i : json(request(mode, "GET", "/api/items"))) listed.add(i.get("id").longValue());
        assertTrue(listed.containsAll(ids), "every created item is listed");
    }

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void chunkedRequestBodyIsAccepted(String mode) throws Exception {
        try (var c = new TestKit.Conn(port(mode))) {
            c.send("POST /api/create HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "9\r\n{\"name\": \r\n8\r\n\"chunky\"\r\n1\r\n}\r\n0\r\n\r\n");
            var r = c.readResponse();
            assertStatus(201, r, "chunked POST /api/create");
            assertEquals("chunky", json(r).get("name").stringValue());
        }
    }

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void expect100ContinueIsAnsweredBeforeTheBody(String mode) throws Exception {
        try (var c = new TestKit.Conn(port(mode))) {
            c.send("POST /api/create HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 15\r\nExpect: 100-continue\r\n\r\n");
            String interim = c.readUntil("\r\n\r\n");
            assertTrue(interim.startsWith("HTTP/1.1 100"), () -> "100 Continue before the body: " + TestKit.show(interim));
            c.send("{\"name\": \"exp\"}");
            assertStatus(201, c.readResponse(), "the final answer");
        }
    }

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void apiEchoReturnsTheJsonItReceived(String mode) throws Exception {
        var r = post(mode, "/api/echo", "application/json", "{\"a\": [1, 2, {\"b\": null}], \"s\": \"\\u00e9\"}");
        assertStatus(200, r, "POST /api/echo");
        assertEquals(JSON.readTree("{\"received\": {\"a\": [1, 2, {\"b\": null}], \"s\": \"é\"}}"), json(r));
        assertJsonError(400, post(mode, "/api/echo", "application/json", "{nope"), "malformed JSON");
        assertJsonError(415, post(mode, "/api/echo", "text/plain", "{}"), "not JSON");
    }

    // ---------------------------------------------------------------- /echo, /user-agent, /files

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void echoReturnsThePercentDecodedText(String mode) throws Exception {
        var r = request(mode, "GET", "/echo/hello%20w%C3%B6rld+1");
        assertStatus(200, r, "GET /echo/...");
        assertEquals("text/plain; charset=utf-8", r.header("Content-Type"));
        assertEquals("hello wörld+1", r.text());
        assertEquals("", request(mode, "GET", "/echo/").text(), "empty text");
        // Only the status here: a server may refuse such a request-target before any handler runs (the JDK's does).
        assertStatus(400, TestKit.exchange(port(mode), "GET /echo/%zz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"), "malformed percent-encoding");
    }

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void userAgentIsEchoedAndRequired(String mode) throws Exception {
        var r = request(mode, "GET", "/user-agent", "User-Agent: foobar/1.2.3");
        assertStatus(200, r, "GET /user-agent");
        assertEquals("text/plain; charset=utf-8", r.header("Content-Type"));
        assertEquals("foobar/1.2.3", r.text());
        assertJsonError(400, request(mode, "GET", "/user-agent"), "no User-Agent");
    }

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void filesAreWrittenAndReadInTheDirectoryOnly(String mode) throws Exception {
        String name = "upload-" + mode + ".bin";
        assertJsonError(404, request(mode, "GET", "/files/" + name), "not written yet");
        var created = post(mode, "/files/" + name, "application/octet-stream", "some bytes\r\nmore");
        assertStatus(201, created, "POST /files/" + name);
        assertEquals("some bytes\r\nmore", Files.readString(uploads.resolve(name)), "the body is on disk");
        var read = request(mode, "GET", "/files/" + name);
        assertStatus(200, read, "GET /files/" + name);
        assertEquals("application/octet-stream", read.header("Content-Type"));
        assertEquals("some bytes\r\nmore", new String(read.body(), StandardCharsets.ISO_8859_1));
        for (String bad : List.of("..%2fescaped.txt", "%2e%2e", "..", "a%2fb", "..%5cescaped.txt", "x%00y")) {
            assertStatus(400, post(mode, "/files/" + bad, "application/octet-stream", "EVIL"), "POST /files/" + bad);
        }
        try (var files = Files.walk(base)) {
            assertTrue(files.filter(Files::isRegularFile).noneMatch(p -> {
                try { return Files.readString(p).equals("EVIL"); } catch (IOException e) { return false; }
            }), "nothing written by a bad name");
        }
    }

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void filesAre404WithoutADirectory(String mode) throws Exception {
        int p = serversWithoutDirectory.computeIfAbsent(mode, m -> startOrFail(m, null)).port();
        assertJsonError(404, TestKit.exchange(p, "GET /files/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"), "GET /files/x");
        assertJsonError(404, TestKit.exchange(p, "POST /files/x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"), "POST /files/x");
    }

    // ---------------------------------------------------------------- /io and /cpu

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void ioAndCpuTasksAnswerWithTheirResult(String mode) throws Exception {
        JsonNode io = json(request(mode, "GET", "/io?ms=20"));
        assertEquals("io", io.get("task").stringValue());
        assertEquals(20, io.get("ms").intValue());
        assertFalse(io.get("thread").stringValue().isEmpty());
        JsonNode cpu = json(request(mode, "GET", "/cpu?n=100"));
        assertEquals(25, cpu.get("primes").intValue(), "25 primes up to 100");
        assertEquals(78498, json(request(mode, "GET", "/cpu?n=1000000")).get("primes").intValue(), "78498 primes up to 10^6");
        for (String bad : List.of("/io?ms=abc", "/io?ms=-1", "/io?ms=10001", "/cpu?n=x", "/cpu?n=10000001")) {
            assertJsonError(400, request(mode, "GET", bad), "GET " + bad);
        }
    }

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void aSlowRequestBlocksOthersOnlyWhereTheModelSaysSo(String mode) throws Exception {
        assumeTrue(servesConnectionsConcurrently(mode), "one connection at a time");
        // A slow /io request, then a fast one on another connection. Which answer comes first is the lesson.
        // Nothing tells a client when the server has started the slow one, so a blocking model may, rarely,
        // pick up the fast request first: that case is tried again (three times at most), never waited out.
        for (int attempt = 1; ; attempt++) {
            boolean fastWaitedForSlow = fastRequestWaitedForSlowOne(mode);
            if (!slowRequestBlocksOthers(mode)) {
                assertFalse(fastWaitedForSlow, "in " + mode + " mode a fast request must not wait for a slow one");
                return;
            }
            if (fastWaitedForSlow) return;
            assertTrue(attempt < 3, "in " + mode + " mode a fast request should wait for the slow one, but was answered first 3 times");
        }
    }

    /** True if, when the fast request's answer arrived, the slow request's answer had already come. */
    boolean fastRequestWaitedForSlowOne(String mode) throws Exception {
        try (var slow = new TestKit.Conn(port(mode)); var fast = new TestKit.Conn(port(mode))) {
            slow.send("GET /io?ms=2000 HTTP/1.1\r\nHost: test\r\n\r\n");
            fast.send("GET /health HTTP/1.1\r\nHost: test\r\n\r\n");
            assertStatus(200, fast.readResponse(), "the fast request");
            boolean slowAlreadyAnswered = slow.socket.getInputStream().available() > 0;
            assertStatus(200, slow.readResponse(), "the slow request");
            return slowAlreadyAnswered;
        }
    }

    // ---------------------------------------------------------------- methods, errors, connections

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void wrongMethodIs405WithAllowAndUnknownMethodIs501(String mode) throws Exception {
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("POST /health", "GET, HEAD");
        cases.put("GET /api/create", "POST");
        cases.put("PUT /api/echo", "POST");
        cases.put("DELETE /files/x", "GET, HEAD, POST");
        cases.put("POST /index.html", "GET, HEAD");
        for (var c : cases.entrySet()) {
            String[] mt = c.getKey().split(" ");
            var r = request(mode, mt[0], mt[1], "Content-Length: 0");
            assertJsonError(405, r, c.getKey());
            assertEquals(c.getValue(), r.header("Allow"), () -> c.getKey() + " -> " + r);
        }
        var options = request(mode, "OPTIONS", "/health");
        assertStatus(204, options, "OPTIONS /health");
        assertEquals("GET, HEAD", options.header("Allow"));
        assertJsonError(501, request(mode, "BREW", "/health"), "BREW /health");
        assertJsonError(404, request(mode, "GET", "/no/such/path"), "unknown path");
    }

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void badRequestsGet4xxAndTheServerKeepsServing(String mode) throws Exception {
        Map<String, Integer> cases = new LinkedHashMap<>();
        cases.put("GET /health HTTP/1.1\r\n\r\n", 400);                                  // no Host
        cases.put("GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);            // two Hosts
        cases.put("GET /health HTTP/1.1\r\nHost: a\r\nX-Bad: a\u0001b\r\n\r\n", 400);    // control character
        cases.put("GET /health HTTP/3.0\r\nHost: a\r\n\r\n", 505);
        cases.put("GET /health HTTP/1.1\r\nHost : a\r\n\r\n", 400);                       // space before colon
        cases.put("POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400);
        cases.put("POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
        cases.put("POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400); // bad chunk size
        cases.put("POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n{}", 501);   // unknown coding
        for (var c : cases.entrySet()) {
            try (var conn = new TestKit.Conn(port(mode))) {
                conn.send(c.getKey());
                var r = conn.readResponse();
                assertStatus(c.getValue(), r, "sent " + TestKit.show(c.getKey()));
            }
        }
        // A client that sends half a request and vanishes must not take the server with it.
        try (var conn = new TestKit.Conn(port(mode))) {
            conn.send("POST /api/create HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na");
        }
        try (var conn = new TestKit.Conn(port(mode))) {
            conn.send("GET /hea");
        }
        assertStatus(200, request(mode, "GET", "/health"), "still serving");
    }

    @ParameterizedTest(name = "{0}") @MethodSource("modeNames")
    void connectionsAreKeptAliveUntilCloseIsAsked(String mode) throws Exception {
        try (var c = new TestKit.Conn(port(mode))) {
            for (int i = 0; i < 3; i++) {
                c.send("GET /health HTTP/1.1\r\nHost: test\r\n\r\n");
                var r = c.readResponse();
                assertStatus(200, r, "request " + (i + 1) + " on one connection");
                assertNotEquals("close", r.header("Connection"));
            }
            c.send("GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
            var last = c.readResponse();
            assertStatus(200, last, "Connection: close");
            assertEquals("close", last.header("Connection"), "Connection: close is echoed");
            assertTrue(c.closedByPeer(Duration.ofSeconds(10)), "then the server closes the connection");
        }
        try (var c = new TestKit.Conn(port(mode))) {
            c.send("GET /health HTTP/1.0\r\n\r\n");
            assertStatus(200, c.readResponse(), "HTTP/1.0");
            assertTrue(c.closedByPeer(Duration.ofSeconds(10)), "HTTP/1.0 without keep-alive is closed after the response");
        }
    }
}
