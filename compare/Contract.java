// The HTTP contract, defined once: the checks Compare runs against any side and the tests run against every mode.

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.time.Duration;
import java.time.Instant;
import java.util.*;

/**
 * The checks of the README's HTTP contract, as data: each is a name, a line a reader understands, and a body that
 * talks raw bytes to a server and fails with what it sent and what came back. Compare's `test` and `compare` run
 * them against any side; tests/HttpContract.java turns the same list into JUnit tests for every mode of both
 * servers. There is no second copy.
 */
public final class Contract {
    private Contract() {}

    /** A check: its name (the test's name in the suite), what it pins down, and how. */
    public record Check(String name, String what, Body body) {}

    public interface Body { void run(Site site) throws Exception; }

    /** A check that cannot say anything about this side (the reason says why); not a failure. */
    public static final class Skip extends RuntimeException {
        public Skip(String reason) { super(reason, null, false, false); }
    }

    /** A check that failed: the message says what was sent and what came back. */
    public static final class CheckFailed extends AssertionError {
        CheckFailed(String message) { super(message); }
    }

    /** What a check needs to know about the server it talks to. */
    public interface Site {
        int port();

        /** The value of "server" in /health; null: any non-blank string. */
        default String expectedServer() { return null; }

        /** The value of "mode" in /health; null: any non-blank string. */
        default String expectedMode() { return null; }

        /** The web root holds the contract's files (Fixture), and --directory is its uploads folder; null: unknown root. */
        default Fixture fixture() { return null; }

        default boolean servesConnectionsConcurrently() { return true; }

        /** Whether one slow request delays requests on other connections; null: unknown (that check is skipped). */
        default Boolean slowRequestBlocksOthers() { return null; }

        /** The port of the same server started without --directory; -1: none (that check is skipped). */
        default int portWithoutDirectory() throws Exception { return -1; }
    }

    /** The contract's web root: the files the static checks rely on, in a temporary folder. */
    public record Fixture(Path base, Path root, Path outside, Path uploads) {
        public static Fixture create() throws IOException {
            Path base = Files.createTempDirectory("contract-");
            var f = new Fixture(base, base.resolve("www"), base.resolve("outside"), base.resolve("uploads"));
            Path root = f.root;
            Files.createDirectories(root.resolve("docs"));
            Files.createDirectories(f.outside);
            Files.createDirectories(f.uploads);
            Files.writeString(root.resolve("index.html"), "<!DOCTYPE html><html><head><title>Test root</title></head><body>" + "hello ".repeat(100) + "</body></html>");
            Files.writeString(root.resolve("docs/index.html"), "<html><body>nested page</body></html>");
            Files.writeString(root.resolve("style.css"), "body { color: red; }\n".repeat(20));
            Files.writeString(root.resolve("app.js"), "console.log('hi');\n");
            Files.writeString(root.resolve("logo.svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>");
            Files.writeString(root.resolve("data.json"), "{\"a\":1}");
            Files.writeString(root.resolve("note.txt"), "plain text\n");
            Files.write(root.resolve("blob.bin"), new byte[]{0, 1, 2, (byte) 255});
            Files.writeString(root.resolve(".hidden"), "SECRET-HIDDEN");
            Files.writeString(f.outside.resolve("secret.txt"), "SECRET-OUTSIDE");
            Files.createSymbolicLink(root.resolve("link-out"), f.outside.resolve("secret.txt"));
            Files.createSymbolicLink(root.resolve("dir-out"), f.outside);
            return f;
        }

        public void delete() { Util.deleteTree(base); }
    }

    // ---------------------------------------------------------------- the checks, in the README's order

