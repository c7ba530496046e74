///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//DEPS info.picocli:picocli:4.7.7
//DEPS tools.jackson.core:jackson-databind:3.3.0
//JAVA_OPTIONS -XX:+UseSerialGC -Xms8m -Xmx512m -Djbang.launcher.aot=SimpleHttpServer
//DESCRIPTION The JDK's own HTTP server (com.sun.net.httpserver) serving www/ and a small JSON API, in three models.

// SimpleHttpServer: what the JDK gives you for free. com.sun.net.httpserver parses HTTP/1.1, keeps connections
// alive, decodes chunked bodies and answers `Expect: 100-continue`; this file adds the routes of the shared HTTP
// contract (docs/http-contract.md), static files from www/, gzip, and the checks RFC 9112 asks for that the JDK skips.
// The three models (-m single, pool, virtual: the default) differ only in the Executor handed to the server (see
// `executorFor`); the `Mode` enum states each one's trade-off, and --help shows it.
// Run:    ./jbang SimpleHttpServer.java                 (http://127.0.0.1:8000/, mode virtual)
//         ./jbang SimpleHttpServer.java -m single -p 0  (any free port; the ready line says which)
// Watch:  in another terminal, `curl -s localhost:8000/io?ms=3000 &` then `curl -s localhost:8000/health`:
//         instant in pool and virtual modes, three seconds late in single mode. The access log names the thread.

// The file, in order (each part opens with a `// ----` line):
//   1. the command line: options, main, call()
//   2. the three models: the Mode enum and executorFor, the one place where they differ
//   3. starting and stopping: Running, start(), the JDK server's tuning, StartupError, the log line
//   4. data: the response, errors, the JSON records
//   5. the application: routes of the HTTP contract, static files, bodies, writing, the RFC 9112 filter, Authority
//   6. plumbing: the poller warm-up for virtual threads

import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.management.UnixOperatingSystemMXBean;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.GZIPOutputStream;

@Command(name = "SimpleHttpServer", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        version = "SimpleHttpServer 1.0", usageHelpWidth = 120,
        description = "Serves www/ and the HTTP contract (docs/http-contract.md) with the JDK's built-in com.sun.net.httpserver.",
        footerHeading = "%nModes (-m), each with its trade-off:%n",
        footer = {   // after each mode's line (Mode.helpFooter)
                "%nOpen connections are capped at half of what the open-files limit leaves after start-up (the ready line says how",
                "many): beyond that the JDK closes a new connection at once, instead of running out of file descriptors."})
public class SimpleHttpServer implements Callable<Integer> {

    // ---------------------------------------------------------------- the command line: options, main, call()

    @Option(names = {"-p", "--port"}, description = "TCP port to listen on (0 picks a free port).")
    int port = 8000;

    @Option(names = {"-b", "--bind"}, description = "Address to listen on.")
    String bind = "127.0.0.1";

    @Option(names = {"-m", "--mode"}, description = "Concurrency model: ${COMPLETION-CANDIDATES}.")
    Mode mode = Mode.virtual;

    @Option(names = {"-w", "--workers"}, description = "Threads in pool mode.")
    int workers = DEFAULT_WORKERS;

    @Option(names = "--root", description = "Web root for static files.")
    Path root = Path.of("www");

    @Option(names = "--directory", description = "Folder for GET/POST /files/{name} (none: /files answers 404).")
    Path directory;

    @Option(names = "--backlog", description = "Listen queue length (Java's default of 50 overflows under a burst of connects).")
    int backlog = DEFAULT_BACKLOG;

    @Option(names = "--max-body", description = "Largest request body accepted, in bytes (413 beyond).")
    int maxBody = DEFAULT_MAX_BODY;

    @Option(names = {"-q", "--quiet"}, description = "No access log (for benchmarks).")
    boolean quiet;

    static final int DEFAULT_WORKERS = 5;
    static final int DEFAULT_BACKLOG = 4096;
    static final int DEFAULT_MAX_BODY = 1 << 20;
    static final int STOP_GRACE_SECONDS = 5;         // how long Ctrl-C waits for in-flight exchanges
    static final int MAX_IO_MS = 10_000;             // /io?ms=N, 0..MAX_IO_MS
    static final int MAX_CPU_N = 10_000_000;         // /cpu?n=N, 0..MAX_CPU_N
    static final int MAX_BUFFERED_FILE = 8 << 20;    // larger files are streamed, never gzipped

