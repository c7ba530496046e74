//DEPS org.junit.jupiter:junit-jupiter:6.0.3
//DEPS org.junit.platform:junit-platform-launcher:6.0.3

// The small kit every test script shares (pulled in with `//SOURCES TestKit.java`):
// - run(...) runs JUnit test classes, prints one line per test and ends with "Name: N passed, N failed, N skipped";
// - Conn is a raw TCP client for byte-level conversations (HTTP or not), with a read timeout on every call;
// - ServerProcess starts a script as a real subprocess and reads the port from its ready line.
// Nothing here mocks a socket: every test talks to a real server on 127.0.0.1.

import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

import java.io.*;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

public final class TestKit {
    private TestKit() {}

    /** How long any single read may wait before a test fails instead of hanging. */
    public static final Duration READ_TIMEOUT = Duration.ofSeconds(20);

    // ---------------------------------------------------------------- running tests

    /**
     * Runs the given JUnit classes, prints each result, ends with "name: N passed, N failed, N skipped", exits 1 on a
     * failure. A skip is a test that says it does not apply (an aborted assumption, a disabled test): counted and
     * shown, never a pass. A missing tool is not a skip: it is a failure that names the tool.
     */
    public static void run(String name, Class<?>... classes) {
        var request = LauncherDiscoveryRequestBuilder.request()
                .selectors(Arrays.stream(classes).map(c -> selectClass(c)).toList())
                .configurationParameter("junit.jupiter.execution.timeout.default", "120 s")
                .build();
        var passed = new AtomicInteger();
        var failed = new AtomicInteger();
        var skipped = new AtomicInteger();
        var listener = new TestExecutionListener() {
            final Map<TestIdentifier, Long> started = new ConcurrentHashMap<>();

            @Override public void executionStarted(TestIdentifier id) { started.put(id, System.nanoTime()); }

            @Override public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                long ms = (System.nanoTime() - started.getOrDefault(id, System.nanoTime())) / 1_000_000;
                if (!id.isTest() && result.getStatus() == TestExecutionResult.Status.SUCCESSFUL) return;
                String label = label(id);
                switch (result.getStatus()) {
                    case SUCCESSFUL -> { passed.incrementAndGet(); System.out.printf("  ok    %s (%d ms)%n", label, ms); }
                    case ABORTED -> {
                        skipped.incrementAndGet();
                        System.out.printf("  skip  %s: %s%n", label, result.getThrowable().map(Throwable::getMessage).orElse(""));
                    }
                    case FAILED -> {
                        failed.incrementAndGet();
                        Throwable t = result.getThrowable().orElse(null);
                        System.out.printf("  FAIL  %s (%d ms)%n", label, ms);
                        if (t != null) {
                            System.out.println("        " + String.valueOf(t).replace("\n", "\n        "));
                            if (!(t instanceof AssertionError)) {
                                for (var e : t.getStackTrace()) {
                                    if (e.getClassName().startsWith("java.lang.reflect") || e.getClassName().startsWith("org.junit")) break;
                                    System.out.println("          at " + e);
                                }
                            }
                        }
                    }
                }
            }

            @Override public void executionSkipped(TestIdentifier id, String reason) {
                skipped.incrementAndGet();
                System.out.printf("  skip  %s: %s%n", label(id), reason);
            }

            /** "Class > method [parameters]", read off the unique id JUnit gives every test. */
            String label(TestIdentifier id) {
                String uid = id.getUniqueId(), cls = "", method = "";
                Matcher m = Pattern.compile("\\[(class|nested-class|method|test-template):([^\\]]*)\\]").matcher(uid);
                while (m.find()) {
                    if (m.group(1).endsWith("class")) cls = m.group(2).replaceAll(".*[.$]", "");
                    else method = m.group(2).replaceAll("\\(.*", "");
                }
                String display = id.getDisplayName();
                return cls + " > " + (method.isEmpty() || display.startsWith(method) ? display : method + " " + display);
            }
        };
        LauncherFactory.create().execute(request, listener);
        System.out.printf("%s: %d passed, %d failed, %d skipped%n", name, passed.get(), failed.get(), skipped.get());
        System.out.flush();
        // halt, not exit: a server thread a test left behind must not keep the JVM (and the suite) alive.
        Runtime.getRuntime().halt(failed.get() == 0 && passed.get() > 0 ? 0 : 1);
    }

    // ---------------------------------------------------------------- a raw TCP connection

    /** A raw client connection to 127.0.0.1. Every read gives up after READ_TIMEOUT. */
    public static final class Conn implements AutoCloseable {
        public final Socket socket;
        private final InputStream in;
        private final OutputStream out;

        public Conn(int port) throws IOException {
            socket = new Socket();
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            socket.setSoTimeout((int) READ_TIMEOUT.toMillis());
            socket.setTcpNoDelay(true);
            in = new BufferedInputStream(socket.getInputStream());
            out = socket.getOutputStream();
        }

        public Conn send(String text) throws IOException { return send(text.getBytes(StandardCharsets.ISO_8859_1)); }

        public Conn send(byte[] bytes) throws IOException { out.write(bytes); out.flush(); return this; }

        /** Sends the text one byte at a time, pausing between writes, so the server sees many small reads. */
        public Conn trickle(String text, long pauseMillis) throws IOException, InterruptedException {
            for (byte b : text.getBytes(StandardCharsets.ISO_8859_1)) { out.write(b); out.flush(); Thread.sleep(pauseMillis); }
            return this;
        }

        public void setReadTimeout(Duration d) throws IOException { socket.setSoTimeout((int) d.toMillis()); }

        public void shutdownOutput() throws IOException { socket.shutdownOutput(); }

        /** One byte, or -1 at end of stream. */
        public int read() throws IOException { return in.read(); }

        /** Exactly n bytes (fails if the peer closes first). */
        public byte[] readExactly(int n) throws IOException {
            byte[] b = in.readNBytes(n);
            if (b.length < n) throw new EOFException("wanted " + n + " bytes, got " + b.length + ": " + show(b));
            return b;
        }

        /** Bytes up to and including the first occurrence of the delimiter. */
        public String readUntil(String delimiter) throws IOException {
            var buf = new ByteArrayOutputStream();
            byte[] d = delimiter.getBytes(StandardCharsets.ISO_8859_1);
            while (true) {
                int b = in.read();
                if (b < 0) throw new EOFException("closed before '" + show(d) + "'; got: " + show(buf.toByteArray()));
                buf.write(b);
                byte[] sofar = buf.toByteArray();
                if (sofar.length >= d.length && Arrays.equals(sofar, sofar.length - d.length, sofar.length, d, 0, d.length))
                    return buf.toString(StandardCharsets.ISO_8859_1);
            }
        }

        /** Reads until the peer closes (returns what came), or fails on the read timeout. */
        public byte[] readToEnd() throws IOException { return in.readAllBytes(); }

        /** True if the peer closed the connection (EOF or reset) within the timeout. */
        public boolean closedByPeer(Duration within) throws IOException {
            socket.setSoTimeout((int) within.toMillis());
            try {
                return in.read() < 0;
            } catch (java.net.SocketTimeoutException e) {
                return false;
            } catch (IOException reset) {
                return true;
            }
        }

        /** Reads one HTTP response (status line, fields, then the body by Content-Length, chunked, or to EOF). */
        public HttpResponse readResponse() throws IOException { return readResponse(false); }

        /** Reads one HTTP response to a HEAD request: never a body, whatever the fields say. */
        public HttpResponse readHeadResponse() throws IOException { return readResponse(true); }

        private HttpResponse readResponse(boolean head) throws IOException {
            String statusLine = line();
            if (statusLine == null) throw new EOFException("connection closed before a status line");
            String[] parts = statusLine.split(" ", 3);
            if (parts.length < 2 || !parts[0].startsWith("HTTP/"))
                throw new IOException("not a status line: " + show(statusLine.getBytes(StandardCharsets.ISO_8859_1)));
            int status = Integer.parseInt(parts[1]);
            var headers = new TreeMap<String, List<String>>(String.CASE_INSENSITIVE_ORDER);
            for (String l; !(l = line()).isEmpty(); ) {
                int colon = l.indexOf(':');
                if (colon <= 0) throw new IOException("bad header line: " + l);
                headers.computeIfAbsent(l.substring(0, colon), k -> new ArrayList<>()).add(l.substring(colon + 1).strip());
            }
            var r = new HttpResponse(parts[0], status, parts.length > 2 ? parts[2] : "", headers, new byte[0]);
            if (head || status / 100 == 1 || status == 204 || status == 304) return r;
            byte[] body;
            String te = r.header("Transfer-Encoding");
            String cl = r.header("Content-Length");
            if (te != null && te.toLowerCase(Locale.ROOT).contains("chunked")) {
                var buf = new ByteArrayOutputStream();
                while (true) {
                    String sizeLine = line();
                    int semi = sizeLine.indexOf(';');
                    int size = Integer.parseInt((semi >= 0 ? sizeLine.substring(0, semi) : sizeLine).strip(), 16);
                    if (size == 0) { while (!line().isEmpty()) { } break; }
                    buf.write(readExactly(size));
                    if (!line().isEmpty()) throw new IOException("chunk not followed by CRLF");
                }
                body = buf.toByteArray();
            } else if (cl != null) {
                body = readExactly(Integer.parseInt(cl.strip()));
            } else {
                body = in.readAllBytes();
            }
            return new HttpResponse(r.version(), status, r.reason(), headers, body);
        }

        /** A line ending in CRLF (returned without it); null at EOF before any byte. */
        private String line() throws IOException {
            var buf = new ByteArrayOutputStream();
            int b;
            while ((b = in.read()) >= 0) {
                if (b == '\n') {
                    byte[] a = buf.toByteArray();
                    int n = a.length > 0 && a[a.length - 1] == '\r' ? a.length - 1 : a.length;
                    return new String(a, 0, n, StandardCharsets.ISO_8859_1);
                }
                buf.write(b);
            }
            if (buf.size() == 0) return null;
            throw new EOFException("connection closed in the middle of a line: " + show(buf.toByteArray()));
        }

        @Override public void close() throws IOException { socket.close(); }
    }

    /** Sends one raw request on a fresh connection and reads one response. */
    public static HttpResponse exchange(int port, String rawRequest) throws IOException {
        try (var c = new Conn(port)) {
            c.send(rawRequest);
            return rawRequest.startsWith("HEAD ") ? c.readHeadResponse() : c.readResponse();
        }
    }

    /** A response as it came off the wire. Header names are case-insensitive. */
    public record HttpResponse(String version, int status, String reason, Map<String, List<String>> headers, byte[] body) {
        public String header(String name) {
            var v = headers.get(name);
            return v == null ? null : String.join(", ", v);
        }

        /** The body as UTF-8, gunzipped first if Content-Encoding says gzip. */
        public String text() {
            try {
                byte[] b = "gzip".equalsIgnoreCase(header("Content-Encoding"))
                        ? new GZIPInputStream(new ByteArrayInputStream(body)).readAllBytes() : body;
                return new String(b, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException("body says gzip but is not: " + show(body), e);
            }
        }

        @Override public String toString() {
            return version + " " + status + " " + reason + " " + headers + " body=" + show(body);
        }
    }

    /** Bytes shown with \r \n and non-printables escaped, cut at 300 characters: for failure messages. */
    public static String show(byte[] b) {
        var sb = new StringBuilder();
        for (byte x : b) {
            int c = x & 0xff;
            if (sb.length() > 300) { sb.append("..."); break; }
            switch (c) {
                case '\r' -> sb.append("\\r");
                case '\n' -> sb.append("\\n");
                default -> sb.append(c >= 32 && c < 127 ? String.valueOf((char) c) : String.format("\\x%02x", c));
            }
        }
        return sb.toString();
    }

    public static String show(String s) { return show(s.getBytes(StandardCharsets.ISO_8859_1)); }

    // ---------------------------------------------------------------- a server as a real process

    /**
     * A script run as its users run it: `./jbang Script.java args...` from the project root. start() returns once the
     * ready line ("Listening on ...://HOST:PORT ...") is printed, and port() is the real port read from it.
     */
    public static final class ServerProcess implements AutoCloseable {
        private static final Pattern READY = Pattern.compile("Listening on \\w+://[^:/\\s]+:(\\d+)");
        public final Process process;
        private final StringBuffer output = new StringBuffer();
        private final CompletableFuture<Integer> port = new CompletableFuture<>();
        private final Thread reader;

        private ServerProcess(Process p) {
            this.process = p;
            reader = Thread.ofPlatform().daemon().name("server-output").start(() -> {
                try (var r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null; ) {
                        synchronized (output) {
                            output.append(l).append('\n');
                            output.notifyAll();   // wakes awaitOutput
                        }
                        Matcher m = READY.matcher(l);
                        if (m.find()) port.complete(Integer.parseInt(m.group(1)));
                    }
                } catch (IOException ignored) {
                    // the process ended; its exit is reported by whoever waits for it
                }
                port.completeExceptionally(new IllegalStateException("exited before the ready line:\n" + output));
            });
        }

        /** Starts `./jbang args...` in the project root (stderr merged into stdout). */
        public static ServerProcess start(String... args) throws IOException {
            var cmd = new ArrayList<String>();
            cmd.add(projectRoot().resolve("jbang").toString());
            cmd.addAll(List.of(args));
            var pb = new ProcessBuilder(cmd).directory(projectRoot().toFile()).redirectErrorStream(true);
            return new ServerProcess(pb.start());
        }

        /** Waits (up to 120 s: the first run may compile the script) for the ready line and returns the port. */
        public int port() throws Exception { return port.get(120, TimeUnit.SECONDS); }

        public String output() { return output.toString(); }

        /** Waits until the process has printed the text (a line it logs on its own), or fails after the timeout. */
        public void awaitOutput(String text, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            synchronized (output) {
                while (output.indexOf(text) < 0) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) throw new AssertionError("no '" + text + "' in " + timeout.toSeconds() + " s; output:\n" + output);
                    TimeUnit.NANOSECONDS.timedWait(output, left);
                }
            }
        }

        /** Waits for the process to end by itself and returns its exit code. */
        public int waitFor(Duration d) throws Exception {
            if (!process.waitFor(d.toMillis(), TimeUnit.MILLISECONDS)) throw new TimeoutException("still running:\n" + output);
            reader.join(d.toMillis());   // everything it printed has been read
            return process.exitValue();
        }

        /** Sends SIGTERM (as Ctrl-C would send SIGINT) to the server and waits for it to end. */
        public int terminate() throws Exception {
            // ./jbang execs the JVM, so the process we started is the server JVM itself. ProcessHandle.destroy,
            // unlike Process.destroy, leaves its output stream open for us to read what it prints while stopping.
            process.toHandle().descendants().forEach(ProcessHandle::destroy);
            process.toHandle().destroy();
            return waitFor(Duration.ofSeconds(30));
        }

        @Override public void close() {
            process.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }
    }

    /** The project root: the folder that holds ./jbang (tests run from there via tests/run). */
    public static Path projectRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !p.resolve("jbang").toFile().isFile()) p = p.getParent();
        if (p == null) throw new IllegalStateException("run the tests from inside the project (no ./jbang found)");
        return p;
    }

    /** Runs n tasks at once (each on its own virtual thread, all released together) and returns their results. */
    public static <T> List<T> concurrently(int n, Callable<T> task) throws Exception {
        var start = new CountDownLatch(1);
        try (var ex = Executors.newVirtualThreadPerTaskExecutor()) {
            var futures = new ArrayList<Future<T>>();
            for (int i = 0; i < n; i++) futures.add(ex.submit(() -> { start.await(); return task.call(); }));
            start.countDown();
            var out = new ArrayList<T>();
            for (var f : futures) out.add(f.get(120, TimeUnit.SECONDS));
            return out;
        }
    }
}