    public static final List<Check> CHECKS = List.of(
            new Check("rootServesIndexHtmlWithValidators", "GET / serves index.html, exact length, ETag, Last-Modified", Contract::rootServesIndexHtmlWithValidators),
            new Check("contentTypeFollowsTheExtension", "Content-Type follows the extension", Contract::contentTypeFollowsTheExtension),
            new Check("headSendsTheHeadersOfGetAndNoBody", "HEAD: the headers of GET, no body", Contract::headSendsTheHeadersOfGetAndNoBody),
            new Check("matchingValidatorsGive304WithoutBody", "If-None-Match / If-Modified-Since give 304", Contract::matchingValidatorsGive304WithoutBody),
            new Check("aDirectoryServesItsIndexAndRedirectsWithoutSlash", "a directory: its index, 301 without slash", Contract::aDirectoryServesItsIndexAndRedirectsWithoutSlash),
            new Check("nothingOutsideTheRootIsServed", "traversal, hidden files, symlinks out: 404", Contract::nothingOutsideTheRootIsServed),
            new Check("gzipWhenAcceptEncodingAllowsIt", "gzip when Accept-Encoding allows it", Contract::gzipWhenAcceptEncodingAllowsIt),
            new Check("healthSaysWhoIsAnswering", "GET /health says who answers", Contract::healthSaysWhoIsAnswering),
            new Check("createReturns201WithLocationAndTheItemCanBeRead", "POST /api/create: 201, Location, item listed", Contract::createReturns201WithLocationAndTheItemCanBeRead),
            new Check("createRejectsBadInputWithAReason", "POST /api/create: 400/413/415 with a reason", Contract::createRejectsBadInputWithAReason),
            new Check("concurrentCreatesGetUniqueIdsAndNoneIsLost", "200 concurrent creates: unique ids, none lost", Contract::concurrentCreatesGetUniqueIdsAndNoneIsLost),
            new Check("chunkedRequestBodyIsAccepted", "a chunked request body", Contract::chunkedRequestBodyIsAccepted),
            new Check("expect100ContinueIsAnsweredBeforeTheBody", "Expect: 100-continue", Contract::expect100ContinueIsAnsweredBeforeTheBody),
            new Check("apiEchoReturnsTheJsonItReceived", "POST /api/echo returns the JSON", Contract::apiEchoReturnsTheJsonItReceived),
            new Check("echoReturnsThePercentDecodedText", "GET /echo/{text}, percent-decoded", Contract::echoReturnsThePercentDecodedText),
            new Check("userAgentIsEchoedAndRequired", "GET /user-agent, 400 without one", Contract::userAgentIsEchoedAndRequired),
            new Check("filesAreWrittenAndReadInTheDirectoryOnly", "/files/{name}: written, read, no escape", Contract::filesAreWrittenAndReadInTheDirectoryOnly),
            new Check("filesAre404WithoutADirectory", "/files without --directory: 404", Contract::filesAre404WithoutADirectory),
            new Check("ioAndCpuTasksAnswerWithTheirResult", "/io and /cpu answer, 400 on bad input", Contract::ioAndCpuTasksAnswerWithTheirResult),
            new Check("aSlowRequestBlocksOthersOnlyWhereTheModelSaysSo", "a slow request blocks others only where the model says so", Contract::aSlowRequestBlocksOthersOnlyWhereTheModelSaysSo),
            new Check("wrongMethodIs405WithAllowAndUnknownMethodIs501", "405 with Allow, 501 for unknown methods", Contract::wrongMethodIs405WithAllowAndUnknownMethodIs501),
            new Check("badRequestsGet4xxAndTheServerKeepsServing", "malformed requests: 4xx, server goes on", Contract::badRequestsGet4xxAndTheServerKeepsServing),
            new Check("connectionsAreKeptAliveUntilCloseIsAsked", "keep-alive until Connection: close", Contract::connectionsAreKeptAliveUntilCloseIsAsked));

    static final JsonMapper JSON = JsonMapper.builder().build();

    static Fixture needFixture(Site s) {
        if (s.fixture() == null) throw new Skip("needs the contract's web root (a side Compare starts, or a cmd: side with {root})");
        return s.fixture();
    }

    // ---------------------------------------------------------------- static files