    public static void main(String... args) {
        var cli = new CommandLine(new SimpleHttpServer());
        cli.setParameterExceptionHandler((e, a) -> {
            System.err.println("Error: " + e.getMessage() + " (see --help)");
            return 2;
        });
        cli.setExecutionExceptionHandler((e, c, p) -> {
            if (!(e instanceof StartupError s)) throw e;
            System.err.println("Error: " + s.getMessage());
            return s.exitCode;
        });
        var usage = cli.getCommandSpec().usageMessage();
        usage.footer(Mode.helpFooter(usage.footer()));
        System.exit(cli.execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Running running = start();
        System.out.printf("Listening on http://%s:%d/ mode=%s max-connections=%s%n", hostForUrl(bind), running.port(), mode,
                System.getProperty(MAX_CONNECTIONS));
        System.out.flush();
        Runtime.getRuntime().addShutdownHook(new Thread(running::close, "shutdown"));
        running.awaitClose();
        return 0;
    }

    // ---------------------------------------------------------------- the three models

    /** The three models, each with its trade-off. */
    enum Mode {
        single("the JDK's dispatcher thread runs every handler: no threads to manage, but one slow request stalls everyone"),
        pool("an exchange pool: -w platform threads run the handlers; slow requests stall others only when all are busy"),
        virtual("a virtual thread per exchange: blocking is cheap, so a slow request stalls nobody");

        /** The one-line trade-off --help shows for this mode; stated here only. */
        final String tradeOff;

        Mode(String tradeOff) { this.tradeOff = tradeOff; }

        // ---- twin: help-footer (kept identical in EchoServer.java, PrimeEchoServer.java, SimpleHttpServer.java; tests/TwinsTest.java checks)
        /** --help's footer: a line per mode with its trade-off (names padded to the longest), then the notes. */
        static String[] helpFooter(String... notes) {
            int width = 0;
            for (Mode m : values()) width = Math.max(width, m.name().length());
            var lines = new String[values().length + notes.length];
            for (Mode m : values()) lines[m.ordinal()] = String.format("  %-" + (width + 1) + "s %s", m.name(), m.tradeOff);
            System.arraycopy(notes, 0, lines, values().length, notes.length);
            return lines;
        }
        // ---- end twin: help-footer
    }

    /** The three models: the only difference between them is who runs a handler. */
    ExecutorService executorFor(Mode mode) {
        return switch (mode) {
            // No executor: the JDK's dispatcher thread ("HTTP-Dispatcher") calls every handler itself.
            case single -> null;
            // An exchange pool: the dispatcher still accepts and reads every connection; at most -w handlers run at
            // once, the rest queue. An idle keep-alive connection holds no thread (unlike ThreadedHttpServer's pool).
            case pool -> Executors.newFixedThreadPool(workers, Thread.ofPlatform().name("pool-", 1).factory());
            // A virtual thread per exchange: a handler that sleeps or blocks on I/O unmounts, and its stack is kept
            // as a heap object of a KB or a few (docs/idle-connections.md measures it).
            case virtual -> Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("vt-", 1).factory());
        };
    }

    // ---------------------------------------------------------------- starting and stopping

    /** A started server. close() stops accepting, lets in-flight exchanges finish (a few seconds at most), and stops. */
    public record Running(HttpServer server, ExecutorService executor, App app, CountDownLatch closed) implements AutoCloseable {
        public int port() { return server.getAddress().getPort(); }

        public void awaitClose() throws InterruptedException { closed.await(); }

        @Override public void close() {
            if (closed.getCount() == 0) return;
            server.stop(STOP_GRACE_SECONDS);
            if (executor != null) executor.close();
            if (!app.quiet) System.out.println("Stopped after " + app.requests.get() + " requests");
            closed.countDown();
        }
    }

    /** Binds, starts serving, and returns; the options above must be set (picocli does that from the command line). */
    public Running start() throws IOException {
        tuneJdkServer();
        if (!Files.isDirectory(root)) throw new StartupError(2, "web root is not a directory: " + root + " (run from the project folder, or pass --root)");
        if (directory != null && !Files.isDirectory(directory)) throw new StartupError(2, "--directory is not a directory: " + directory);
        if (workers < 1) throw new StartupError(2, "--workers must be at least 1: " + workers);
        if (maxBody < 0) throw new StartupError(2, "--max-body must not be negative: " + maxBody);
        var address = new InetSocketAddress(bind, port);
        if (address.isUnresolved()) throw StartupError.unknownBindAddress(bind);
        if (mode == Mode.virtual) startPoller();

        HttpServer server;
        try {
            server = HttpServer.create(address, backlog);
        } catch (BindException e) {
            throw StartupError.cannotListen(bind, port, e);
        }
        var app = new App(this, server.getAddress().getPort());
        var context = server.createContext("/", app::handle);
        context.getFilters().add(app.rejectWhatRfc9112Forbids());
        ExecutorService executor = executorFor(mode);
        server.setExecutor(executor);
        server.start();
        return new Running(server, executor, app, new CountDownLatch(1));
    }

    /**
     * The JDK server reads its tuning from system properties once, when its first server is created
     * (sun.net.httpserver.ServerConfig), so they are set here, before HttpServer.create. A value given on the
     * command line wins (`./jbang -Dsun.net.httpserver.nodelay=false SimpleHttpServer.java`): try it and measure.
     */
    static void tuneJdkServer() {
        // Out of file descriptors, the JDK's dispatcher fails to accept, logs nothing (its logger says it at TRACE)
        // and selects again at once: it spins a core for as long as it lasts. What we can do is keep it from
        // getting there: with jdk.httpserver.maxConnections set, the dispatcher closes a connection beyond the cap
        // at once (no answer, no log line). The cap leaves room for what a handler opens: at most one file per
        // exchange (a static file, an upload), so connections get half of the descriptors left after start-up.
        setDefault(MAX_CONNECTIONS, String.valueOf(connectionsTheOpenFilesLimitAllows()));
        // The JDK keeps at most 200 idle keep-alive connections (maxIdleConnections) and closes any other one right
        // after its answer, so the 201st waiting client finds its connection gone. Every connection it may accept
        // may also wait: an idle one costs the dispatcher a selection key and a few objects (docs/idle-connections.md).
        setDefault("sun.net.httpserver.maxIdleConnections", System.getProperty(MAX_CONNECTIONS));
        // Headers and body can go out in separate writes; without TCP_NODELAY, Nagle's algorithm can hold the body
        // back until the client's delayed ACK (up to ~40 ms) arrives, which caps a keep-alive connection with such a
        // client at a few dozen responses a second. The figures in docs/performance.md are measured with it on.
        setDefault("sun.net.httpserver.nodelay", "true");
        // RFC 9112 sets no limits; a server must. At most 100 header fields (JDK default 200) and 64 KiB of
        // header section (JDK default 384 KiB). Beyond either, the JDK closes the connection without an answer
        // (no 431, and no filter of ours sees the request): one of the limits docs/simple-http-server.md lists.
        setDefault("sun.net.httpserver.maxReqHeaders", "100");
        setDefault("sun.net.httpserver.maxReqHeaderSize", String.valueOf(64 * 1024));
        // A client gets 30 s to send a whole request head (JDK default: forever), so a slowloris client that
        // trickles one header byte at a time is cut off. Idle keep-alive connections close after 30 s.
        setDefault("sun.net.httpserver.maxReqTime", "30");
        setDefault("sun.net.httpserver.idleInterval", "30");
        // How much of an unread request body the server reads and throws away after answering (JDK default 64 KiB).
        // Closing a socket with unread bytes sends a TCP reset, and a reset can destroy the answer before the
        // client reads it: a client that was told 413 while still sending its body would never see the 413.
        // So up to 16 MiB is drained; a larger body still gets the connection closed.
        setDefault("sun.net.httpserver.drainAmount", String.valueOf(16 * 1024 * 1024));
    }