    static void rootServesIndexHtmlWithValidators(Site s) throws Exception {
        needFixture(s);
        var r = request(s, "GET", "/");
        status(200, r, "GET /");
        equal("text/html; charset=utf-8", r.header("Content-Type"), "GET / Content-Type: " + r);
        expect(r.text().contains("<title>Test root</title>"), "GET / is the root's index.html: " + r);
        equal(String.valueOf(r.body().length), r.header("Content-Length"), "Content-Length is exact");
        expect(r.header("ETag") != null, "ETag: " + r);
        expect(r.header("Last-Modified") != null, "Last-Modified: " + r);
    }

    static void contentTypeFollowsTheExtension(Site s) throws Exception {
        needFixture(s);
        Map<String, String> expected = new LinkedHashMap<>();
        expected.put("/style.css", "text/css; charset=utf-8");
        expected.put("/app.js", "text/javascript; charset=utf-8");
        expected.put("/logo.svg", "image/svg+xml");
        expected.put("/data.json", "application/json");
        expected.put("/note.txt", "text/plain; charset=utf-8");
        expected.put("/blob.bin", "application/octet-stream");
        expected.put("/docs/", "text/html; charset=utf-8");
        for (var e : expected.entrySet()) {
            var r = request(s, "GET", e.getKey());
            status(200, r, "GET " + e.getKey());
            equal(e.getValue(), r.header("Content-Type"), "GET " + e.getKey() + " -> " + r);
        }
        expect(Arrays.equals(new byte[]{0, 1, 2, (byte) 255}, request(s, "GET", "/blob.bin").body()), "binary file byte for byte");
    }

    static void headSendsTheHeadersOfGetAndNoBody(Site s) throws Exception {
        int length = request(s, "GET", "/index.html").body().length;
        try (var c = new Wire(s.port())) {
            c.send("HEAD /index.html HTTP/1.1\r\nHost: test\r\n\r\n");
            var head = c.readHeadResponse();
            status(200, head, "HEAD /index.html");
            equal(String.valueOf(length), head.header("Content-Length"), "HEAD shows the length a GET gets");
            // If the server had sent a body after the HEAD response, it would be read here as the next status line.
            c.send("GET /health HTTP/1.1\r\nHost: test\r\n\r\n");
            status(200, c.readResponse(), "GET /health after HEAD on the same connection");
        }
    }

    static void matchingValidatorsGive304WithoutBody(Site s) throws Exception {
        needFixture(s);
        var first = request(s, "GET", "/style.css");
        String etag = first.header("ETag"), lastModified = first.header("Last-Modified");
        var byTag = request(s, "GET", "/style.css", "If-None-Match: " + etag);
        status(304, byTag, "If-None-Match: " + etag);
        equal(0, byTag.body().length, "304 has no body");
        equal(etag, byTag.header("ETag"), "304 repeats the ETag");
        status(304, request(s, "GET", "/style.css", "If-None-Match: \"other\", " + etag), "a list of tags");
        status(304, request(s, "GET", "/style.css", "If-None-Match: *"), "If-None-Match: *");
        status(304, request(s, "GET", "/style.css", "If-Modified-Since: " + lastModified), "If-Modified-Since = Last-Modified");
        status(200, request(s, "GET", "/style.css", "If-None-Match: \"other\""), "a tag that does not match");
        status(200, request(s, "GET", "/style.css", "If-Modified-Since: Mon, 01 Jan 1990 00:00:00 GMT"), "an old date");
        status(200, request(s, "GET", "/style.css", "If-None-Match: \"other\"", "If-Modified-Since: " + lastModified),
                "If-Modified-Since is ignored when If-None-Match is present");
    }

    static void aDirectoryServesItsIndexAndRedirectsWithoutSlash(Site s) throws Exception {
        needFixture(s);
        var r = request(s, "GET", "/docs");
        status(301, r, "GET /docs");
        equal("/docs/", r.header("Location"), "Location of GET /docs");
        var page = request(s, "GET", "/docs/");
        status(200, page, "GET /docs/");
        expect(page.text().contains("nested page"), "GET /docs/ serves docs/index.html: " + page);
    }