    static final String MAX_CONNECTIONS = "jdk.httpserver.maxConnections";
    /** File descriptors kept for the JVM itself (jars opened on first use, the selector, a log file) and our files. */
    static final int RESERVED_FDS = 32;

    static long connectionsTheOpenFilesLimitAllows() {
        if (!(ManagementFactory.getOperatingSystemMXBean() instanceof UnixOperatingSystemMXBean os)) return -1; // no cap
        long limit = os.getMaxFileDescriptorCount(), open = os.getOpenFileDescriptorCount();
        long connections = (limit - open - RESERVED_FDS) / 2;
        if (connections < 1) throw new StartupError(1, "open files limit too low: " + limit + ", " + open
                + " already open (raise it with ulimit -n, to " + (open + RESERVED_FDS + 100) + " or more)");
        return Math.min(connections, Integer.MAX_VALUE);
    }

    static void setDefault(String property, String value) {
        if (System.getProperty(property) == null) System.setProperty(property, value);
    }

    // ---- twin: startup-error (kept identical in SimpleHttpServer.java, ThreadedHttpServer.java; tests/TwinsTest.java checks)
    /** An expected failure at start-up: one line on stderr and an exit code, no stack trace. */
    static final class StartupError extends RuntimeException {
        final int exitCode;

        StartupError(int exitCode, String message) { super(message); this.exitCode = exitCode; }

        /** The port is taken (or the address is not this machine's): exit 1. */
        static StartupError cannotListen(String host, int port, IOException e) {
            return new StartupError(1, "cannot listen on " + hostForUrl(host) + ":" + port + ": " + e.getMessage()
                    + " (another server there? pick a port with -p, or -p 0 for a free one)");
        }

        /** --bind names no address: exit 2, as for any bad option. */
        static StartupError unknownBindAddress(String host) {
            return new StartupError(2, "unknown bind address: " + host + " (use an IP such as 127.0.0.1 or 0.0.0.0)");
        }
    }

    /** A host as a URL or HOST:PORT shows it: an IPv6 literal in brackets. */
    static String hostForUrl(String host) { return host.contains(":") ? "[" + host + "]" : host; }
    // ---- end twin: startup-error

    // ---- twin: log-line (kept identical in EchoServer.java, PrimeEchoServer.java, SimpleHttpServer.java, ThreadedHttpServer.java; tests/TwinsTest.java checks)
    static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    /** Every log line starts with the time, UTC, to the millisecond. */
    static void log(PrintStream out, String line) {
        out.println(TIMESTAMP.format(Instant.now()) + " " + line);
    }
    // ---- end twin: log-line

    // ---------------------------------------------------------------- data

    /** A response before it is written: gzip, HEAD and the Date header are applied on the way out. */
    record Response(int status, String type, byte[] body, Path file, Map<String, String> headers) {
        static Response of(int status, String type, byte[] body) { return new Response(status, type, body, null, new LinkedHashMap<>()); }

        static Response empty(int status) { return of(status, null, new byte[0]); }

        Response with(String name, String value) { headers.put(name, value); return this; }
    }

    /** An error answer: the status, the reason shown in the JSON body, and any header it needs (Allow). */
    static final class HttpError extends RuntimeException {
        final int status;
        final Map<String, String> headers = new LinkedHashMap<>();

        HttpError(int status, String reason) { super(reason, null, false, false); this.status = status; }

        HttpError with(String name, String value) { headers.put(name, value); return this; }
    }

    record Health(String status, String server, String mode, int port, long uptime_ms) {}

    record Item(long id, String name, String created_at) {}

    record Created(long id, String name, String message, String created_at) {}

    record Received(JsonNode received) {}

    record IoResult(String task, int ms, String thread) {}

    record CpuResult(String task, int n, int primes, long elapsed_ms, String thread) {}

    record ErrorBody(String error) {}

    // ---------------------------------------------------------------- the application: routes of the HTTP contract

    /** Jackson, in a holder class: loaded by the first JSON body, not at start-up (about 8 MB less RSS at the ready line). */
    static final class Jackson {
        static final JsonMapper JSON = JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();
    }
    static final String JSON_TYPE = "application/json";
    static final String TEXT_TYPE = "text/plain; charset=utf-8";
    static final List<String> GET_HEAD = List.of("GET", "HEAD");
    static final List<String> POST = List.of("POST");
    static final List<String> GET_HEAD_POST = List.of("GET", "HEAD", "POST");
    /** The methods RFC 9110 defines (plus PATCH): any other token is 501, these are 405 where not served. */
    static final Set<String> KNOWN_METHODS = Set.of("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH");

    static final class App {
        final Path root;
        final Path directory;
        final int maxBody;
        final String mode;
        final int port;
        final boolean quiet;
        final long startNanos = System.nanoTime();
        final AtomicLong requests = new AtomicLong();
        final AtomicLong nextId = new AtomicLong(1);
        final ConcurrentSkipListMap<Long, Item> items = new ConcurrentSkipListMap<>();

        App(SimpleHttpServer options, int port) throws IOException {
            this.root = options.root.toRealPath();
            this.directory = options.directory == null ? null : options.directory.toRealPath();
            this.maxBody = options.maxBody;
            this.mode = options.mode.name();
            this.port = port;
            this.quiet = options.quiet;
        }