    static void nothingOutsideTheRootIsServed(Site s) throws Exception {
        for (String target : List.of("/../outside/secret.txt", "/%2e%2e/outside/secret.txt", "/docs/%2E%2E/%2e%2e/outside/secret.txt",
                "/..%2foutside%2fsecret.txt", "/%2e%2e%2foutside%2fsecret.txt", "/docs/..%5c..%5coutside%5csecret.txt",
                "/.hidden", "/%2ehidden", "/link-out", "/dir-out/secret.txt", "/index.html%00.txt", "/no-such-file")) {
            var r = request(s, "GET", target);
            jsonError(404, r, "GET " + target);
            expect(!r.text().contains("SECRET"), "GET " + target + " leaked: " + r);
        }
        status(200, request(s, "GET", "/health"), "still serving");
    }

    // ---------------------------------------------------------------- gzip

    static void gzipWhenAcceptEncodingAllowsIt(Site s) throws Exception {
        needFixture(s);
        String plain = request(s, "GET", "/index.html").text();
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
            var r = request(s, "GET", "/index.html", "Accept-Encoding: " + c.getKey());
            String what = "Accept-Encoding: " + c.getKey();
            status(200, r, what);
            equal(c.getValue() ? "gzip" : null, r.header("Content-Encoding"), what + " -> " + r);
            equal("Accept-Encoding", r.header("Vary"), what + ": Vary -> " + r);
            equal(String.valueOf(r.body().length), r.header("Content-Length"), what + ": length of the bytes sent");
            equal(plain, r.text(), what + ": same content");
        }
        var echo = request(s, "GET", "/echo/abc", "Accept-Encoding: gzip");
        equal("gzip", echo.header("Content-Encoding"), "small text is gzipped too: " + echo);
        equal("abc", echo.text(), "gunzipped /echo/abc");
        var binary = request(s, "GET", "/blob.bin", "Accept-Encoding: gzip");
        equal(null, binary.header("Content-Encoding"), "application/octet-stream is not compressed: " + binary);
    }

    // ---------------------------------------------------------------- /health and the JSON API

    static void healthSaysWhoIsAnswering(Site s) throws Exception {
        var r = request(s, "GET", "/health");
        status(200, r, "GET /health");
        equal("*", r.header("Access-Control-Allow-Origin"), "Access-Control-Allow-Origin of /health");
        JsonNode h = json(r);
        equal("ok", text(h, "status"), "status in " + r);
        expectText(s.expectedServer(), text(h, "server"), "server in " + r);
        expectText(s.expectedMode(), text(h, "mode"), "mode in " + r);
        equal(s.port(), h.path("port").intValue(), "port in " + r);
        expect(h.path("uptime_ms").isIntegralNumber() && h.get("uptime_ms").longValue() >= 0, "uptime_ms in " + r);
    }

    static void createReturns201WithLocationAndTheItemCanBeRead(Site s) throws Exception {
        var r = post(s, "/api/create", "application/json; charset=utf-8", "{\"name\": \"Grüße\"}");
        status(201, r, "POST /api/create");
        JsonNode created = json(r);
        long id = created.path("id").longValue();
        equal("Grüße", text(created, "name"), "name in " + r);
        equal("Resource created successfully", text(created, "message"), "message in " + r);
        try {
            Instant.parse(text(created, "created_at"));
        } catch (RuntimeException e) {
            throw new CheckFailed("created_at is not ISO-8601: " + r);
        }
        equal("/api/items/" + id, r.header("Location"), "Location of " + r);
        JsonNode item = json(request(s, "GET", r.header("Location")));
        equal(id, item.path("id").longValue(), "id of the item read back");
        equal("Grüße", text(item, "name"), "name of the item read back");
        equal(created.get("created_at"), item.get("created_at"), "created_at of the item read back");
        boolean listed = false;
        for (JsonNode i : json(request(s, "GET", "/api/items"))) listed |= i.path("id").longValue() == id;
        expect(listed, "the new item is in /api/items");
        jsonError(404, request(s, "GET", "/api/items/999999999"), "unknown id");
        jsonError(404, request(s, "GET", "/api/items/abc"), "non-numeric id");
    }