        /** The one handler: route, answer errors as JSON, write the response. */
        void handle(HttpExchange ex) {
            requests.incrementAndGet();
            try (ex) {
                Response response;
                try {
                    response = route(ex);
                } catch (HttpError e) {
                    response = error(e.status, e.getMessage());
                    response.headers().putAll(e.headers);
                } catch (IOException | RuntimeException | Error e) {
                    // A failure of ours (a file that cannot be written, a bug, even out of memory): logged, and the
                    // client still gets an answer if there is room to send one. (Uncaught, the JDK would close the
                    // connection and say nothing: its logger reports it at TRACE.)
                    SimpleHttpServer.log(System.err, "Unexpected error on " + ex.getRequestMethod() + " " + ex.getRequestURI() + ":");
                    e.printStackTrace();
                    response = error(500, "internal server error");
                }
                send(ex, response);
            } catch (IOException e) {
                // The client went away mid-exchange; the JDK closes the connection. Say so once (-q too), and go on.
                SimpleHttpServer.log(System.err, Thread.currentThread().getName() + " connection from " + ex.getRemoteAddress() + " failed: " + e);
            }
        }

        Response route(HttpExchange ex) throws IOException {
            String method = ex.getRequestMethod();
            String path = ex.getRequestURI().getRawPath();
            if (path == null || !path.startsWith("/")) throw new HttpError(400, "request target must be a path starting with /");
            if (path.equals("/health")) return allow(method, GET_HEAD, this::health);
            if (path.equals("/api/create")) return allow(method, POST, () -> create(ex));
            if (path.equals("/api/items")) return allow(method, GET_HEAD, () -> json(200, items.values()));
            if (path.startsWith("/api/items/")) return allow(method, GET_HEAD, () -> item(path.substring("/api/items/".length())));
            if (path.equals("/api/echo")) return allow(method, POST, () -> json(200, new Received(readJson(ex))));
            if (path.startsWith("/echo/")) return allow(method, GET_HEAD,
                    () -> Response.of(200, TEXT_TYPE, percentDecode(path.substring("/echo/".length())).getBytes(StandardCharsets.UTF_8)));
            if (path.equals("/user-agent")) return allow(method, GET_HEAD, () -> userAgent(ex));
            if (path.startsWith("/files/")) return allow(method, GET_HEAD_POST, () -> files(ex, method, path.substring("/files/".length())));
            if (path.equals("/io")) return allow(method, GET_HEAD, () -> io(ex));
            if (path.equals("/cpu")) return allow(method, GET_HEAD, () -> cpu(ex));
            return staticFile(ex, method, path);
        }

        interface Action { Response run() throws IOException; }

        /** 405 with Allow for a method this path does not take; OPTIONS answered with the same Allow. */
        static Response allow(String method, List<String> allowed, Action action) throws IOException {
            if (allowed.contains(method)) return action.run();
            String allow = String.join(", ", allowed);
            if (method.equals("OPTIONS")) return Response.empty(204).with("Allow", allow);
            throw new HttpError(405, "method " + method + " not allowed here").with("Allow", allow);
        }

        Response health() {
            long uptime = (System.nanoTime() - startNanos) / 1_000_000;
            return json(200, new Health("ok", "SimpleHttpServer", mode, port, uptime))
                    .with("Access-Control-Allow-Origin", "*").with("Cache-Control", "no-store");
        }

        Response create(HttpExchange ex) throws IOException {
            JsonNode body = readJson(ex);
            JsonNode name = body.get("name");
            if (!body.isObject() || name == null || !name.isString() || name.stringValue().isBlank())
                throw new HttpError(400, "name must be a non-blank string");
            long id = nextId.getAndIncrement();
            String createdAt = Instant.now().toString();
            items.put(id, new Item(id, name.stringValue(), createdAt));
            return json(201, new Created(id, name.stringValue(), "Resource created successfully", createdAt))
                    .with("Location", "/api/items/" + id);
        }

        Response item(String rawId) {
            Item item = null;
            if (!rawId.isEmpty() && rawId.length() < 19 && rawId.chars().allMatch(Character::isDigit)) item = items.get(Long.parseLong(rawId));
            if (item == null) throw new HttpError(404, "not found: /api/items/" + rawId);
            return json(200, item);
        }

        Response userAgent(HttpExchange ex) {
            String agent = ex.getRequestHeaders().getFirst("User-Agent");
            if (agent == null) throw new HttpError(400, "User-Agent header is missing");
            return Response.of(200, TEXT_TYPE, agent.getBytes(StandardCharsets.UTF_8));
        }

        Response files(HttpExchange ex, String method, String rawName) throws IOException {
            String name = percentDecode(rawName);
            if (!isPlainName(name)) throw new HttpError(400, "invalid file name");
            if (directory == null) throw new HttpError(404, "not found: /files/" + rawName + " (the server has no --directory)");
            Path file = directory.resolve(name);
            if (method.equals("POST")) {
                byte[] body = readBody(ex);
                // Write a temporary file, then rename it into place: a reader never sees half a file.
                Path tmp = Files.createTempFile(directory, ".upload-", ".tmp");
                try {
                    Files.write(tmp, body);
                    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                } finally {
                    Files.deleteIfExists(tmp);
                }
                return Response.empty(201).with("Location", "/files/" + rawName);
            }
            if (!Files.isRegularFile(file)) throw new HttpError(404, "not found: /files/" + rawName);
            return fileBody(file, "application/octet-stream");
        }

        Response io(HttpExchange ex) {
            int ms = intParam(ex, "ms", 1000, MAX_IO_MS);
            try {
                Thread.sleep(ms);   // stands for a slow database or upstream call: blocks, burns no CPU
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new HttpError(503, "server is shutting down");
            }
            return json(200, new IoResult("io", ms, Thread.currentThread().getName()));
        }

        Response cpu(HttpExchange ex) {
            int n = intParam(ex, "n", 1_000_000, MAX_CPU_N);
            long start = System.nanoTime();
            int primes = countPrimes(n);
            return json(200, new CpuResult("cpu", n, primes, (System.nanoTime() - start) / 1_000_000, Thread.currentThread().getName()));
        }

        /** Primes <= n by trial division: deliberately plain, so the work is CPU and nothing else. */
        static int countPrimes(int n) {
            int count = n >= 2 ? 1 : 0;
            for (int candidate = 3; candidate <= n; candidate += 2) {
                boolean prime = true;
                for (int d = 3; (long) d * d <= candidate; d += 2) {
                    if (candidate % d == 0) { prime = false; break; }
                }
                if (prime) count++;
            }
            return count;
        }

        // ------------------------------------------------------------ static files

        static final DateTimeFormatter HTTP_DATE = DateTimeFormatter.RFC_1123_DATE_TIME.withZone(ZoneOffset.UTC);

        Response staticFile(HttpExchange ex, String method, String rawPath) throws IOException {
            Path file = resolveUnderRoot(rawPath);
            if (file == null) throw new HttpError(404, "not found: " + rawPath);
            if (Files.isDirectory(file)) {
                if (!rawPath.endsWith("/")) {
                    String query = ex.getRequestURI().getRawQuery();
                    return allow(method, GET_HEAD, () -> Response.empty(301).with("Location", rawPath + "/" + (query == null ? "" : "?" + query)));
                }
                file = file.resolve("index.html");
                if (!Files.isRegularFile(file)) throw new HttpError(404, "not found: " + rawPath);
            }
            Path found = file;
            return allow(method, GET_HEAD, () -> conditional(ex, found));
        }

        /**
         * The file a request path names, or null (404) for anything that is not plainly inside the root: each
         * percent-decoded segment must be a normal name (no "..", no hidden ".name", no NUL), and the real path,
         * symlinks followed, must still start with the root. Like jwebserver, the answer never says which rule hit.
         */
        Path resolveUnderRoot(String rawPath) {
            Path p = root;
            for (String segment : rawPath.split("/")) {
                if (segment.isEmpty()) continue;
                String name;
                try {
                    name = percentDecode(segment);
                } catch (HttpError e) {
                    return null;
                }
                if (!isPlainName(name) || name.startsWith(".")) return null;
                p = p.resolve(name);
            }
            try {
                Path real = p.toRealPath();
                return real.startsWith(root) ? real : null;
            } catch (IOException | InvalidPathException e) {
                return null;
            }
        }

        /** A decoded path segment that names one entry of a folder: not empty, not "." or "..", no separator, no NUL. */
        static boolean isPlainName(String name) {
            return !name.isEmpty() && !name.equals(".") && !name.equals("..")
                    && name.indexOf('/') < 0 && name.indexOf('\\') < 0 && name.indexOf('\0') < 0;
        }

        /** A static file with its validators, or 304 when the client's copy is current (RFC 9110 §13.1). */
        Response conditional(HttpExchange ex, Path file) throws IOException {
            var attrs = Files.readAttributes(file, BasicFileAttributes.class);
            long mtime = attrs.lastModifiedTime().toMillis();
            String etag = "\"" + Long.toHexString(attrs.size()) + "-" + Long.toHexString(mtime) + "\"";
            String lastModified = HTTP_DATE.format(Instant.ofEpochMilli(mtime));
            Response r = notModified(ex.getRequestHeaders(), etag, mtime)
                    ? Response.of(304, contentType(file), new byte[0])
                    : fileBody(file, contentType(file));
            return r.with("ETag", etag).with("Last-Modified", lastModified).with("Cache-Control", "no-cache");
        }

        static boolean notModified(Headers request, String etag, long mtimeMillis) {
            List<String> ifNoneMatch = request.get("If-None-Match");
            if (ifNoneMatch != null) {
                for (String value : ifNoneMatch) {
                    for (String tag : value.split(",")) {
                        String t = tag.strip();
                        if (t.equals("*") || (t.startsWith("W/") ? t.substring(2) : t).equals(etag)) return true;
                    }
                }
                return false;   // If-Modified-Since is ignored when If-None-Match is present (RFC 9110 §13.1.3)
            }
            String since = request.getFirst("If-Modified-Since");
            if (since == null) return false;
            try {
                return mtimeMillis / 1000 <= ZonedDateTime.parse(since.strip(), DateTimeFormatter.RFC_1123_DATE_TIME).toEpochSecond();
            } catch (DateTimeParseException e) {
                return false;   // an invalid date is ignored, as RFC 9110 §13.1.3 says
            }
        }

        static Response fileBody(Path file, String type) throws IOException {
            if (Files.size(file) > MAX_BUFFERED_FILE) return new Response(200, type, null, file, new LinkedHashMap<>());
            return Response.of(200, type, Files.readAllBytes(file));
        }

        static final Map<String, String> TYPES = Map.ofEntries(
                Map.entry("html", "text/html; charset=utf-8"), Map.entry("htm", "text/html; charset=utf-8"),
                Map.entry("css", "text/css; charset=utf-8"), Map.entry("js", "text/javascript; charset=utf-8"),
                Map.entry("mjs", "text/javascript; charset=utf-8"), Map.entry("json", "application/json"),
                Map.entry("svg", "image/svg+xml"), Map.entry("png", "image/png"), Map.entry("jpg", "image/jpeg"),
                Map.entry("jpeg", "image/jpeg"), Map.entry("gif", "image/gif"), Map.entry("ico", "image/x-icon"),
                Map.entry("webp", "image/webp"), Map.entry("txt", "text/plain; charset=utf-8"),
                Map.entry("xml", "application/xml"), Map.entry("wasm", "application/wasm"),
                Map.entry("pdf", "application/pdf"), Map.entry("woff2", "font/woff2"));