    static void createRejectsBadInputWithAReason(Site s) throws Exception {
        jsonError(400, post(s, "/api/create", "application/json", "{\"name\": "), "truncated JSON");
        jsonError(400, post(s, "/api/create", "application/json", "{\"name\": \"a\"} trailing"), "trailing garbage");
        jsonError(400, post(s, "/api/create", "application/json", ""), "empty body");
        jsonError(400, post(s, "/api/create", "application/json", "{}"), "missing name");
        jsonError(400, post(s, "/api/create", "application/json", "{\"name\": \"   \"}"), "blank name");
        jsonError(400, post(s, "/api/create", "application/json", "{\"name\": 42}"), "name not a string");
        jsonError(400, post(s, "/api/create", "application/json", "[\"name\"]"), "not an object");
        jsonError(415, post(s, "/api/create", "text/plain", "{\"name\": \"a\"}"), "text/plain body");
        jsonError(415, post(s, "/api/create", null, "{\"name\": \"a\"}"), "no Content-Type");
        status(201, post(s, "/api/create", "application/vnd.test+json", "{\"name\": \"a\"}"), "a +json type is JSON");
        String big = "{\"name\": \"" + "x".repeat(1_100_000) + "\"}";
        jsonError(413, post(s, "/api/create", "application/json", big), "a body over 1 MiB");
        // The same with a chunked body: no Content-Length to judge by, so the limit applies while reading.
        try (var c = new Wire(s.port())) {
            c.send("POST /api/create HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
            byte[] chunk = ("100000\r\n" + "x".repeat(0x100000) + "\r\n").getBytes(StandardCharsets.ISO_8859_1);
            try {
                c.send(chunk);
                c.send(chunk);
                c.send("0\r\n\r\n");
            } catch (IOException serverClosedEarly) {
                // a server may answer 413 and close before reading everything: the response is still there to read
            }
            jsonError(413, c.readResponse(), "a chunked body over 1 MiB");
        }
        status(200, request(s, "GET", "/health"), "still serving");
    }

    static void concurrentCreatesGetUniqueIdsAndNoneIsLost(Site s) throws Exception {
        if (!s.servesConnectionsConcurrently()) throw new Skip("one connection at a time");
        List<Long> ids = Wire.concurrently(200, () -> {
            var r = post(s, "/api/create", "application/json", "{\"name\": \"c\"}");
            status(201, r, "concurrent POST /api/create");
            return json(r).path("id").longValue();
        });
        equal(200, new HashSet<>(ids).size(), "200 creates, 200 distinct ids: " + ids);
        Set<Long> listed = new HashSet<>();
        for (JsonNode i : json(request(s, "GET", "/api/items"))) listed.add(i.path("id").longValue());
        expect(listed.containsAll(ids), "every created item is listed");
    }

    static void chunkedRequestBodyIsAccepted(Site s) throws Exception {
        try (var c = new Wire(s.port())) {
            c.send("POST /api/create HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "9\r\n{\"name\": \r\n8\r\n\"chunky\"\r\n1\r\n}\r\n0\r\n\r\n");
            var r = c.readResponse();
            status(201, r, "chunked POST /api/create");
            equal("chunky", text(json(r), "name"), "name in " + r);
        }
    }

    static void expect100ContinueIsAnsweredBeforeTheBody(Site s) throws Exception {
        try (var c = new Wire(s.port())) {
            c.send("POST /api/create HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 15\r\nExpect: 100-continue\r\n\r\n");
            String interim = c.readUntil("\r\n\r\n");
            expect(interim.startsWith("HTTP/1.1 100"), "100 Continue before the body: " + Wire.show(interim));
            c.send("{\"name\": \"exp\"}");
            status(201, c.readResponse(), "the final answer");
        }
    }

    static void apiEchoReturnsTheJsonItReceived(Site s) throws Exception {
        var r = post(s, "/api/echo", "application/json", "{\"a\": [1, 2, {\"b\": null}], \"s\": \"\\u00e9\"}");
        status(200, r, "POST /api/echo");
        equal(JSON.readTree("{\"received\": {\"a\": [1, 2, {\"b\": null}], \"s\": \"é\"}}"), json(r), "POST /api/echo body");
        jsonError(400, post(s, "/api/echo", "application/json", "{nope"), "malformed JSON");
        jsonError(415, post(s, "/api/echo", "text/plain", "{}"), "not JSON");
    }

    // ---------------------------------------------------------------- /echo, /user-agent, /files

    static void echoReturnsThePercentDecodedText(Site s) throws Exception {
        var r = request(s, "GET", "/echo/hello%20w%C3%B6rld+1");
        status(200, r, "GET /echo/...");
        equal("text/plain; charset=utf-8", r.header("Content-Type"), "Content-Type of " + r);
        equal("hello wörld+1", r.text(), "GET /echo/hello%20w%C3%B6rld+1");
        equal("", request(s, "GET", "/echo/").text(), "empty text");
        // Only the status here: a server may refuse such a request-target before any handler runs (the JDK's does).
        status(400, exchange(s, "GET /echo/%zz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"), "malformed percent-encoding");
    }

    static void userAgentIsEchoedAndRequired(Site s) throws Exception {
        var r = request(s, "GET", "/user-agent", "User-Agent: foobar/1.2.3");
        status(200, r, "GET /user-agent");
        equal("text/plain; charset=utf-8", r.header("Content-Type"), "Content-Type of " + r);
        equal("foobar/1.2.3", r.text(), "GET /user-agent");
        jsonError(400, request(s, "GET", "/user-agent"), "no User-Agent");
    }

    static void filesAreWrittenAndReadInTheDirectoryOnly(Site s) throws Exception {
        Fixture f = needFixture(s);
        String name = "upload-" + s.port() + ".bin";
        jsonError(404, request(s, "GET", "/files/" + name), "not written yet");
        var created = post(s, "/files/" + name, "application/octet-stream", "some bytes\r\nmore");
        status(201, created, "POST /files/" + name);
        equal("some bytes\r\nmore", Files.isRegularFile(f.uploads().resolve(name)) ? Files.readString(f.uploads().resolve(name)) : null, "the body is on disk");
        var read = request(s, "GET", "/files/" + name);
        status(200, read, "GET /files/" + name);
        equal("application/octet-stream", read.header("Content-Type"), "Content-Type of " + read);
        equal("some bytes\r\nmore", new String(read.body(), StandardCharsets.ISO_8859_1), "GET /files/" + name);
        for (String bad : List.of("..%2fescaped.txt", "%2e%2e", "..", "a%2fb", "..%5cescaped.txt", "x%00y")) {
            status(400, post(s, "/files/" + bad, "application/octet-stream", "EVIL"), "POST /files/" + bad);
        }
        try (var files = Files.walk(f.base())) {
            expect(files.filter(Files::isRegularFile).noneMatch(p -> {
                try { return Files.readString(p).equals("EVIL"); } catch (IOException e) { return false; }
            }), "nothing written by a bad name");
        }
    }

    static void filesAre404WithoutADirectory(Site s) throws Exception {
        int p = s.portWithoutDirectory();
        if (p < 0) throw new Skip("needs a second server started without --directory (the test suite starts one)");
        jsonError(404, Wire.exchange(p, "GET /files/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"), "GET /files/x");
        jsonError(404, Wire.exchange(p, "POST /files/x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"), "POST /files/x");
    }

    // ---------------------------------------------------------------- /io and /cpu

    static void ioAndCpuTasksAnswerWithTheirResult(Site s) throws Exception {
        JsonNode io = json(request(s, "GET", "/io?ms=20"));
        equal("io", text(io, "task"), "task of /io");
        equal(20, io.path("ms").intValue(), "ms of /io?ms=20");
        expect(!text(io, "thread").isEmpty(), "thread of /io");
        JsonNode cpu = json(request(s, "GET", "/cpu?n=100"));
        equal(25, cpu.path("primes").intValue(), "25 primes up to 100");
        equal(78498, json(request(s, "GET", "/cpu?n=1000000")).path("primes").intValue(), "78498 primes up to 10^6");
        for (String bad : List.of("/io?ms=abc", "/io?ms=-1", "/io?ms=10001", "/cpu?n=x", "/cpu?n=10000001")) {
            jsonError(400, request(s, "GET", bad), "GET " + bad);
        }
    }

    static void aSlowRequestBlocksOthersOnlyWhereTheModelSaysSo(Site s) throws Exception {
        if (!s.servesConnectionsConcurrently()) throw new Skip("one connection at a time");
        Boolean blocks = s.slowRequestBlocksOthers();
        if (blocks == null) throw new Skip("which models block is known for our servers' modes only");
        // A slow /io request, then a fast one on another connection. Which answer comes first is the lesson.
        // Nothing tells a client when the server has started the slow one, so a blocking model may, rarely,
        // pick up the fast request first: that case is tried again (three times at most), never waited out.
        for (int attempt = 1; ; attempt++) {
            boolean fastWaitedForSlow = fastRequestWaitedForSlowOne(s);
            if (!blocks) {
                expect(!fastWaitedForSlow, "a fast request must not wait for a slow one in this model");
                return;
            }
            if (fastWaitedForSlow) return;
            expect(attempt < 3, "a fast request should wait for the slow one in this model, but was answered first 3 times");
        }
    }

    /** True if, when the fast request's answer arrived, the slow request's answer had already come. */
    static boolean fastRequestWaitedForSlowOne(Site s) throws Exception {
        try (var slow = new Wire(s.port()); var fast = new Wire(s.port())) {
            slow.send("GET /io?ms=2000 HTTP/1.1\r\nHost: test\r\n\r\n");
            fast.send("GET /health HTTP/1.1\r\nHost: test\r\n\r\n");
            status(200, fast.readResponse(), "the fast request");
            boolean slowAlreadyAnswered = slow.available() > 0;
            status(200, slow.readResponse(), "the slow request");
            return slowAlreadyAnswered;
        }
    }

    // ---------------------------------------------------------------- methods, errors, connections

    static void wrongMethodIs405WithAllowAndUnknownMethodIs501(Site s) throws Exception {
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("POST /health", "GET, HEAD");
        cases.put("GET /api/create", "POST");
        cases.put("PUT /api/echo", "POST");
        cases.put("DELETE /files/x", "GET, HEAD, POST");
        cases.put("POST /index.html", "GET, HEAD");
        for (var c : cases.entrySet()) {
            String[] mt = c.getKey().split(" ");
            var r = request(s, mt[0], mt[1], "Content-Length: 0");
            jsonError(405, r, c.getKey());
            equal(c.getValue(), r.header("Allow"), c.getKey() + " -> " + r);
        }
        var options = request(s, "OPTIONS", "/health");
        status(204, options, "OPTIONS /health");
        equal("GET, HEAD", options.header("Allow"), "Allow of OPTIONS /health");
        jsonError(501, request(s, "BREW", "/health"), "BREW /health");
        jsonError(404, request(s, "GET", "/no/such/path"), "unknown path");
    }

    static void badRequestsGet4xxAndTheServerKeepsServing(Site s) throws Exception {
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
            try (var conn = new Wire(s.port())) {
                conn.send(c.getKey());
                status(c.getValue(), conn.readResponse(), "sent " + Wire.show(c.getKey()));
            }
        }
        // A client that sends half a request and vanishes must not take the server with it.
        try (var conn = new Wire(s.port())) {
            conn.send("POST /api/create HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na");
        }
        try (var conn = new Wire(s.port())) {
            conn.send("GET /hea");
        }
        status(200, request(s, "GET", "/health"), "still serving");
    }

    static void connectionsAreKeptAliveUntilCloseIsAsked(Site s) throws Exception {
        try (var c = new Wire(s.port())) {
            for (int i = 0; i < 3; i++) {
                c.send("GET /health HTTP/1.1\r\nHost: test\r\n\r\n");
                var r = c.readResponse();
                status(200, r, "request " + (i + 1) + " on one connection");
                expect(!"close".equals(r.header("Connection")), "request " + (i + 1) + " kept alive: " + r);
            }
            c.send("GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
            var last = c.readResponse();
            status(200, last, "Connection: close");
            equal("close", last.header("Connection"), "Connection: close is echoed");
            expect(c.closedByPeer(Duration.ofSeconds(10)), "then the server closes the connection");
        }
        try (var c = new Wire(s.port())) {
            c.send("GET /health HTTP/1.0\r\n\r\n");
            status(200, c.readResponse(), "HTTP/1.0");
            expect(c.closedByPeer(Duration.ofSeconds(10)), "HTTP/1.0 without keep-alive is closed after the response");
        }
    }

    // ---------------------------------------------------------------- helpers of the checks

    /** Sends a request (Host, the extra header lines, Connection: close) on a fresh connection; every answer has a Date. */
    static Wire.Reply request(Site s, String method, String target, String... headerLines) throws IOException {
        var sb = new StringBuilder(method + " " + target + " HTTP/1.1\r\nHost: test\r\n");
        for (String h : headerLines) sb.append(h).append("\r\n");
        String raw = sb.append("Connection: close\r\n\r\n").toString();
        var r = exchange(s, raw);
        expect(r.header("Date") != null, "every response has a Date header; sent " + Wire.show(raw) + " got " + r);
        return r;
    }

    static Wire.Reply exchange(Site s, String raw) throws IOException { return Wire.exchange(s.port(), raw); }

    static Wire.Reply post(Site s, String target, String contentType, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        String raw = "POST " + target + " HTTP/1.1\r\nHost: test\r\n" + (contentType == null ? "" : "Content-Type: " + contentType + "\r\n")
                + "Content-Length: " + b.length + "\r\nConnection: close\r\n\r\n" + new String(b, StandardCharsets.ISO_8859_1);
        try (var c = new Wire(s.port())) {
            try {
                c.send(raw);
            } catch (IOException e) {
                // The server answered (413) and closed while the body was still going out: its answer is still to read.
            }
            return c.readResponse();
        }
    }

    static void expect(boolean ok, String message) {
        if (!ok) throw new CheckFailed(message);
    }

    static void equal(Object expected, Object actual, String what) {
        if (!Objects.equals(expected, actual)) throw new CheckFailed(what + " ==> expected: <" + expected + "> but was: <" + actual + ">");
    }

    /** The expected text, or any non-blank text when nothing particular is expected. */
    static void expectText(String expected, String actual, String what) {
        if (expected != null) equal(expected, actual, what);
        else expect(actual != null && !actual.isBlank(), what + ": a non-blank string expected");
    }

    static void status(int expected, Wire.Reply r, String what) {
        if (r.status() != expected) throw new CheckFailed(what + " ==> expected status " + expected + " but was " + r);
    }

    /** An error answer: the status, and a JSON body {"error": "..."} with a non-empty reason. */
    static void jsonError(int expected, Wire.Reply r, String what) {
        status(expected, r, what);
        expect(r.header("Content-Type") != null && r.header("Content-Type").startsWith("application/json"), what + ": error body must be JSON: " + r);
        JsonNode error = parse(r, what).get("error");
        expect(error != null && error.isString() && !error.stringValue().isBlank(), what + ": {\"error\": reason} expected: " + r);
    }

    static JsonNode json(Wire.Reply r) {
        expect(r.header("Content-Type") != null && r.header("Content-Type").startsWith("application/json"), "JSON expected: " + r);
        return parse(r, "JSON");
    }

    static JsonNode parse(Wire.Reply r, String what) {
        try {
            return JSON.readTree(r.text());
        } catch (RuntimeException e) {
            throw new CheckFailed(what + ": not JSON: " + r);
        }
    }

    static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || !v.isString() ? null : v.stringValue();
    }
}