        static String contentType(Path file) {
            String name = file.getFileName().toString();
            int dot = name.lastIndexOf('.');
            return dot < 0 ? "application/octet-stream"
                    : TYPES.getOrDefault(name.substring(dot + 1).toLowerCase(Locale.ROOT), "application/octet-stream");
        }

        // ------------------------------------------------------------ request bodies and parameters

        /** The request body, at most maxBody bytes (413 beyond), judged from Content-Length first when there is one. */
        byte[] readBody(HttpExchange ex) throws IOException {
            String length = ex.getRequestHeaders().getFirst("Content-Length");
            // The JDK has already refused a Content-Length that is not a number; 19 digits or more would overflow.
            if (length != null && (length.strip().length() > 18 || Long.parseLong(length.strip()) > maxBody)) throw tooLarge();
            byte[] body;
            try {
                body = ex.getRequestBody().readNBytes(maxBody + 1);   // chunked bodies arrive decoded
            } catch (IOException e) {
                // A bad chunk size, or a body cut short: say so (if the client is still there to hear it).
                throw new HttpError(400, "malformed request body: " + e.getMessage()).with("Connection", "close");
            }
            if (body.length > maxBody) throw tooLarge();
            return body;
        }

        HttpError tooLarge() { return new HttpError(413, "request body too large (limit " + maxBody + " bytes)"); }

        JsonNode readJson(HttpExchange ex) throws IOException {
            String type = ex.getRequestHeaders().getFirst("Content-Type");
            if (!isJson(type)) throw new HttpError(415, "Content-Type must be application/json, not " + (type == null ? "missing" : type));
            byte[] body = readBody(ex);
            if (body.length == 0) throw new HttpError(400, "malformed JSON: empty body");
            try {
                return Jackson.JSON.readTree(body);
            } catch (JacksonException e) {
                throw new HttpError(400, "malformed JSON: " + e.getOriginalMessage());
            }
        }

        static boolean isJson(String contentType) {
            if (contentType == null) return false;
            String t = contentType.split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
            return t.equals("application/json") || t.startsWith("application/") && t.endsWith("+json");
        }

        /** An integer query parameter within 0..max, or the default when absent; 400 with the rule otherwise. */
        static int intParam(HttpExchange ex, String name, int fallback, int max) {
            String query = ex.getRequestURI().getRawQuery();
            if (query == null) return fallback;
            for (String pair : query.split("&")) {
                int eq = pair.indexOf('=');
                String key = eq < 0 ? pair : pair.substring(0, eq);
                if (!key.equals(name)) continue;
                String value = eq < 0 ? "" : percentDecode(pair.substring(eq + 1));
                if (value.length() > 0 && value.length() <= 9 && value.chars().allMatch(Character::isDigit)) {
                    int v = Integer.parseInt(value);
                    if (v <= max) return v;
                }
                throw new HttpError(400, name + " must be an integer from 0 to " + max);
            }
            return fallback;
        }

        /** Percent-decoding of a path segment as UTF-8 (RFC 3986 §2.1); '+' is a plus here, not a space. */
        static String percentDecode(String s) {
            if (s.indexOf('%') < 0) return s;
            var bytes = new ByteArrayOutputStream(s.length());
            for (int i = 0; i < s.length(); ) {
                int percent = s.indexOf('%', i);
                if (percent < 0) percent = s.length();
                bytes.writeBytes(s.substring(i, percent).getBytes(StandardCharsets.UTF_8));   // the text up to the next %
                if (percent == s.length()) break;
                int hi = percent + 2 < s.length() ? Character.digit(s.charAt(percent + 1), 16) : -1;
                int lo = hi >= 0 ? Character.digit(s.charAt(percent + 2), 16) : -1;
                if (lo < 0) throw new HttpError(400, "malformed percent-encoding in " + s);
                bytes.write(hi * 16 + lo);
                i = percent + 3;
            }
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
            } catch (CharacterCodingException e) {
                throw new HttpError(400, "percent-encoding is not UTF-8 in " + s);
            }
        }

        // ------------------------------------------------------------ writing responses

        static Response json(int status, Object value) { return Response.of(status, JSON_TYPE, Jackson.JSON.writeValueAsBytes(value)); }

        static Response error(int status, String reason) { return json(status, new ErrorBody(reason)); }

        /** Writes a response: gzip when the client allows it, no body for HEAD/204/304, Connection: close echoed. */
        void send(HttpExchange ex, Response r) throws IOException {
            Headers h = ex.getResponseHeaders();
            r.headers().forEach(h::set);
            byte[] body = r.body();
            if (r.type() != null) {
                h.set("Content-Type", r.type());
                if (compressible(r.type())) {
                    h.set("Vary", "Accept-Encoding");
                    if (r.file() == null && acceptsGzip(ex.getRequestHeaders().get("Accept-Encoding"))) {
                        // Like nginx, a gzipped representation gets a weak ETag: the bytes differ, the content does not.
                        String etag = h.getFirst("ETag");
                        if (etag != null && !etag.startsWith("W/")) h.set("ETag", "W/" + etag);
                        if (body.length > 0 && r.status() != 304) {
                            body = gzip(body);
                            h.set("Content-Encoding", "gzip");
                        }
                    }
                }
            }
            if (closeRequested(ex.getRequestHeaders())) h.set("Connection", "close");
            long length = r.file() != null ? Files.size(r.file()) : body.length;
            boolean head = ex.getRequestMethod().equals("HEAD");
            if (head || r.status() == 204 || r.status() == 304 || r.status() < 200) {
                // The JDK sends no Content-Length for these; HEAD must show the length a GET would get.
                if (head && r.status() != 204 && r.status() != 304) h.set("Content-Length", Long.toString(length));
                log(ex, r.status(), 0);
                ex.sendResponseHeaders(r.status(), -1);
                return;
            }
            log(ex, r.status(), length);
            ex.sendResponseHeaders(r.status(), length == 0 ? -1 : length);
            try (OutputStream out = ex.getResponseBody()) {
                if (r.file() != null) Files.copy(r.file(), out);
                else out.write(body);
            }
        }

        static boolean closeRequested(Headers request) {
            List<String> values = request.get("Connection");
            if (values == null) return false;
            for (String v : values) for (String token : v.split(",")) if (token.strip().equalsIgnoreCase("close")) return true;
            return false;
        }

        static boolean compressible(String type) {
            return type.startsWith("text/") || type.startsWith("application/json") || type.startsWith("application/javascript")
                    || type.startsWith("application/xml") || type.startsWith("image/svg+xml");
        }

        /** Accept-Encoding (RFC 9110 §12.5.3): a comma list of codings with q-values; q=0 means "not this one". */
        static boolean acceptsGzip(List<String> acceptEncoding) {
            if (acceptEncoding == null) return false;
            Double gzip = null, any = null;
            for (String value : acceptEncoding) {
                for (String entry : value.split(",")) {
                    String[] parts = entry.split(";");
                    String coding = parts[0].strip().toLowerCase(Locale.ROOT);
                    double q = 1.0;
                    for (int i = 1; i < parts.length; i++) {
                        String p = parts[i].strip().toLowerCase(Locale.ROOT);
                        if (p.startsWith("q=")) {
                            try { q = Double.parseDouble(p.substring(2)); } catch (NumberFormatException e) { q = 0; }
                        }
                    }
                    if (coding.equals("gzip") || coding.equals("x-gzip")) gzip = Math.max(q, gzip == null ? 0 : gzip);
                    else if (coding.equals("*")) any = q;
                }
            }
            return gzip != null ? gzip > 0 : any != null && any > 0;
        }

        static byte[] gzip(byte[] data) throws IOException {
            var out = new ByteArrayOutputStream(data.length / 2 + 32);
            try (var gz = new GZIPOutputStream(out)) { gz.write(data); }
            return out.toByteArray();
        }

        // ------------------------------------------------------------ the RFC 9112 filter and the access log

        /**
         * What the JDK's parser lets through but RFC 9112 forbids, refused before any handler runs: a malformed
         * version (400) or one with another major number (505; HTTP/1.2 is served as HTTP/1.1, RFC 9110 §2.5, which
         * the JDK already does), an HTTP/1.1 request without exactly one Host or with an invalid one (400, §3.2), an
         * absolute-form target whose authority is invalid (400, §3.2.2), a fragment in the target (400, §3.2: the
         * target has none), control characters in a field value (400, RFC 9110 §5.5), a method token nobody defined
         * (501, RFC 9110 §9.1).
         */
        Filter rejectWhatRfc9112Forbids() {
            return new Filter() {
                @Override public void doFilter(HttpExchange ex, Chain chain) throws IOException {
                    String problem = null;
                    int status = 400;
                    String version = ex.getProtocol();
                    List<String> hosts = ex.getRequestHeaders().get("Host");
                    URI target = ex.getRequestURI();
                    if (!version.matches("HTTP/[0-9]\\.[0-9]")) {
                        problem = "malformed HTTP version: " + version;
                    } else if (version.charAt(5) != '1') {
                        status = 505;
                        problem = "HTTP version not supported: " + version;
                    } else if (!version.equals("HTTP/1.0") && (hosts == null || hosts.size() != 1)) {
                        problem = hosts == null ? "missing Host header" : "more than one Host header";
                    } else if (hosts != null && !hosts.getFirst().isEmpty() && !Authority.valid(hosts.getFirst())) {
                        problem = "invalid Host header: " + hosts.getFirst() + " (RFC 9112 §3.2: uri-host [ \":\" port ])";
                    } else if (target.isAbsolute() && !isHttpUriWithHost(target)) {
                        problem = "invalid absolute-form target: " + target + " (an http URI with a valid host, RFC 9112 §3.2.2)";
                    } else if (target.getRawFragment() != null) {
                        problem = "request target with a fragment (#): a request target has none (RFC 9112 §3.2)";
                    } else if (hasControlCharacters(ex.getRequestHeaders())) {
                        problem = "control character in a header field";
                    } else if (!KNOWN_METHODS.contains(ex.getRequestMethod())) {
                        status = 501;
                        problem = "method not implemented: " + ex.getRequestMethod();
                    }
                    if (problem == null) {
                        chain.doFilter(ex);
                        return;
                    }
                    requests.incrementAndGet();
                    try (ex) {
                        send(ex, error(status, problem).with("Connection", "close"));
                    }
                }

                @Override public String description() { return "rejects what RFC 9112 forbids"; }
            };
        }

        // ---- twin: authority (kept identical in SimpleHttpServer.java, ThreadedHttpServer.java; tests/TwinsTest.java checks)
        /**
         * The authority rules of RFC 3986 §3.2.2, for a Host header and an absolute-form target: uri-host [ ":" port ],
         * the host an IP-literal, an IPv4 address or a reg-name. The host must not be empty (RFC 9110 §4.2.1: an http URI
         * with an empty host is invalid); an empty Host field as a whole is the caller's to allow (RFC 9112 §3.2).
         */
        static final class Authority {
            private Authority() {}

            static final String SUB_DELIMS = "!$&'()*+,;=";

            /** uri-host [ ":" port ] with a host: no userinfo, path, space or anything else. */
            static boolean valid(String authority) {
                String port;
                if (authority.startsWith("[")) {
                    int close = authority.indexOf(']');
                    if (close < 0 || !isIpLiteral(authority.substring(1, close))) return false;
                    String rest = authority.substring(close + 1);
                    if (rest.isEmpty()) return true;
                    if (rest.charAt(0) != ':') return false;
                    port = rest.substring(1);
                } else {
                    int colon = authority.indexOf(':');
                    String host = colon < 0 ? authority : authority.substring(0, colon);
                    if (host.isEmpty() || !isRegName(host)) return false; // IPv4address is a reg-name too
                    port = colon < 0 ? "" : authority.substring(colon + 1);
                }
                return port.chars().allMatch(c -> c >= '0' && c <= '9');
            }

            /** reg-name = *( unreserved / pct-encoded / sub-delims ) */
            static boolean isRegName(String s) {
                for (int i = 0; i < s.length(); i++) {
                    char c = s.charAt(i);
                    if (c == '%') {
                        if (i + 2 >= s.length() || Character.digit(s.charAt(i + 1), 16) < 0 || Character.digit(s.charAt(i + 2), 16) < 0) return false;
                        i += 2;
                    } else if (!isUnreserved(c) && SUB_DELIMS.indexOf(c) < 0) {
                        return false;
                    }
                }
                return true;
            }

            static boolean isUnreserved(char c) {
                return c < 128 && (Character.isLetterOrDigit(c) || c == '-' || c == '.' || c == '_' || c == '~');
            }

            /** IP-literal without its brackets: IPv6address / IPvFuture. */
            static boolean isIpLiteral(String s) {
                if (s.length() > 1 && (s.charAt(0) == 'v' || s.charAt(0) == 'V')) {
                    int dot = s.indexOf('.');
                    if (dot < 2 || dot == s.length() - 1) return false;
                    for (int i = 1; i < dot; i++) if (Character.digit(s.charAt(i), 16) < 0) return false;
                    for (int i = dot + 1; i < s.length(); i++) {
                        char c = s.charAt(i);
                        if (!isUnreserved(c) && SUB_DELIMS.indexOf(c) < 0 && c != ':') return false;
                    }
                    return true;
                }
                return isIpv6(s);
            }

            /** Eight groups of 1 to 4 hex digits, "::" once at most for a run of zero groups, an IPv4 address last. */
            static boolean isIpv6(String s) {
                int gap = s.indexOf("::");
                if (gap < 0) return groups(s, true) == 8;
                if (s.indexOf("::", gap + 1) >= 0) return false;
                String before = s.substring(0, gap), after = s.substring(gap + 2);
                int left = before.isEmpty() ? 0 : groups(before, false), right = after.isEmpty() ? 0 : groups(after, true);
                return left >= 0 && right >= 0 && left + right <= 7;
            }

            /** How many 16-bit groups the colon-separated text holds (an IPv4 address last counts 2), or -1. */
            static int groups(String s, boolean ipv4Last) {
                String[] parts = s.split(":", -1);
                int n = 0;
                for (int i = 0; i < parts.length; i++) {
                    String p = parts[i];
                    if (ipv4Last && i == parts.length - 1 && p.indexOf('.') >= 0) {
                        if (!isIpv4(p)) return -1;
                        n += 2;
                    } else if (p.isEmpty() || p.length() > 4 || !p.chars().allMatch(c -> Character.digit(c, 16) >= 0 && c < 128)) {
                        return -1;
                    } else {
                        n++;
                    }
                }
                return n;
            }

            /** Four dec-octets 0 to 255, without leading zeros. */
            static boolean isIpv4(String s) {
                String[] octets = s.split("\\.", -1);
                if (octets.length != 4) return false;
                for (String o : octets) {
                    if (o.isEmpty() || o.length() > 3 || !o.chars().allMatch(c -> c >= '0' && c <= '9')) return false;
                    if (o.length() > 1 && o.charAt(0) == '0' || Integer.parseInt(o) > 255) return false;
                }
                return true;
            }
        }
        // ---- end twin: authority

        /** An http(s) URI with an authority whose host is not empty (RFC 9110 §4.2.1), and nothing else in it. */
        static boolean isHttpUriWithHost(URI target) {
            String scheme = target.getScheme().toLowerCase(Locale.ROOT);
            return (scheme.equals("http") || scheme.equals("https")) && target.getRawAuthority() != null
                    && Authority.valid(target.getRawAuthority());
        }

        static boolean hasControlCharacters(Headers headers) {
            for (var entry : headers.entrySet()) {
                for (String value : entry.getValue()) {
                    for (int i = 0; i < value.length(); i++) {
                        char c = value.charAt(i);
                        if (c < 0x20 && c != '\t' || c == 0x7f) return true;
                    }
                }
            }
            return false;
        }

        /**
         * One line per request: who, what, status, body bytes, and the thread that ran the handler. Printed just
         * before the response goes out, so a client that has its answer knows the line is already written.
         */
        void log(HttpExchange ex, int status, long bytes) {
            if (quiet) return;
            SimpleHttpServer.log(System.out, ex.getRemoteAddress().getAddress().getHostAddress() + " \"" + ex.getRequestMethod() + " "
                    + ex.getRequestURI() + " " + ex.getProtocol() + "\" " + status + " " + bytes + " " + Thread.currentThread().getName());
        }
    }

    // ---------------------------------------------------------------- plumbing: the poller warm-up for virtual threads

    // ---- twin: poller-warm-up (kept identical in EchoServer.java, PrimeEchoServer.java, SimpleHttpServer.java, ThreadedHttpServer.java; tests/TwinsTest.java checks)
    /**
     * Starts the JDK's poller, through which virtual threads wait on sockets, before the ready line. It starts at the
     * first such wait, and if that comes while the open-files limit is reached, its class fails to initialise and
     * stays broken for the life of the JVM (NoClassDefFoundError: sun.nio.ch.Poller, on every connection after).
     * So one virtual thread waits in an accept until it is parked there; closing the socket ends it.
     */
    static void startPoller() throws IOException {
        try (var probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            var waiter = Thread.ofVirtual().name("poller-start").start(() -> {
                try {
                    probe.accept().close();
                } catch (IOException closed) {
                    // closed below, once the wait began: what ends it
                }
            });
            while (waiter.isAlive() && waiter.getState() != Thread.State.WAITING) Thread.onSpinWait();
        }
    }
    // ---- end twin: poller-warm-up
}
