///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//DEPS info.picocli:picocli:4.7.7
//DEPS tools.jackson.core:jackson-databind:3.3.0
//JAVA_OPTIONS -XX:+UseSerialGC -Xms8m -Xmx512m -Djbang.launcher.aot=ThreadedHttpServer
//DESCRIPTION HTTP/1.1 from raw bytes on java.net/java.nio, in six concurrency models, measured against nginx.

// ThreadedHttpServer: the HTTP contract (docs/http-contract.md) served from the socket up. One byte-level parser (RequestParser,
// fed from a ByteBuffer), one router (App) and one response writer are shared by six concurrency models (-m):
//   sequential  one connection at a time                thread   a platform thread per connection
//   pool        -w threads that each accept and serve   virtual  a virtual thread per connection
//   nio         one Selector loop does all socket I/O; blocking handlers run on -w worker threads (the default:
//               the fastest here; docs/performance.md says why not virtual)
//   processes   -w worker JVMs, each one event loop, share the port with SO_REUSEPORT (nginx's design)
// Run:    ./jbang ThreadedHttpServer.java                   (http://127.0.0.1:3000/, mode nio)
//         ./jbang ThreadedHttpServer.java -m nio -p 0       (any free port; the ready line says which)
//         THS_MODE=pool ./jbang ThreadedHttpServer.java     (every option also from THS_* or --config FILE)
// Watch:  in another terminal, `curl -s localhost:3000/io?ms=3000 &` then `curl -i localhost:3000/health`:
//         instant in every mode but sequential. The access log names the thread (vt-7, pool-2, nio-loop, p1-nio-loop).
//         `printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | nc localhost 3000` shows the bytes on the wire.
// Measure: bench/threaded-http-server.sh runs wrk against nginx and against every mode in the same run.

// The file, in order (each part opens with a `// ----` line):
//   1. the command line: options, main, the modes, start(), Running, StartupError
//   2. the six concurrency models, simplest first, and the accept loop four of them share
//   3. one connection, as every model holds it; the conversation of the four blocking models
//   4. the event loop (NioEventLoop accepts; NioConversation reads, handles, writes, closes), the worker processes
//   5. protocol core: request, response, limits; the request parser; the response writer
//   6. the application: routes of the HTTP contract
//   7. HTTP details: static files, gzip, the item store, percent-decoding, configuration
//   8. plumbing the models share: the log line, back-off when accept fails, the deadlines (Watchdog), the poller warm-up

import com.sun.management.UnixOperatingSystemMXBean;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.*;
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
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;
import java.util.zip.GZIPOutputStream;

@Command(name = "ThreadedHttpServer", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
        version = "ThreadedHttpServer 1.0",
        description = "Serves www/ and the HTTP contract (docs/http-contract.md) with HTTP/1.1 parsed from raw bytes, in one of six concurrency models.")
public class ThreadedHttpServer implements Callable<Integer> {

    // ---------------------------------------------------------------- the command line: options, main, the modes, starting and stopping

    @Option(names = {"-p", "--port"}, description = "TCP port to listen on (0 picks a free port).")
    int port = DEFAULT_PORT;

    @Option(names = {"-b", "--bind"}, description = "Address to listen on.")
    String bind = "127.0.0.1";

    @Option(names = {"-m", "--mode"}, description = "Concurrency model: ${COMPLETION-CANDIDATES} (trade-offs below).")
    Mode mode = Mode.nio;

    @Option(names = {"-w", "--workers"}, description = "Threads in pool mode, worker threads in nio mode, worker JVMs in processes mode.")
    int workers = DEFAULT_WORKERS;

    @Option(names = "--root", description = "Web root for static files.")
    Path root = Path.of("www");

    @Option(names = "--directory", description = "Folder for GET/POST /files/{name} (none: /files answers 404).")
    Path directory;

    @Option(names = "--backlog", description = "Listen queue length (Java's default of 50 overflows under a burst of connects).")
    int backlog = DEFAULT_BACKLOG;

    @Option(names = "--max-body", description = "Largest request body, in bytes (413 beyond).")
    int maxBody = DEFAULT_MAX_BODY;

    @Option(names = "--max-request-line", description = "Longest request line, in bytes (414 beyond).")
    int maxRequestLine = DEFAULT_MAX_REQUEST_LINE;

    @Option(names = "--max-header-size", description = "Largest header section (or trailer section), in bytes (431 beyond).")
    int maxHeaderSize = DEFAULT_MAX_HEADER_SIZE;

    @Option(names = "--header-timeout", description = "Milliseconds a client has to send a whole request head once it started (slowloris guard).")
    int headerTimeout = DEFAULT_HEADER_TIMEOUT_MS;

    @Option(names = "--idle-timeout", description = "Milliseconds a keep-alive connection may wait for its next request, or a body read may stall.")
    int idleTimeout = DEFAULT_IDLE_TIMEOUT_MS;

    @Option(names = "--write-timeout", description = "Milliseconds a response write may stall (a client that never reads).")
    int writeTimeout = DEFAULT_WRITE_TIMEOUT_MS;

    @Option(names = "--config", paramLabel = "FILE", description = "A properties file of options by long name (port=3000, max-body=65536).")
    Path config;

    @Option(names = {"-q", "--quiet"}, description = "No access log (for benchmarks); failures are still logged.")
    boolean quiet;

    @Option(names = "--worker-index", hidden = true, description = "Internal: this JVM is worker N of a processes-mode parent.")
    int workerIndex;

    @Option(names = "--items-file", hidden = true, description = "Internal: the item store the worker JVMs share.")
    Path itemsFile;

    static final int DEFAULT_PORT = 3000;
    static final int DEFAULT_WORKERS = 5;
    static final int DEFAULT_BACKLOG = 4096;
    static final int DEFAULT_MAX_BODY = 1 << 20;
    static final int DEFAULT_MAX_REQUEST_LINE = 8 * 1024;
    static final int DEFAULT_MAX_HEADER_SIZE = 16 * 1024;
    static final int DEFAULT_MAX_HEADERS = 100;
    static final int DEFAULT_MAX_CHUNK_LINE = 4096;
    static final int DEFAULT_HEADER_TIMEOUT_MS = 10_000;
    static final int DEFAULT_IDLE_TIMEOUT_MS = 15_000;
    static final int DEFAULT_WRITE_TIMEOUT_MS = 30_000;
    static final int DEFAULT_LINGER_MS = 1_000;           // after an error: how long to drain what the client still sends
    static final int DEFAULT_STOP_GRACE_MS = 2_000;       // on close: how long in-flight requests get to finish
    static final int DEFAULT_WATCHDOG_TICK_MS = 50;
    static final int DEFAULT_BUFFER_SIZE = 8 * 1024;       // the event loop's read buffer; a blocking read grows to it
    static final int DEFAULT_IDLE_BUFFER_SIZE = 512;       // what a connection keeps to read its next request into
    static final int DEFAULT_HEAD_ROOM = 512;              // an answer's buffer: this much for its head, plus its body
    static final int DEFAULT_MAX_CACHED_FILE = 256 * 1024; // larger files go out with FileChannel.transferTo, never gzipped
    static final int DEFAULT_MAP_WINDOW = 4 << 20;         // virtual threads send large files from mapped windows this big
    static final String WORKER_READY = "worker-ready";

    public static void main(String... args) {
        int code;
        try {
            code = commandLine(new ThreadedHttpServer(), args, System.getenv()).execute(args);
        } catch (StartupError e) {
            System.err.println("Error: " + e.getMessage());
            code = e.exitCode;
        }
        System.exit(code);
    }

    /** The parsed options, as main would see them (environment and --config included): for tests and tools. */
    public static ThreadedHttpServer parse(String... args) {
        var server = new ThreadedHttpServer();
        commandLine(server, args, System.getenv()).parseArgs(args);
        return server;
    }

    /**
     * The command line with its defaults taken from the environment (THS_PORT, ...) and from a --config file:
     * picocli asks the default provider only for options not on the command line, so CLI > env > file > default.
     */
    static CommandLine commandLine(ThreadedHttpServer server, String[] args, Map<String, String> env) {
        var cli = new CommandLine(server);
        Properties file = Configuration.loadConfig(Configuration.configArgument(args, env), cli);
        cli.setDefaultValueProvider(new Configuration.EnvironmentAndFile(env, file));
        var names = new StringJoiner(", ");
        for (OptionSpec o : cli.getCommandSpec().options()) if (!o.hidden() && o.arity().max() > 0) names.add(Configuration.envName(o));
        var footer = new ArrayList<String>(List.of("", "Modes (-m), each with its trade-off:"));
        for (Mode m : Mode.values()) footer.add(m.helpLine());
        footer.addAll(List.of("",
                "Every option also comes from the environment or a --config properties file (key = long name, e.g. port=8080):",
                "command line > environment > config file > built-in default; the defaults shown above include the last three.",
                "Environment: " + names + ", THS_QUIET=true."));
        cli.getCommandSpec().usageMessage().footer(footer.toArray(String[]::new));
        cli.setParameterExceptionHandler((e, a) -> {
            System.err.println("Error: " + e.getMessage() + " (see --help)");
            return 2;
        });
        cli.setExecutionExceptionHandler((e, c, p) -> {
            if (!(e instanceof StartupError s)) throw e;
            System.err.println("Error: " + s.getMessage());
            return s.exitCode;
        });
        return cli;
    }

    @Override
    public Integer call() throws Exception {
        Running running = start();
        Runtime.getRuntime().addShutdownHook(new Thread(running::close, "shutdown"));
        if (workerIndex > 0) {
            System.out.println(WORKER_READY);
            Processes.exitWhenParentGoes();
        } else {
            System.out.printf("Listening on http://%s:%d/ mode=%s%n", hostForUrl(bind), running.port(), mode);
        }
        System.out.flush();
        running.awaitClose();
        return 0;
    }

    /** The six concurrency models, simplest first, each with its trade-off; the name is what -m takes and /health reports. */
    enum Mode {
        sequential("one connection at a time: simplest; one slow client stalls all"),
        thread("a platform thread per client: concurrent; ~1 MB of stack each"),
        pool("-w accepting threads: bounded; client w+1 waits until one leaves"),
        virtual("a virtual thread per client: blocking code that scales"),
        nio("one Selector loop + -w workers: fewest threads, fastest (default)"),
        processes("-w JVMs share the port: a crash takes one; no shared memory");

        final String tradeOff;

        Mode(String tradeOff) { this.tradeOff = tradeOff; }

        /** The line --help shows for this mode. */
        String helpLine() { return String.format("  %-11s %s", name(), tradeOff); }
    }

    /** Binds, starts serving in the chosen model, and returns; the options above must be set (parse() does that). */
    public Running start() throws IOException {
        if (!Files.isDirectory(root)) throw new StartupError(2, "web root is not a directory: " + root + " (run from the project folder, or pass --root)");
        if (directory != null && !Files.isDirectory(directory)) throw new StartupError(2, "--directory is not a directory: " + directory + " (create it first)");
        if (workers < 1) throw new StartupError(2, "--workers must be at least 1: " + workers);
        if (maxBody < 0 || maxRequestLine < 16 || maxHeaderSize < 64) throw new StartupError(2, "limits too small: --max-body " + maxBody
                + ", --max-request-line " + maxRequestLine + ", --max-header-size " + maxHeaderSize + " (see --help)");
        if (headerTimeout < 1 || idleTimeout < 1 || writeTimeout < 1) throw new StartupError(2, "timeouts must be at least 1 ms (see --help)");
        var address = new InetSocketAddress(bind, port);
        if (address.isUnresolved()) throw StartupError.unknownBindAddress(bind);
        Json.load();
        Model model = switch (mode) {
            case sequential -> new Sequential(core(address));
            case thread -> new ThreadPerConnection(core(address));
            case pool -> new FixedPool(core(address), workers);
            case virtual -> {
                startPoller();
                yield new VirtualThreads(core(address), "vt-");
            }
            case nio -> new NioEventLoop(core(address), workers, "nio-");
            // A worker JVM serves its share with one event loop, as an nginx worker process does; the parent supervises.
            case processes -> workerIndex > 0 ? new NioEventLoop(core(address), DEFAULT_WORKERS, "p" + workerIndex + "-nio-") : new Processes(this, address);
        };
        return new Running(model, quiet);
    }

    /** What every in-process model shares: the listening socket, the application, the limits, the watchdog. */
    Core core(InetSocketAddress address) throws IOException {
        var listener = ServerSocketChannel.open();
        try {
            listener.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            if (workerIndex > 0) listener.setOption(StandardSocketOptions.SO_REUSEPORT, true);
            listener.bind(address, backlog);
        } catch (BindException e) {
            listener.close();
            throw StartupError.cannotListen(bind, port, e);
        }
        int actualPort = ((InetSocketAddress) listener.getLocalAddress()).getPort();
        ItemStore items = itemsFile != null ? new SharedFileItems(itemsFile) : new InMemoryItems();
        var limits = new Limits(maxRequestLine, maxHeaderSize, DEFAULT_MAX_HEADERS, maxBody,
                headerTimeout, idleTimeout, writeTimeout);
        var app = new App(root.toRealPath(), directory == null ? null : directory.toRealPath(), mode.toString(), actualPort, items);
        return new Core(listener, actualPort, app, limits, new Watchdog(limits), quiet);
    }

    /** A started server: its port, and close() to stop accepting, let in-flight requests finish briefly, and stop. */
    public static final class Running implements AutoCloseable {
        private final Model model;
        private final boolean quiet;
        private final CountDownLatch closed = new CountDownLatch(1);

        Running(Model model, boolean quiet) { this.model = model; this.quiet = quiet; }

        public int port() { return model.port(); }

        public void awaitClose() throws InterruptedException { closed.await(); }

        @Override public void close() {
            synchronized (this) {
                if (closed.getCount() == 0) return;
                model.close();
                if (!quiet && model.requests() >= 0) System.out.println("Stopped after " + model.requests() + " requests");
                closed.countDown();
            }
        }
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


    // ---------------------------------------------------------------- the six concurrency models, simplest first, and the accept loop four of them share

    /** A running model: it listens on port() and close() stops everything it started. */
    sealed interface Model permits Sequential, ThreadPerConnection, FixedPool, VirtualThreads, NioEventLoop, Processes {
        int port();

        /** Requests answered so far (-1: counted elsewhere, by the worker JVMs). */
        long requests();

        void close();
    }

    /** The accept loop the thread-based models share; each decides who serves an accepted connection. */
    abstract static sealed class Acceptor permits Sequential, ThreadPerConnection, FixedPool, VirtualThreads {
        final Core core;
        private final List<Thread> threads = new ArrayList<>();
        private final AcceptBackoff backoff = new AcceptBackoff(ThreadedHttpServer::logFailure);

        Acceptor(Core core) { this.core = core; }

        public int port() { return core.port(); }

        public long requests() { return core.app().requests.sum(); }

        /** Starts a platform thread that accepts connections and hands each to serve(). */
        void acceptOn(String threadName) {
            threads.add(Thread.ofPlatform().name(threadName).start(() -> {
                while (core.listener().isOpen()) {
                    SocketChannel ch;
                    try {
                        ch = core.listener().accept();
                    } catch (ClosedChannelException e) {
                        return;
                    } catch (IOException | Error e) {
                        // Out of file descriptors (EMFILE), or of memory: retrying at once would spin. Connections
                        // already open go on being served by their own threads meanwhile.
                        pause(backoff.failed(e));
                        continue;
                    }
                    try {
                        serve(ch);
                    } catch (RuntimeException | Error e) {
                        // No thread for it (OutOfMemoryError: unable to create native thread): drop this one client.
                        closeQuietly(ch);
                        pause(backoff.failed(e));
                    }
                }
            }));
        }

        abstract void serve(SocketChannel ch);

        private static void pause(long millis) {
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        public void close() {
            try {
                core.listener().close();
            } catch (IOException e) {
                System.err.println("closing the listener failed: " + e);
            }
            core.watchdog().stop(DEFAULT_STOP_GRACE_MS);
            for (Thread t : threads) {
                try {
                    t.join(DEFAULT_STOP_GRACE_MS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    // Sequential: one connection at a time, on the accepting thread. Simplest; one slow or idle client stalls all.
    static final class Sequential extends Acceptor implements Model {
        Sequential(Core core) { super(core); acceptOn("sequential"); }

        @Override void serve(SocketChannel ch) { new BlockingConnection(core, ch).serve(); }
    }

    // Thread per connection: a new platform thread for each client. Concurrent, but each costs ~1 MB of stack and a
    // kernel thread, so 10,000 clients mean 10,000 threads.
    static final class ThreadPerConnection extends Acceptor implements Model {
        private final AtomicInteger next = new AtomicInteger();

        ThreadPerConnection(Core core) { super(core); acceptOn("acceptor"); }

        @Override void serve(SocketChannel ch) {
            Thread.ofPlatform().name("thread-" + next.incrementAndGet()).start(() -> new BlockingConnection(core, ch).serve());
        }
    }

    // Fixed pool, an accepting pool: -w threads, each accepting and serving one connection at a time (the design
    // of the from-scratch web server's workers). Bounded cost, but the (w+1)-th keep-alive client waits until one of
    // the first w goes away.
    static final class FixedPool extends Acceptor implements Model {
        FixedPool(Core core, int workers) {
            super(core);
            for (int i = 1; i <= workers; i++) acceptOn("pool-" + i);
        }

        @Override void serve(SocketChannel ch) { new BlockingConnection(core, ch).serve(); }
    }

    // Virtual thread per connection: the code of thread-per-connection, but a blocked read parks a virtual thread
    // instead of a kernel thread: its frames are copied into a heap object (a StackChunk, about 1.3 KB once the JIT
    // has compiled the path; interpreted frames, in a JVM's first few thousand connections, take two or three times
    // that). Simple code that scales to many idle connections (nio is the default).
    static final class VirtualThreads extends Acceptor implements Model {
        private final ThreadFactory factory;

        VirtualThreads(Core core, String prefix) {
            super(core);
            this.factory = Thread.ofVirtual().name(prefix, 1).factory();
            acceptOn(prefix + "acceptor");
        }

        @Override void serve(SocketChannel ch) { factory.newThread(() -> new BlockingConnection(core, ch).serve()).start(); }
    }

    // ---------------------------------------------------------------- one connection, as every model holds it, and the conversation of the four blocking models

    /**
     * One client connection's protocol state, the same in every model: the parser, the input buffer it reads, and
     * the deadline the watchdog enforces. How a model waits for bytes is the only thing that differs:
     * BlockingConnection blocks a thread, NioEventLoop waits for the selector.
     * An idle keep-alive connection is what C10K multiplies by ten thousand, so between requests it holds as little
     * as it can: `in` is small (a blocking read must own a buffer while it waits; the event loop lends one instead,
     * and lends the parser too, see NioEventLoop) and grows only while a request needs it; an answer exists only
     * while it is being written.
     */
    static class Connection {
        final Core core;
        final SocketChannel channel;
        RequestParser parser;         // null while an event-loop connection waits for its next request
        ByteBuffer in;
        private boolean lastReadFilled;   // the last read filled `in`: the socket may hold more, read more at a time
        volatile boolean busy;        // a request is being handled: shutdown lets it finish briefly
        // The watchdog's bookkeeping, guarded by the watchdog: when this connection times out (System.nanoTime()),
        // the queue of deadlines it waits in, and its neighbours there.
        long deadline = Long.MAX_VALUE;
        Watchdog.Queue queue;
        Connection earlier, later;

        Connection(Core core, SocketChannel channel, RequestParser parser, ByteBuffer in) {
            this.core = core;
            this.channel = channel;
            this.parser = parser;
            this.in = in;
        }

        /** True between requests: nothing of the next one has arrived yet. */
        boolean idle() { return parser == null ? !in.hasRemaining() : parser.idle(in); }

        /** Makes room in the input buffer for the next read (grows it up to what the limits need). */
        void prepareRead() {
            in.compact();
            // Full: the parser holds a partial head (it throws 414/431 before that grows past the limits). Or the
            // last read filled it: a body is streaming in, and reading it in larger pieces costs fewer system calls.
            if (!in.hasRemaining() || (lastReadFilled && in.capacity() < DEFAULT_BUFFER_SIZE))
                in = ByteBuffer.allocate(in.capacity() * 2).put(in.flip());
        }

        /** Reads what the socket has into `in` (left ready for the parser); -1 at end of stream. */
        int readIn() throws IOException {
            prepareRead();
            int room = in.remaining();
            int n = channel.read(in);
            lastReadFilled = n == room;
            in.flip();
            return n;
        }

        /** Between requests, with nothing left to parse: back to a small input buffer if a request made it grow. */
        void shrinkWhenIdle() {
            if (in.capacity() > DEFAULT_IDLE_BUFFER_SIZE && !in.hasRemaining()) in = ByteBuffer.allocate(DEFAULT_IDLE_BUFFER_SIZE).flip();
        }

        /** The deadline for the next read: idle between requests, a fixed end for the head, a stall limit for bodies. */
        void armReadDeadline() {
            if (idle() || !parser.readingHead()) core.watchdog().arm(this, Watchdog.Queue.IDLE);
            else core.watchdog().armOnce(this, Watchdog.Queue.HEAD);
        }

        void armWriteDeadline() { core.watchdog().arm(this, Watchdog.Queue.WRITE); }

        /** Handles a complete request on the calling thread and returns the answer to write. */
        Answer respond(Request request) {
            busy = true;
            core.watchdog().disarm(this);   // a handler may take its time (/io?ms=10000); only I/O has deadlines
            long start = System.nanoTime();
            Response r = core.app().handle(request);
            boolean keep = request.keepAlive() && !core.watchdog().stopping();
            var answer = Answer.of(r, request.method().equals("HEAD"), !keep, !request.http11() && keep);
            if (!core.quiet()) log(request.method() + " " + request.target() + " HTTP/1." + (request.http11() ? 1 : 0), r, start);
            return answer;
        }

        /** The answer to a request that could not be parsed; the connection closes after it. */
        Answer respondToBrokenRequest(HttpError e) {
            core.watchdog().disarm(this);   // the client's bytes are all here: the time to answer is the server's, not theirs
            Response r = core.app().errorResponse(e, null);
            if (!core.quiet()) log("(unparsable request)", r, System.nanoTime());
            return Answer.of(r, false, true, false);
        }

        /** The access log line: time, thread, client, request line, status, bytes, handling time. */
        void log(String requestLine, Response r, long startNanos) {
            long micros = (System.nanoTime() - startNanos) / 1000;
            ThreadedHttpServer.log(System.out, Thread.currentThread().getName() + " " + remote() + " \"" + requestLine + "\" " + r.status() + " "
                    + r.length() + " " + micros / 1000 + "." + (micros % 1000) / 100 + "ms");
        }

        /** Logged once per failed connection, then the server goes on; -q hides the access log, never this. */
        void logFailure(String what) { ThreadedHttpServer.logFailure(Thread.currentThread().getName(), remote() + ": " + what); }

        /** The client's address, for the logs (not kept: an idle connection holds no string for it); closed, too. */
        String remote() {
            SocketAddress a = channel.socket().getRemoteSocketAddress();
            return a instanceof InetSocketAddress i ? i.getAddress().getHostAddress() + ":" + i.getPort() : "?";
        }

        /** Closes the connection and everything it holds; safe to call twice and from the watchdog's thread. */
        void close() {
            core.watchdog().remove(this);
            try {
                channel.close();
            } catch (IOException e) {
                logFailure("close failed: " + e);
            }
        }
    }

    /** An encoded answer: its head and small body in one buffer, a file body sent after it, and whether to close. */
    record Answer(Bytes bytes, FileRegion file, boolean close) {
        static Answer of(Response r, boolean head, boolean close, boolean http10KeepAlive) {
            var out = new Bytes(DEFAULT_HEAD_ROOM + (head || r.body() == null ? 0 : r.body().length));
            ResponseWriter.encode(r, head, close, http10KeepAlive, out);
            return new Answer(out, head ? null : r.file(), close);
        }

        static final Answer CONTINUE = new Answer(new Bytes(0).put(ResponseWriter.CONTINUE), null, false);

        ByteBuffer head() { return ByteBuffer.wrap(bytes.a, 0, bytes.n); }
    }

    /**
     * The conversation on a blocking channel, the same for the four thread-based models: read until the parser has a
     * message, answer it, repeat while the connection is kept alive. Deadlines are enforced by the watchdog closing
     * the channel, which wakes a blocked read or write with AsynchronousCloseException.
     */
    static final class BlockingConnection extends Connection {
        BlockingConnection(Core core, SocketChannel channel) {
            super(core, channel, new RequestParser(core.limits()), ByteBuffer.allocate(DEFAULT_IDLE_BUFFER_SIZE).flip());
        }

        /** Serves the connection until it closes; never throws. */
        void serve() {
            core.watchdog().add(this);
            try {
                channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                converse();
            } catch (ClosedChannelException e) {
                // A keep-alive connection that idled out is no failure; a request cut off half-way (head, body, answer) is.
                if (!core.watchdog().stopping() && (busy || !idle())) logFailure("timed out, closed by the watchdog");
            } catch (IOException e) {
                logFailure("connection failed: " + e);
            } catch (RuntimeException e) {
                System.err.println("Unexpected error on a connection from " + remote() + ":");
                e.printStackTrace();
            } catch (Error e) {
                // OutOfMemoryError and the like: this connection is dropped (its memory with it), the others go on.
                logFailure("closed after " + e);
            } finally {
                close();
            }
        }

        private void converse() throws IOException {
            while (true) {
                RequestParser.Progress progress;
                try {
                    progress = parser.feed(in);
                } catch (HttpError e) {
                    send(respondToBrokenRequest(e));
                    linger();
                    return;
                }
                switch (progress) {
                    case NEED_MORE -> {
                        busy = false;
                        if (core.watchdog().stopping() && idle()) return;
                        if (idle()) shrinkWhenIdle();
                        armReadDeadline();
                        int n = readIn();
                        if (n < 0) {
                            if (!idle()) logFailure("closed in the middle of a request");
                            return;
                        }
                    }
                    case HEAD_DONE -> {
                        busy = true;
                        if (parser.expectsContinue() && !in.hasRemaining()) writeFully(Answer.CONTINUE.head());
                    }
                    case MESSAGE_DONE -> {
                        Answer answer = respond(parser.take());
                        send(answer);
                        busy = false;
                        if (answer.close()) return;
                    }
                }
            }
        }

        /** Sends the head in one write, then a file body straight from the page cache, never through the heap. */
        private void send(Answer answer) throws IOException {
            writeFully(answer.head());
            FileRegion region = answer.file();
            if (region == null) return;
            try (FileChannel file = FileChannel.open(region.path(), StandardOpenOption.READ)) {
                long pos = region.offset(), end = pos + region.length();
                if (file.size() < end) throw new IOException("file shrank before it was sent: " + region.path());
                while (pos < end) {
                    if (Thread.currentThread().isVirtual()) {
                        // A virtual thread inside sendfile (transferTo) cannot be woken by close(), so the watchdog
                        // could never cut off a client that stops reading; a write from a mapped window can.
                        var window = file.map(FileChannel.MapMode.READ_ONLY, pos, Math.min(end - pos, DEFAULT_MAP_WINDOW));
                        pos += window.remaining();
                        while (window.hasRemaining()) writeFully(window);
                    } else {
                        armWriteDeadline();
                        pos += file.transferTo(pos, end - pos, channel);
                    }
                }
            }
        }

        /** Writes all of b; the write deadline restarts whenever the socket takes some bytes. */
        private void writeFully(ByteBuffer b) throws IOException {
            while (b.hasRemaining()) {
                armWriteDeadline();
                channel.write(b);
            }
        }

        /**
         * After an error answer the client may still be sending (a body we refused). Closing with unread bytes would
         * reset the connection and could destroy the answer before it is read, so: half-close, drain briefly, close.
         */
        private void linger() throws IOException {
            channel.shutdownOutput();
            core.watchdog().arm(this, Watchdog.Queue.LINGER);
            ByteBuffer sink = ByteBuffer.allocate(DEFAULT_BUFFER_SIZE);
            long drained = 0;
            try {
                while (drained < core.limits().maxBody() + DEFAULT_BUFFER_SIZE) {
                    sink.clear();
                    int n = channel.read(sink);
                    if (n < 0) return;
                    drained += n;
                }
            } catch (AsynchronousCloseException e) {
                // the linger deadline passed: the answer had its chance
            }
        }
    }

    // ---------------------------------------------------------------- the event loop: accept, then read, handle, write, close; the worker processes that each run one

    /**
     * A connection as the event loop holds it: what every connection holds, its selection key, where it stands, and
     * the answer being written. Idle, it holds no buffer and no parser: the loop lends both while a request is in.
     */
    static final class NioConnection extends Connection {
        /** Where a connection stands in the loop (robaho's and FusionAuth's servers name the same states). */
        enum State { READ, PROCESS, WRITE, LINGER }

        /** The input of a connection that has nothing left to parse: it holds no buffer of its own. */
        static final ByteBuffer NO_BYTES = ByteBuffer.allocate(0);

        State state = State.READ;
        final SelectionKey key;
        Outgoing outgoing;   // the answer being written, while state is WRITE

        NioConnection(Core core, SocketChannel channel, Selector selector) throws IOException {
            super(core, channel, null, NO_BYTES);
            this.key = channel.register(selector, SelectionKey.OP_READ, this);
        }

        /** The socket, and the file of a download in progress (the watchdog may call this for a stalled one). */
        @Override void close() {
            super.close();
            Outgoing o = outgoing;
            FileChannel f = o == null ? null : o.file;
            if (f != null) {
                o.file = null;
                closeQuietly(f);
            }
        }
    }

    /** An answer on its way out of the event loop: the bytes still to write, then the part of a file still to send. */
    static final class Outgoing {
        final ByteBuffer bytes;
        final boolean close;
        FileChannel file;
        long filePos, fileEnd;

        Outgoing(Answer answer) throws IOException {
            bytes = answer.head();
            close = answer.close();
            FileRegion region = answer.file();
            if (region != null) {
                file = FileChannel.open(region.path(), StandardOpenOption.READ);
                filePos = region.offset();
                fileEnd = filePos + region.length();
            }
        }
    }

    // NIO event loop: one thread multiplexes every socket with a Selector and never blocks; handlers that may block
    // (/io, /cpu, /files, /api) run on -w worker threads and hand their answer back to the loop to write. The loop
    // accepts; each connection then goes through the steps of NioConversation: read, handle, write, close.
    static final class NioEventLoop implements Model {
        private final Core core;
        private final Selector selector;
        private final ExecutorService workers;
        private final Queue<Runnable> completions = new ConcurrentLinkedQueue<>();
        private final NioConversation conversation;
        private final Thread loop;
        private final SelectionKey acceptKey;
        private final AcceptBackoff acceptBackoff = new AcceptBackoff(ThreadedHttpServer::logFailure);
        private long acceptPausedUntil;   // System.nanoTime() when OP_ACCEPT is selected again; 0 when not paused
        private volatile boolean running = true;

        NioEventLoop(Core core, int workerCount, String prefix) throws IOException {
            this.core = core;
            this.selector = Selector.open();
            this.workers = Executors.newFixedThreadPool(workerCount, Thread.ofPlatform().name(prefix + "worker-", 1).factory());
            this.conversation = new NioConversation(core, selector, workers, completions);
            core.listener().configureBlocking(false);
            this.acceptKey = core.listener().register(selector, SelectionKey.OP_ACCEPT);
            this.loop = Thread.ofPlatform().name(prefix + "loop").start(this::run);
        }

        @Override public int port() { return core.port(); }

        @Override public long requests() { return core.app().requests.sum(); }

        /**
         * The loop. A failure that belongs to one connection closes that connection (ready() and the completions
         * catch everything, Errors included); one that does not is logged, and the loop goes on; if the selector
         * itself fails again and again, the process exits with the reason rather than listen and answer nobody.
         */
        private void run() {
            int failuresInARow = 0;
            while (running) {
                try {
                    if (acceptPausedUntil != 0) {
                        long left = acceptPausedUntil - System.nanoTime();
                        if (left <= 0) {
                            acceptPausedUntil = 0;
                            acceptKey.interestOps(SelectionKey.OP_ACCEPT);
                        } else {
                            selector.select(this::ready, Math.max(1, left / 1_000_000));
                        }
                    }
                    if (acceptPausedUntil == 0) selector.select(this::ready);
                    for (Runnable r; (r = completions.poll()) != null; ) r.run();
                    failuresInARow = 0;
                } catch (ClosedSelectorException e) {
                    return;
                } catch (IOException | RuntimeException | Error e) {
                    if (!running) return;
                    logFailure(Thread.currentThread().getName(), "unexpected error, the loop goes on: " + e);
                    if (++failuresInARow >= 100) {
                        System.err.println("Error: " + Thread.currentThread().getName() + " cannot continue: " + e);
                        Runtime.getRuntime().halt(1);
                    }
                }
            }
        }

        /** A key is ready: the listener's (accept) or a connection's (its next step). */
        private void ready(SelectionKey key) {
            if (!key.isValid()) return;
            if (key.attachment() instanceof NioConnection c) conversation.ready(c, key);
            else accept();
        }

        /** Step 1, accept: every waiting connection, registered for reads, with the idle deadline. */
        private void accept() {
            try {
                for (SocketChannel ch; (ch = core.listener().accept()) != null; ) {
                    ch.configureBlocking(false);
                    ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    var c = new NioConnection(core, ch, selector);
                    core.watchdog().add(c);
                    c.armReadDeadline();
                }
            } catch (IOException | Error e) {
                if (!running) return;
                // Out of descriptors or memory: stop selecting OP_ACCEPT for a while instead of spinning on it.
                acceptKey.interestOps(0);
                acceptPausedUntil = System.nanoTime() + acceptBackoff.failed(e) * 1_000_000;
            }
        }

        @Override public void close() {
            try {
                core.listener().close();
            } catch (IOException e) {
                System.err.println("closing the listener failed: " + e);
            }
            core.watchdog().stop(DEFAULT_STOP_GRACE_MS);
            workers.shutdownNow();
            running = false;
            selector.wakeup();
            try {
                loop.join(DEFAULT_STOP_GRACE_MS);
                selector.close();
            } catch (InterruptedException | IOException e) {
                System.err.println("stopping the loop: " + e);
            }
        }
    }

    /**
     * The steps of one connection on the event loop, after accept: read, handle (on the loop, or handed off to a
     * worker), write, and close (after a linger). Every method runs on the loop's thread but answerOnWorker. The
     * loop's read buffer and a few spare parsers are lent to the connection whose turn it is.
     */
    static final class NioConversation {
        static final int SPARE_PARSERS = 64;   // parsers kept for the next requests; an idle connection holds none
        private final Core core;
        private final Selector selector;
        private final ExecutorService workers;
        private final Queue<Runnable> completions;
        // Every read goes into this one buffer, lent to the connection that is ready; what the parser leaves of it
        // (part of a request) is copied out before the next connection's turn. Parsers are lent the same way.
        private final ByteBuffer readBuffer = ByteBuffer.allocate(DEFAULT_BUFFER_SIZE);
        private final ArrayDeque<RequestParser> spareParsers = new ArrayDeque<>();

        NioConversation(Core core, Selector selector, ExecutorService workers, Queue<Runnable> completions) {
            this.core = core;
            this.selector = selector;
            this.workers = workers;
            this.completions = completions;
        }

        /** The connection's key is ready: its next step. A failure closes this connection only. */
        void ready(NioConnection c, SelectionKey key) {
            try {
                if (key.isReadable()) {
                    if (c.state == NioConnection.State.LINGER) drain(c);
                    else read(c);
                } else if (key.isWritable()) {
                    if (write(c)) handle(c);
                }
            } catch (IOException e) {
                if (c.channel.isOpen()) c.logFailure("connection failed: " + e.getMessage());
                c.close();
            } catch (CancelledKeyException e) {
                c.close();   // the watchdog closed it (a timeout)
            } catch (RuntimeException | Error e) {
                // OutOfMemoryError, a bug: this connection is closed (freeing what it holds), the loop goes on.
                c.logFailure("closed after " + e);
                c.close();
            }
        }

        /** Step 2, read: into the loop's buffer, then handle what arrived; leftovers are copied out of the buffer. */
        private void read(NioConnection c) throws IOException {
            // Nothing left over from the last read: borrow the loop's buffer. Part of a request left: read after it.
            if (!c.in.hasRemaining()) c.in = readBuffer.clear().flip();
            try {
                if (c.readIn() < 0) {
                    if (!c.idle()) c.logFailure("closed in the middle of a request");
                    c.close();
                    return;
                }
                handle(c);
            } finally {
                // Hand the loop's buffer back: what is left of it (a partial or pipelined request) is copied out.
                if (!c.in.hasRemaining()) c.in = NioConnection.NO_BYTES;
                else if (c.in == readBuffer) c.in = ByteBuffer.allocate(Math.max(2 * c.in.remaining(), DEFAULT_IDLE_BUFFER_SIZE)).put(c.in).flip();
            }
        }

        /**
         * Step 3, handle: feeds the parser until it needs bytes or an answer is on its way; pipelined requests go one
         * at a time. A request that may block goes to a worker (handOff); any other is answered here, on the loop.
         */
        private void handle(NioConnection c) throws IOException {
            if (c.parser == null) c.parser = spareParsers.isEmpty() ? new RequestParser(core.limits()) : spareParsers.pop();
            while (c.state == NioConnection.State.READ) {
                RequestParser.Progress progress;
                try {
                    progress = c.parser.feed(c.in);
                } catch (HttpError e) {
                    write(c, c.respondToBrokenRequest(e));
                    return;
                }
                switch (progress) {
                    case NEED_MORE -> {
                        c.busy = false;
                        if (c.idle() && core.watchdog().stopping()) { c.close(); return; }
                        c.armReadDeadline();
                        if (c.idle()) {   // waiting for its next request: the parser goes back to the spares
                            if (spareParsers.size() < SPARE_PARSERS) spareParsers.push(c.parser);
                            c.parser = null;
                        }
                        c.key.interestOps(SelectionKey.OP_READ);
                        return;
                    }
                    case HEAD_DONE -> {
                        c.busy = true;
                        if (c.parser.expectsContinue() && !c.in.hasRemaining() && !write(c, Answer.CONTINUE)) return;
                    }
                    case MESSAGE_DONE -> {
                        Request request = c.parser.take();
                        if (App.blocks(request)) {
                            handOff(c, request);
                            return;
                        }
                        if (!write(c, c.respond(request))) return;
                    }
                }
            }
        }

        /**
         * Off the loop: a worker handles the request and encodes the answer, then the loop writes it (resume). The
         * request is work the server owes from now on: no read deadline applies while it waits for a worker.
         */
        private void handOff(NioConnection c, Request request) {
            c.state = NioConnection.State.PROCESS;
            c.busy = true;
            core.watchdog().disarm(c);
            c.key.interestOps(0);
            workers.execute(() -> {
                completions.add(answerOnWorker(c, request));
                selector.wakeup();
            });
        }

        /** On a worker thread: the answer, and what the loop does with it next. */
        private Runnable answerOnWorker(NioConnection c, Request request) {
            try {
                Answer answer = c.respond(request);
                return () -> resume(c, answer);
            } catch (RuntimeException | Error e) {
                c.logFailure("closed after " + e);
                return c::close;
            }
        }

        /** Back on the loop with a worker's answer: write it, then go on with the connection's next request. */
        private void resume(NioConnection c, Answer answer) {
            try {
                if (write(c, answer)) handle(c);
            } catch (IOException | CancelledKeyException e) {
                c.close();
            } catch (RuntimeException | Error e) {
                c.logFailure("closed after " + e);
                c.close();
            }
        }

        /** Step 4, write: starts sending an answer; true if all of it went out and the connection reads again. */
        private boolean write(NioConnection c, Answer answer) throws IOException {
            if (!c.channel.isOpen()) return false;
            c.state = NioConnection.State.WRITE;
            c.outgoing = new Outgoing(answer);
            if (!c.channel.isOpen()) c.close();   // closed by the watchdog while the file was opened
            return write(c);
        }

        /** Writes what the socket takes now; the rest waits for OP_WRITE (a slow reader never blocks the loop). */
        private boolean write(NioConnection c) throws IOException {
            Outgoing o = c.outgoing;
            c.armWriteDeadline();
            c.channel.write(o.bytes);
            FileChannel file = o.file;   // the watchdog may close the connection, and its file, meanwhile
            if (!o.bytes.hasRemaining() && file != null) {
                o.filePos += file.transferTo(o.filePos, o.fileEnd - o.filePos, c.channel);
                if (o.filePos >= o.fileEnd) {
                    o.file = null;
                    file.close();
                }
            }
            if (o.bytes.hasRemaining() || o.file != null) {
                c.key.interestOps(SelectionKey.OP_WRITE);
                return false;
            }
            c.outgoing = null;
            if (o.close) {
                linger(c);
                return false;
            }
            c.state = NioConnection.State.READ;
            return true;
        }

        /** Step 5, close: half-close and drain what the client still sends, as BlockingConnection.linger does. */
        private void linger(NioConnection c) throws IOException {
            c.state = NioConnection.State.LINGER;
            c.channel.shutdownOutput();
            core.watchdog().arm(c, Watchdog.Queue.LINGER);
            c.key.interestOps(SelectionKey.OP_READ);
        }

        /** While lingering: read and drop; the client's end of stream (or the linger deadline) closes the connection. */
        private void drain(NioConnection c) throws IOException {
            if (c.channel.read(readBuffer.clear()) < 0) c.close();
        }
    }

    // Processes: -w worker JVMs, each listening on the same port with SO_REUSEPORT so the kernel spreads connections
    // over them, each running one event loop (nginx's worker processes). Isolation (a crash takes one worker) at
    // the price of sharing nothing in memory: items go to a file.
    static final class Processes implements Model {
        static final int DEFAULT_WORKER_START_MS = 30_000;       // a worker JVM that is not ready by then is killed
        static final int DEFAULT_WORKER_STABLE_MS = 10_000;      // a worker that exits sooner counts as a failed start
        static final long DEFAULT_FIRST_RESTART_DELAY_MS = 250;  // then doubling, up to:
        static final long DEFAULT_MAX_RESTART_DELAY_MS = 30_000;

        private final ThreadedHttpServer options;
        private final SocketChannel reservation;
        private final int port;
        private final Path itemsFile;
        private final Process[] children;
        private final int[] quickExits;   // per worker: exits in a row soon after starting, for the restart back-off
        private final ScheduledExecutorService restarts = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("restarts").factory());
        private volatile boolean closing;

        Processes(ThreadedHttpServer options, InetSocketAddress address) throws IOException {
            this.options = options;
            // First bind the port as every other mode does, without SO_REUSEPORT: a port in use (even by another
            // processes-mode server, whose sockets all carry SO_REUSEPORT) is the usual error, and -p 0 gets a port.
            int probed;
            try (var probe = ServerSocketChannel.open()) {
                probe.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                probe.bind(address, 1);
                probed = ((InetSocketAddress) probe.getLocalAddress()).getPort();
            } catch (BindException e) {
                throw StartupError.cannotListen(options.bind, options.port, e);
            }
            // Then hold it with a bound but non-listening socket: no connection can land on it, and nobody without
            // SO_REUSEPORT can take it while the workers, which set it, start listening.
            reservation = SocketChannel.open();
            try {
                reservation.setOption(StandardSocketOptions.SO_REUSEPORT, true);
                reservation.bind(new InetSocketAddress(address.getAddress(), probed));
            } catch (BindException e) {
                reservation.close();
                throw StartupError.cannotListen(options.bind, probed, e);
            }
            port = probed;
            itemsFile = Files.createTempFile("threaded-http-items-", ".jsonl");
            children = new Process[options.workers];
            quickExits = new int[options.workers];
            try {
                for (int i = 0; i < children.length; i++) children[i] = spawn(i + 1);
            } catch (IOException | RuntimeException e) {
                close();
                throw e;
            }
        }

        @Override public int port() { return port; }

        @Override public long requests() { return -1; }

        /** Starts worker JVM `index` with this JVM's java, class path and options, and waits for it to listen. */
        private Process spawn(int index) throws IOException {
            var cmd = new ArrayList<String>();
            cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
            for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
                if (!arg.startsWith("-agentlib") && !arg.startsWith("-javaagent") && !arg.startsWith("-XX:ArchiveClassesAtExit")) cmd.add(arg);
            }
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), ThreadedHttpServer.class.getName()));
            cmd.addAll(List.of("-p", String.valueOf(port), "-b", options.bind, "-m", "processes", "-w", String.valueOf(options.workers),
                    "--root", options.root.toString(), "--backlog", String.valueOf(options.backlog),
                    "--max-body", String.valueOf(options.maxBody), "--max-request-line", String.valueOf(options.maxRequestLine),
                    "--max-header-size", String.valueOf(options.maxHeaderSize), "--header-timeout", String.valueOf(options.headerTimeout),
                    "--idle-timeout", String.valueOf(options.idleTimeout), "--write-timeout", String.valueOf(options.writeTimeout),
                    "--worker-index", String.valueOf(index), "--items-file", itemsFile.toString()));
            if (options.directory != null) cmd.addAll(List.of("--directory", options.directory.toString()));
            if (options.quiet) cmd.add("-q");
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            long started = System.nanoTime();
            var reader = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            // The ready line has a deadline: a worker that hangs at start-up must not hang the parent.
            var first = new CompletableFuture<String>();
            Thread.ofPlatform().daemon().name("p" + index + "-start").start(() -> {
                try {
                    first.complete(reader.readLine());
                } catch (IOException e) {
                    first.completeExceptionally(e);
                }
            });
            String line;
            try {
                line = first.get(DEFAULT_WORKER_START_MS, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                p.destroyForcibly();
                throw new StartupError(1, "worker JVM " + index + " did not say it was ready within " + DEFAULT_WORKER_START_MS + " ms");
            } catch (InterruptedException | ExecutionException e) {
                p.destroyForcibly();
                throw new StartupError(1, "worker JVM " + index + " did not start: " + e);
            }
            if (!WORKER_READY.equals(line)) {
                p.destroyForcibly();
                throw new StartupError(1, "worker JVM " + index + " did not start" + (line == null ? " (see its error above)" : ": " + line));
            }
            // Forward the worker's access log; supervise it: a worker that dies unasked is replaced.
            Thread.ofPlatform().daemon().name("p" + index + "-log").start(() -> {
                try {
                    for (String l; (l = reader.readLine()) != null; ) System.out.println(l);
                } catch (IOException e) {
                    if (!closing) System.err.println("worker " + index + ": output lost: " + e);
                }
            });
            p.onExit().thenRun(() -> {
                if (closing) return;
                long delay = restartDelay(index, System.nanoTime() - started < DEFAULT_WORKER_STABLE_MS * 1_000_000L);
                log(System.err, "worker " + index + " (pid " + p.pid() + ") exited with " + p.exitValue()
                        + "; starting another in " + delay + " ms");
                restarts.schedule(() -> restart(index), delay, TimeUnit.MILLISECONDS);
            });
            return p;
        }

        /**
         * Replaces worker `index`. A worker that cannot start (or dies soon after starting) is retried with a pause
         * that doubles up to DEFAULT_MAX_RESTART_DELAY_MS: a broken worker must not become a fork loop.
         */
        private void restart(int index) {
            if (closing) return;
            try {
                Process p = spawn(index);
                children[index - 1] = p;
                log(System.err, "worker " + index + " (pid " + p.pid() + ") is serving again");
                if (closing) p.destroy();
            } catch (IOException | RuntimeException e) {
                long delay = restartDelay(index, true);
                log(System.err, "worker " + index + " did not start: " + e.getMessage() + "; retrying in " + delay + " ms");
                restarts.schedule(() -> restart(index), delay, TimeUnit.MILLISECONDS);
            }
        }

        private synchronized long restartDelay(int index, boolean quick) {
            int n = quickExits[index - 1] = quick ? quickExits[index - 1] + 1 : 0;
            return n == 0 ? 0 : Math.min(DEFAULT_MAX_RESTART_DELAY_MS, DEFAULT_FIRST_RESTART_DELAY_MS << Math.min(n - 1, 20));
        }

        /** In a worker JVM: the parent holds our stdin open; when it goes (even killed -9), so do we. */
        static void exitWhenParentGoes() {
            Thread.ofPlatform().daemon().name("parent-watch").start(() -> {
                try {
                    while (System.in.read() >= 0) { }
                } catch (IOException e) {
                    System.err.println("parent-watch: " + e);
                }
                System.exit(0);
            });
        }

        @Override public void close() {
            closing = true;
            restarts.shutdownNow();
            for (Process p : children) if (p != null) p.destroy();   // SIGTERM: each worker closes cleanly
            for (Process p : children) {
                if (p == null) continue;
                try {
                    if (!p.waitFor(DEFAULT_STOP_GRACE_MS + 3_000, TimeUnit.MILLISECONDS)) p.destroyForcibly();
                } catch (InterruptedException e) {
                    p.destroyForcibly();
                    Thread.currentThread().interrupt();
                }
            }
            try {
                reservation.close();
                Files.deleteIfExists(itemsFile);
            } catch (IOException e) {
                System.err.println("cleaning up: " + e);
            }
        }
    }

    // ---------------------------------------------------------------- protocol core: a request, a response, the limits

    /** The limits of the protocol core (RFC 9112 §2.3 lets a server set them; it must say so with the right status). */
    record Limits(int maxRequestLine, int maxHeaderSize, int maxHeaders, int maxBody,
                  int headerTimeoutMs, int idleTimeoutMs, int writeTimeoutMs) {}

    /** Everything a model needs besides its threads. */
    record Core(ServerSocketChannel listener, int port, App app, Limits limits, Watchdog watchdog, boolean quiet) {}

    /** A parsed request. Header names are lower case; target is as sent, path and query are split from it. */
    record Request(String method, String target, String path, String query, boolean http11, Headers headers,
                   byte[] body, boolean keepAlive) {
        String header(String lowerCaseName) { return headers.get(lowerCaseName); }
    }

    /**
     * A response before it is written: a status, a type, a body (bytes, or a region of a file) and extra headers.
     * `fixed`, when set, holds the Content-Type line and the other fixed header lines already in wire format (a
     * cached static file, /health): the hot paths then copy one array instead of encoding strings, and skip
     * content negotiation, which they did themselves.
     */
    record Response(int status, String type, byte[] body, FileRegion file, List<String> headers, byte[] fixed) {
        static final byte[] EMPTY = new byte[0];

        static Response of(int status, String type, byte[] body) { return new Response(status, type, body, null, new ArrayList<>(4), null); }

        static Response ofFile(int status, String type, FileRegion file) { return new Response(status, type, null, file, new ArrayList<>(4), null); }

        static Response empty(int status) { return of(status, null, EMPTY); }

        Response with(String name, String value) { headers.add(name); headers.add(value); return this; }

        Response withBody(String newType, byte[] newBody) { return new Response(status, newType, newBody, null, headers, null); }

        long length() { return file != null ? file.length() : body.length; }

        String header(String name) {
            for (int i = 0; i < headers.size(); i += 2) if (headers.get(i).equalsIgnoreCase(name)) return headers.get(i + 1);
            return null;
        }
    }

    /** Part of a file sent without copying through the heap (FileChannel.transferTo). */
    record FileRegion(Path path, long offset, long length) {}

    /** An answer other than success: the status, the reason for the JSON body, extra headers, and whether to close. */
    static final class HttpError extends RuntimeException {
        final int status;
        final boolean close;
        final List<String> headers = new ArrayList<>(2);

        HttpError(int status, String reason) { this(status, reason, false); }

        HttpError(int status, String reason, boolean close) {
            super(reason, null, false, false);
            this.status = status;
            this.close = close;
        }

        HttpError with(String name, String value) { headers.add(name); headers.add(value); return this; }

        /** A framing error: the connection cannot be trusted any further and is closed after the answer. */
        static HttpError fatal(int status, String reason) { return new HttpError(status, reason, true); }
    }


    // ---------------------------------------------------------------- protocol core: the request parser

    /** Header fields of one message, names in lower case, in arrival order. */
    static final class Headers {
        private static final String[] NONE = {};
        private String[] names = NONE;    // no arrays until the first field: an idle connection's parser holds an empty one
        private String[] values = NONE;
        private int size;

        void add(String lowerCaseName, String value) {
            if (size == names.length) {
                names = Arrays.copyOf(names, Math.max(8, size * 2));
                values = Arrays.copyOf(values, Math.max(8, size * 2));
            }
            names[size] = lowerCaseName;
            values[size++] = value;
        }

        /** The first value of a field, or null. */
        String get(String lowerCaseName) {
            for (int i = 0; i < size; i++) if (names[i].equals(lowerCaseName)) return values[i];
            return null;
        }

        /** All values of a field joined by ", " (RFC 9110 §5.3), or null. */
        String joined(String lowerCaseName) {
            String joined = null;
            for (int i = 0; i < size; i++) {
                if (names[i].equals(lowerCaseName)) joined = joined == null ? values[i] : joined + ", " + values[i];
            }
            return joined;
        }

        int size() { return size; }

        int count(String lowerCaseName) {
            int n = 0;
            for (int i = 0; i < size; i++) if (names[i].equals(lowerCaseName)) n++;
            return n;
        }
    }

    /**
     * The HTTP/1.1 request parser (RFC 9112), fed bytes from a ByteBuffer as they arrive: feed() consumes what it can
     * and says whether it needs more, has a complete head (time for `100 Continue`), or has a complete message.
     * It never blocks and never reads a socket, so the blocking models and the NIO loop share it unchanged.
     * Every rule it enforces throws an HttpError with the status RFC 9112/9110 names.
     */
    static final class RequestParser {
        enum State { HEAD, BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILERS, DONE }

        enum Progress { NEED_MORE, HEAD_DONE, MESSAGE_DONE }

        /** Where the head scanner stands: empty lines before the request, the request line's parts, a field line's. */
        enum Scan { LEADING, LEADING_CR, METHOD, TARGET, VERSION, LINE_CR, LINE_START, NAME, VALUE, END_CR }

        static final List<String> KNOWN_METHODS = List.of("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH");
        private static final String[] COMMON_FIELDS = {"host", "user-agent", "accept", "accept-encoding", "connection",
                "content-length", "content-type", "transfer-encoding", "expect", "if-none-match", "if-modified-since",
                "range", "if-range", "accept-language", "cache-control", "cookie", "referer", "origin"};

        private final Limits limits;
        private State state = State.HEAD;
        private int scanned;          // bytes of the head already searched for its end, counted from the buffer position
        private int requestLineEnd;   // offset of the request line's CR from the buffer position, -1 until seen
        private int lineAt;           // offset of the field line being scanned from the buffer position
        private Scan scan;
        private int targetAt, versionAt;   // offsets of the target and of the version from the buffer position
        private int trailerBytes;
        // The message being parsed.
        private String method, target, path, query;
        private boolean http11, keepAlive, expectContinue;
        private Headers headers;
        private long contentLength;
        private long chunkRemaining;
        private byte[] body = Response.EMPTY;
        private int bodyLength;

        RequestParser(Limits limits) { this.limits = limits; reset(); }

        /** True between messages: nothing of the next request has arrived yet. */
        boolean idle(ByteBuffer in) { return state == State.HEAD && scan == Scan.LEADING && !in.hasRemaining(); }

        boolean readingHead() { return state == State.HEAD; }

        /** After HEAD_DONE: the client waits for `100 Continue` before sending its body (RFC 9110 §10.1.1). */
        boolean expectsContinue() { return expectContinue && state != State.DONE; }

        Progress feed(ByteBuffer in) {
            while (true) {
                switch (state) {
                    case HEAD -> {
                        if (!head(in)) return Progress.NEED_MORE;
                        return Progress.HEAD_DONE;
                    }
                    case BODY -> {
                        int n = (int) Math.min(contentLength - bodyLength, in.remaining());
                        room(n, contentLength);
                        in.get(body, bodyLength, n);
                        bodyLength += n;
                        if (bodyLength < contentLength) return Progress.NEED_MORE;
                        state = State.DONE;
                    }
                    case CHUNK_SIZE -> {
                        if (!chunkSize(in)) return Progress.NEED_MORE;
                    }
                    case CHUNK_DATA -> {
                        int n = (int) Math.min(chunkRemaining, in.remaining());
                        room(n, limits.maxBody());
                        in.get(body, bodyLength, n);
                        bodyLength += n;
                        chunkRemaining -= n;
                        if (chunkRemaining > 0) return Progress.NEED_MORE;
                        state = State.CHUNK_END;
                    }
                    case CHUNK_END -> {
                        // chunk-data is followed by CRLF and nothing else (RFC 9112 §7.1): refused at the first wrong byte.
                        if (!in.hasRemaining()) return Progress.NEED_MORE;
                        if (in.get(in.position()) != '\r') throw HttpError.fatal(400, "chunk data not followed by CRLF");
                        if (in.remaining() < 2) return Progress.NEED_MORE;
                        if (in.get(in.position() + 1) != '\n') throw HttpError.fatal(400, "chunk data not followed by CRLF");
                        in.position(in.position() + 2);
                        state = State.CHUNK_SIZE;
                    }
                    case TRAILERS -> {
                        if (!trailers(in)) return Progress.NEED_MORE;
                        state = State.DONE;
                    }
                    case DONE -> {
                        return Progress.MESSAGE_DONE;
                    }
                }
            }
        }

        /** Makes room for n more body bytes: the array doubles as bytes arrive, up to `cap`, never ahead of them. */
        private void room(int n, long cap) {
            if (bodyLength + n <= body.length) return;
            long size = Math.min(cap, Math.max(Math.max(body.length * 2L, DEFAULT_BUFFER_SIZE), bodyLength + (long) n));
            body = Arrays.copyOf(body, (int) size);
        }

        /** The complete request (after MESSAGE_DONE); the parser is then ready for the next one on the connection. */
        Request take() {
            byte[] b = bodyLength == body.length ? body : Arrays.copyOf(body, bodyLength);
            var r = new Request(method, target, path, query, http11, headers, b, keepAlive);
            reset();
            return r;
        }

        private void reset() {
            state = State.HEAD;
            scanned = 0;
            requestLineEnd = -1;
            lineAt = 0;
            scan = Scan.LEADING;
            trailerBytes = 0;
            headers = new Headers();
            method = target = path = query = null;   // the last request's strings are its own: not kept while idle
            contentLength = 0;
            chunkRemaining = 0;
            body = Response.EMPTY;
            bodyLength = 0;
            expectContinue = false;
        }

        /**
         * Scans the head as bytes arrive, one byte at a time, and refuses it at the first byte that makes it invalid
         * (as a streaming parser such as llhttp does): a method that is not a token, a target with a space, control
         * character, non-ASCII byte or `#`, a version that is not HTTP/d.d, a header name that is not a token, a
         * control character in a value, a bare CR or a bare LF (RFC 9112 §2.2: lines end in CRLF; accepting bare LF is
         * only allowed, and the lenient/strict difference is how requests get smuggled, §11.2). Each line is parsed
         * as soon as its CRLF arrives: a bad version (505), a Content-Length that is invalid, conflicting or too large,
         * or framing fields that contradict each other are answered then, without waiting for the empty line that
         * ends the head; what needs the whole head (Host, the transfer codings) is checked at its end. Limits are
         * enforced as bytes arrive.
         */
        private boolean head(ByteBuffer in) {
            byte[] a = in.array();
            int base = in.arrayOffset();
            int end = base + in.limit();
            // RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF) before the request line.
            while (scan == Scan.LEADING || scan == Scan.LEADING_CR) {
                int p = base + in.position();
                if (p == end) return false;
                byte b = a[p];
                if (scan == Scan.LEADING_CR) {
                    if (b != '\n') throw HttpError.fatal(400, "bare CR before the request line");
                    scan = Scan.LEADING;
                } else if (b == '\r') {
                    scan = Scan.LEADING_CR;
                } else if (b == '\n') {
                    throw HttpError.fatal(400, "bare LF (lines end in CRLF, RFC 9112 §2.2)");
                } else {
                    scan = Scan.METHOD;
                    break;
                }
                in.position(p + 1 - base);
            }
            int start = base + in.position();
            int headEnd = -1;
            int i = start + scanned;
            scanning:
            for (; i < end; i++) {
                int c = a[i] & 0xff;
                if (c == '\n' && scan != Scan.LINE_CR && scan != Scan.END_CR) throw HttpError.fatal(400, "bare LF (lines end in CRLF, RFC 9112 §2.2)");
                switch (scan) {
                    case METHOD -> {
                        if (c == ' ') {
                            if (i == start) throw HttpError.fatal(400, "malformed request line (method)");
                            scan = Scan.TARGET;
                            targetAt = i + 1 - start;
                        } else if (!isTokenChar((byte) c)) {
                            throw HttpError.fatal(400, "malformed request line (method): invalid character 0x" + Integer.toHexString(c));
                        }
                    }
                    case TARGET -> {
                        if (c == ' ') {
                            if (i - start == targetAt) throw HttpError.fatal(400, "malformed request line (target)");
                            scan = Scan.VERSION;
                            versionAt = i + 1 - start;
                        } else if (c == '#') {
                            throw HttpError.fatal(400, "malformed request line (target): a request target has no #fragment");
                        } else if (c <= 0x20 || c >= 0x7f) {
                            throw HttpError.fatal(400, "malformed request line (target): invalid character 0x" + Integer.toHexString(c));
                        }
                    }
                    case VERSION -> {
                        int k = i - start - versionAt;
                        if (c == '\r' && k == 8) {
                            requestLineEnd = i - start;
                            if (requestLineEnd > limits.maxRequestLine()) throw HttpError.fatal(414, "request line longer than " + limits.maxRequestLine() + " bytes");
                            scan = Scan.LINE_CR;
                        } else if (k >= 8 || !(k < 5 ? c == "HTTP/".charAt(k) : k == 6 ? c == '.' : c >= '0' && c <= '9')) {
                            throw HttpError.fatal(400, "malformed request line (version)");
                        } else if (k == 7 && a[i - 2] != '1') {
                            // The version's last digit: HTTP/d.d with another major is known wrong now, not at the CR
                            // that may never come (llhttp answers here too). RFC 9110 §2.5: another major is 505.
                            throw HttpError.fatal(505, "HTTP version not supported: " + new String(a, i - 7, 8, StandardCharsets.ISO_8859_1));
                        }
                    }
                    case LINE_CR -> {
                        if (c != '\n') throw HttpError.fatal(400, "bare CR in the request head");
                        if (i - 1 - start == requestLineEnd) requestLine(a, start, i);
                        else fieldLine(a, start + lineAt, i, true);
                        lineAt = i + 1 - start;
                        scan = Scan.LINE_START;
                    }
                    case LINE_START -> {
                        if (c == '\r') scan = Scan.END_CR;
                        else if (c == ' ' || c == '\t') throw HttpError.fatal(400, "obsolete line folding in a header field");
                        else if (c == ':') throw HttpError.fatal(400, "empty header field name");
                        else if (isTokenChar((byte) c)) scan = Scan.NAME;
                        else throw HttpError.fatal(400, "malformed header field: invalid character 0x" + Integer.toHexString(c) + " in a name");
                    }
                    case NAME -> {
                        if (c == ':') scan = Scan.VALUE;
                        else if (c == ' ' || c == '\t') throw HttpError.fatal(400, "whitespace between a header field name and its colon");
                        else if (!isTokenChar((byte) c)) throw HttpError.fatal(400, "malformed header field: invalid character 0x" + Integer.toHexString(c) + " in a name");
                    }
                    case VALUE -> {
                        if (c == '\r') scan = Scan.LINE_CR;
                        else if (c < 0x20 && c != '\t' || c == 0x7f) throw HttpError.fatal(400, "control character in a header field");
                    }
                    case END_CR -> {
                        if (c != '\n') throw HttpError.fatal(400, "bare CR in the request head");
                        headEnd = i + 1;
                        break scanning;
                    }
                    case LEADING, LEADING_CR -> throw new IllegalStateException("leading lines are skipped above");
                }
            }
            scanned = i - start;
            if (requestLineEnd < 0 && scanned > limits.maxRequestLine()) throw HttpError.fatal(414, "request line longer than " + limits.maxRequestLine() + " bytes");
            if (requestLineEnd >= 0 && scanned - requestLineEnd > limits.maxHeaderSize()) throw HttpError.fatal(431, "header section larger than " + limits.maxHeaderSize() + " bytes");
            if (headEnd < 0) return false;
            in.position(headEnd - base);
            framing();
            return true;
        }

        /** request-line = method SP request-target SP HTTP-version (RFC 9112 §3), exactly one space apart. */
        private void requestLine(byte[] a, int from, int lf) {
            int end = lf > from && a[lf - 1] == '\r' ? lf - 1 : lf;
            int sp1 = from;
            while (sp1 < end && isTokenChar(a[sp1])) sp1++;
            if (sp1 == from || sp1 == end || a[sp1] != ' ') throw HttpError.fatal(400, "malformed request line (method)");
            int sp2 = sp1 + 1;
            while (sp2 < end && a[sp2] > 0x20 && a[sp2] < 0x7f) sp2++;
            if (sp2 == sp1 + 1 || sp2 == end || a[sp2] != ' ') throw HttpError.fatal(400, "malformed request line (target)");
            int v = sp2 + 1;
            if (end - v != 8 || !startsWith(a, v, "HTTP/") || !isDigit(a[v + 5]) || a[v + 6] != '.' || !isDigit(a[v + 7]))
                throw HttpError.fatal(400, "malformed request line (version)");
            // RFC 9110 §2.5: a higher minor version (HTTP/1.2) is answered as the highest we speak; another major was
            // refused with 505 by head() at the version's last digit.
            http11 = a[v + 7] != '0';
            method = method(a, from, sp1);
            target = new String(a, sp1 + 1, sp2 - sp1 - 1, StandardCharsets.ISO_8859_1);
            splitTarget();
        }

        /** origin-form, absolute-form, or `*` for OPTIONS (RFC 9112 §3.2). */
        private void splitTarget() {
            String t = target;
            if (t.equals("*")) {
                if (!method.equals("OPTIONS")) throw HttpError.fatal(400, "asterisk-form is only for OPTIONS");
                path = "*";
                query = null;
                return;
            }
            if (!t.startsWith("/")) {
                int scheme = t.regionMatches(true, 0, "http://", 0, 7) ? 7 : t.regionMatches(true, 0, "https://", 0, 8) ? 8 : -1;
                if (scheme < 0) throw HttpError.fatal(400, "request target must be a path starting with /");
                int slash = t.indexOf('/', scheme), q = t.indexOf('?', scheme);
                int authorityEnd = slash < 0 ? (q < 0 ? t.length() : q) : q < 0 ? slash : Math.min(slash, q);
                String authority = t.substring(scheme, authorityEnd);
                // An http(s) URI has a host and no userinfo (RFC 9110 §4.2.1, §4.2.4).
                if (!Authority.valid(authority))
                    throw HttpError.fatal(400, "invalid authority in the request target: " + authority);
                t = authorityEnd == t.length() ? "/" : t.charAt(authorityEnd) == '?' ? "/" + t.substring(authorityEnd) : t.substring(authorityEnd);
            }
            int q = t.indexOf('?');
            path = q < 0 ? t : t.substring(0, q);
            query = q < 0 ? null : t.substring(q + 1);
        }

        /**
         * field-line = field-name ":" OWS field-value OWS (RFC 9112 §5), the line a[p, lf) with lf at its LF: no
         * whitespace before the colon (§5.1), no obs-fold (§5.2), no control characters in the value (RFC 9110 §5.5).
         * A header field is stored, and a framing field checked at once (framingField); trailers are checked the same
         * way and discarded (store = false).
         */
        private void fieldLine(byte[] a, int p, int lf, boolean store) {
            int e = lf > p && a[lf - 1] == '\r' ? lf - 1 : lf;
            if (a[p] == ' ' || a[p] == '\t') throw HttpError.fatal(400, "obsolete line folding in a header field");
            if (store && headers.size() >= limits.maxHeaders()) throw HttpError.fatal(431, "more than " + limits.maxHeaders() + " header fields");
            int colon = p;
            while (colon < e && isTokenChar(a[colon])) colon++;
            if (colon == e || a[colon] != ':') {
                throw HttpError.fatal(400, colon < e && (a[colon] == ' ' || a[colon] == '\t')
                        ? "whitespace between a header field name and its colon" : "malformed header field");
            }
            if (colon == p) throw HttpError.fatal(400, "empty header field name");
            int vs = colon + 1, ve = e;
            while (vs < ve && (a[vs] == ' ' || a[vs] == '\t')) vs++;
            while (ve > vs && (a[ve - 1] == ' ' || a[ve - 1] == '\t')) ve--;
            for (int i = vs; i < ve; i++) {
                byte b = a[i];
                if (b >= 0 && b < 0x20 && b != '\t' || b == 0x7f) throw HttpError.fatal(400, "control character in a header field");
            }
            if (!store) return;
            String name = fieldName(a, p, colon);
            headers.add(name, new String(a, vs, ve - vs, StandardCharsets.ISO_8859_1));
            framingField(name);
        }

        /**
         * The framing rules one field line can break, checked as soon as it arrives (the request line is parsed by
         * then): Content-Length is digits, agrees with an earlier one and fits the body limit (RFC 9112 §6.3, RFC 9110
         * §8.6); it never stands beside Transfer-Encoding (§6.1, §11.2), which HTTP/1.0 does not have (§6.1).
         */
        private void framingField(String name) {
            switch (name) {
                case "content-length" -> {
                    if (headers.get("transfer-encoding") != null) throw HttpError.fatal(400, "both Transfer-Encoding and Content-Length");
                    contentLength(headers.joined("content-length"));
                }
                case "transfer-encoding" -> {
                    if (headers.get("content-length") != null) throw HttpError.fatal(400, "both Transfer-Encoding and Content-Length");
                    if (!http11) throw HttpError.fatal(400, "Transfer-Encoding in an HTTP/1.0 request");
                }
                default -> { }
            }
        }

        /**
         * Content-Length = 1*DIGIT, repeated only with the same value (RFC 9110 §8.6, RFC 9112 §6.3): the length, or
         * 400; a value past the body limit, however many digits, is 413 (RFC 9110 §15.5.14) and never parsed whole.
         */
        private long contentLength(String cl) {
            long length = -1;
            for (String part : cl.split(",", -1)) {
                String s = part.strip();
                if (s.isEmpty() || !s.chars().allMatch(c -> c >= '0' && c <= '9')) throw HttpError.fatal(400, "invalid Content-Length: " + cl);
                long v = s.length() > 18 ? Long.MAX_VALUE : Long.parseLong(s);
                if (length >= 0 && v != length) throw HttpError.fatal(400, "conflicting Content-Length values: " + cl);
                length = v;
            }
            if (length > limits.maxBody()) throw HttpError.fatal(413, "request body too large (limit " + limits.maxBody() + " bytes)");
            return length;
        }

        /** How the body is framed (RFC 9112 §6.3), and the other fields the protocol itself reads. */
        private void framing() {
            int hosts = headers.count("host");
            if (http11 && hosts == 0) throw HttpError.fatal(400, "missing Host header");
            if (hosts > 1) throw HttpError.fatal(400, "more than one Host header");
            String host = headers.get("host");
            // RFC 9112 §3.2: a Host that is not uri-host [ ":" port ] MUST be 400; an empty one is allowed.
            if (host != null && !host.isEmpty() && !Authority.valid(host)) throw HttpError.fatal(400, "invalid Host header: " + host);
            String te = headers.joined("transfer-encoding");
            String cl = headers.joined("content-length");
            if (te != null) {
                var codings = new ArrayList<String>();
                for (String coding : te.split(",")) {
                    String c = coding.strip().toLowerCase(Locale.ROOT);
                    if (!c.isEmpty()) codings.add(c);
                }
                if (codings.isEmpty()) throw HttpError.fatal(400, "empty Transfer-Encoding");
                // RFC 9112 §6.3: chunked, but not as the final coding: the length cannot be known, 400 and close.
                int chunked = codings.indexOf("chunked");
                if (chunked >= 0 && !codings.getLast().equals("chunked")) throw HttpError.fatal(400, "the final transfer coding is not chunked: " + te);
                if (chunked >= 0 && chunked != codings.size() - 1) throw HttpError.fatal(400, "chunked applied more than once");
                // No chunked at all (Transfer-Encoding: gzip): a coding we do not implement (§6.1), and we close too.
                for (String c : codings) if (!c.equals("chunked")) throw HttpError.fatal(501, "transfer coding not implemented: " + c);
                body = Response.EMPTY;   // grows as chunk data arrives
                state = State.CHUNK_SIZE;
            } else if (cl != null) {
                contentLength = contentLength(cl);
                body = Response.EMPTY;   // grows as the body arrives: a declared length alone reserves nothing
                state = contentLength == 0 ? State.DONE : State.BODY;
            } else {
                state = State.DONE;   // a request without either has no body (RFC 9112 §6.3, rule 7)
            }
            String connection = headers.joined("connection");
            keepAlive = http11 ? !hasToken(connection, "close") : hasToken(connection, "keep-alive");
            String expect = headers.get("expect");
            if (expect != null) {
                if (!expect.equalsIgnoreCase("100-continue")) throw HttpError.fatal(417, "expectation not supported: " + expect);
                expectContinue = http11;
            }
        }

        /**
         * chunk-size [ chunk-ext ] CRLF (RFC 9112 §7.1): hex digits, then extensions, which are checked against their
         * grammar and ignored. A byte that cannot belong to a chunk size is refused as soon as it arrives.
         */
        private boolean chunkSize(ByteBuffer in) {
            byte[] a = in.array();
            int base = in.arrayOffset();
            int p = base + in.position(), end = base + in.limit();
            int lf = p;
            while (lf < end && a[lf] != '\n') lf++;
            int digitsEnd = p;
            while (digitsEnd < lf && Character.digit(a[digitsEnd], 16) >= 0) digitsEnd++;
            if (digitsEnd - p > 15) throw HttpError.fatal(413, "chunk size too large");
            if (digitsEnd < lf && a[digitsEnd] != ';' && a[digitsEnd] != ' ' && a[digitsEnd] != '\t' && a[digitsEnd] != '\r' || digitsEnd == p && digitsEnd < lf)
                throw HttpError.fatal(400, "invalid chunk size");
            if (lf == end) {
                if (end - p > DEFAULT_MAX_CHUNK_LINE) throw HttpError.fatal(400, "chunk size line too long");
                return false;
            }
            if (lf == p || a[lf - 1] != '\r') throw HttpError.fatal(400, "bare LF after a chunk size (lines end in CRLF, RFC 9112 §2.2)");
            if (!chunkExtensions(a, digitsEnd, lf - 1)) throw HttpError.fatal(400, "malformed chunk extension");
            long size = 0;
            for (int i = p; i < digitsEnd; i++) size = size * 16 + Character.digit(a[i], 16);
            in.position(lf + 1 - base);
            if (bodyLength + size > limits.maxBody()) throw HttpError.fatal(413, "request body too large (limit " + limits.maxBody() + " bytes)");
            chunkRemaining = size;
            state = size == 0 ? State.TRAILERS : State.CHUNK_DATA;
            return true;
        }

        /**
         * chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-name = token, ext-val = token /
         * quoted-string (RFC 9112 §7.1.1, RFC 9110 §5.6): true if a[from, to) is exactly that.
         */
        static boolean chunkExtensions(byte[] a, int from, int to) {
            int i = from;
            while (true) {
                while (i < to && (a[i] == ' ' || a[i] == '\t')) i++;
                if (i == to) return true;
                if (a[i++] != ';') return false;
                while (i < to && (a[i] == ' ' || a[i] == '\t')) i++;
                int name = i;
                while (i < to && isTokenChar(a[i])) i++;
                if (i == name) return false;
                int afterName = i;
                while (i < to && (a[i] == ' ' || a[i] == '\t')) i++;
                if (i == to || a[i] != '=') { i = afterName; continue; }
                i++;
                while (i < to && (a[i] == ' ' || a[i] == '\t')) i++;
                if (i < to && a[i] == '"') {
                    i++;
                    while (i < to && a[i] != '"') {
                        int c = a[i] & 0xff;
                        if (c == '\\') {
                            if (++i == to) return false;
                            c = a[i] & 0xff;
                            if (c < 0x20 && c != '\t' || c == 0x7f) return false;
                        } else if (c < 0x20 && c != '\t' || c == 0x7f) {
                            return false;
                        }
                        i++;
                    }
                    if (i == to) return false;
                    i++;
                } else {
                    int value = i;
                    while (i < to && isTokenChar(a[i])) i++;
                    if (i == value) return false;
                }
            }
        }

        /** trailer-section CRLF after the last chunk: field lines like a header section, checked and discarded. */
        private boolean trailers(ByteBuffer in) {
            byte[] a = in.array();
            int base = in.arrayOffset();
            int p = base + in.position(), end = base + in.limit();
            while (true) {
                int lf = p;
                while (lf < end && a[lf] != '\n') lf++;
                if (lf == end) {
                    if (trailerBytes + (end - p) > limits.maxHeaderSize()) throw HttpError.fatal(431, "trailer section too large");
                    in.position(p - base);
                    return false;
                }
                trailerBytes += lf + 1 - p;
                if (trailerBytes > limits.maxHeaderSize()) throw HttpError.fatal(431, "trailer section too large");
                if (lf == p || a[lf - 1] != '\r') throw HttpError.fatal(400, "bare LF in the trailer section (lines end in CRLF, RFC 9112 §2.2)");
                boolean empty = lf == p + 1;
                if (!empty) fieldLine(a, p, lf, false);
                p = lf + 1;
                if (empty) {
                    in.position(p - base);
                    return true;
                }
            }
        }

        /** True if a comma-separated header value holds the token (case-insensitive), e.g. Connection: keep-alive, close. */
        static boolean hasToken(String value, String token) {
            if (value == null) return false;
            int from = 0;
            while (from <= value.length()) {
                int comma = value.indexOf(',', from);
                int to = comma < 0 ? value.length() : comma;
                int s = from, e = to;
                while (s < e && value.charAt(s) == ' ') s++;
                while (e > s && value.charAt(e - 1) == ' ') e--;
                if (e - s == token.length() && value.regionMatches(true, s, token, 0, token.length())) return true;
                if (comma < 0) return false;
                from = comma + 1;
            }
            return false;
        }

        private static String method(byte[] a, int from, int to) {
            for (String m : KNOWN_METHODS) if (m.length() == to - from && startsWith(a, from, m)) return m;
            return new String(a, from, to - from, StandardCharsets.ISO_8859_1);
        }

        /** A field name in lower case; the common ones without allocating. */
        private static String fieldName(byte[] a, int from, int to) {
            for (String f : COMMON_FIELDS) {
                if (f.length() != to - from) continue;
                int i = 0;
                while (i < f.length() && (a[from + i] | 0x20) == f.charAt(i)) i++;
                if (i == f.length()) return f;
            }
            return new String(a, from, to - from, StandardCharsets.ISO_8859_1).toLowerCase(Locale.ROOT);
        }

        private static boolean startsWith(byte[] a, int from, String s) {
            for (int i = 0; i < s.length(); i++) if (a[from + i] != s.charAt(i)) return false;
            return true;
        }

        private static boolean isDigit(byte b) { return b >= '0' && b <= '9'; }

        /** tchar (RFC 9110 §5.6.2). */
        static boolean isTokenChar(byte b) {
            return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b > 0x20 && b < 0x7f && "!#$%&'*+-.^_`|~".indexOf(b) >= 0;
        }
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

    // ---------------------------------------------------------------- protocol core: the response writer

    /** A growable byte array a response head (and a small body) is assembled in, so it goes out in one write. */
    static final class Bytes {
        byte[] a;
        int n;

        Bytes(int capacity) { a = new byte[capacity]; }

        void ensure(int more) { if (n + more > a.length) a = Arrays.copyOf(a, Math.max(a.length * 2, n + more)); }

        Bytes put(String ascii) {
            int len = ascii.length();
            ensure(len);
            for (int i = 0; i < len; i++) a[n++] = (byte) ascii.charAt(i);
            return this;
        }

        Bytes put(byte[] b) { return put(b, 0, b.length); }

        Bytes put(byte[] b, int off, int len) {
            ensure(len);
            System.arraycopy(b, off, a, n, len);
            n += len;
            return this;
        }

        /** A non-negative number in decimal. */
        Bytes put(long v) {
            int digits = 1;
            for (long x = v; x >= 10; x /= 10) digits++;
            ensure(digits);
            for (int i = n + digits - 1; i >= n; i--, v /= 10) a[i] = (byte) ('0' + v % 10);
            n += digits;
            return this;
        }

        byte[] toArray() { return Arrays.copyOf(a, n); }

        Bytes header(String name, String value) { return put(name).put(": ").put(value).put("\r\n"); }
    }

    /** The response writer: one encode() for every model, and the fixed bytes it is made of. */
    static final class ResponseWriter {
        private ResponseWriter() {}

        static final byte[] CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
        static final byte[] CRLF = {'\r', '\n'};
        static final byte[] SERVER_LINE = ascii("Server: ThreadedHttpServer\r\n");
        static final byte[] CONTENT_LENGTH = ascii("Content-Length: ");
        static final byte[] CONNECTION_CLOSE = ascii("Connection: close\r\n");
        static final byte[] CONNECTION_KEEP_ALIVE = ascii("Connection: keep-alive\r\n");

        static byte[] ascii(String s) { return s.getBytes(StandardCharsets.ISO_8859_1); }

        /**
         * Writes a response: status line, Date, the headers, Content-Length and the body into one buffer (RFC 9112 §4,
         * §6.3), so a small response is a single write. A file body stays out of the buffer: the caller sends it after
         * the head with FileChannel.transferTo. HEAD, 204 and 304 get the headers and no body (RFC 9110 §9.3.2, §15).
         */
        static void encode(Response r, boolean head, boolean close, boolean http10KeepAlive, Bytes out) {
            out.put(StatusLines.of(r.status())).put(Dates.line()).put(SERVER_LINE);
            if (r.fixed() != null) out.put(r.fixed());
            else if (r.type() != null) out.header("Content-Type", r.type());
            List<String> h = r.headers();
            for (int i = 0; i < h.size(); i += 2) out.header(h.get(i), h.get(i + 1));
            boolean bodiless = r.status() == 204 || r.status() == 304 || r.status() < 200;
            if (!bodiless) out.put(CONTENT_LENGTH).put(r.length()).put(CRLF);
            if (close) out.put(CONNECTION_CLOSE);
            else if (http10KeepAlive) out.put(CONNECTION_KEEP_ALIVE);
            out.put(CRLF);
            if (!head && !bodiless && r.file() == null) out.put(r.body());
        }
    }

    /** Status lines, made once. */
    static final class StatusLines {
        private static final byte[][] LINES = new byte[600][];

        static {
            Map<Integer, String> reasons = Map.ofEntries(Map.entry(100, "Continue"), Map.entry(200, "OK"), Map.entry(201, "Created"),
                    Map.entry(204, "No Content"), Map.entry(206, "Partial Content"), Map.entry(301, "Moved Permanently"),
                    Map.entry(304, "Not Modified"), Map.entry(400, "Bad Request"), Map.entry(404, "Not Found"),
                    Map.entry(405, "Method Not Allowed"), Map.entry(408, "Request Timeout"), Map.entry(413, "Content Too Large"),
                    Map.entry(414, "URI Too Long"), Map.entry(415, "Unsupported Media Type"), Map.entry(416, "Range Not Satisfiable"),
                    Map.entry(417, "Expectation Failed"), Map.entry(431, "Request Header Fields Too Large"),
                    Map.entry(500, "Internal Server Error"), Map.entry(501, "Not Implemented"), Map.entry(503, "Service Unavailable"),
                    Map.entry(505, "HTTP Version Not Supported"));
            for (int s = 100; s < 600; s++) {
                LINES[s] = ("HTTP/1.1 " + s + " " + reasons.getOrDefault(s, "Status " + s) + "\r\n").getBytes(StandardCharsets.ISO_8859_1);
            }
        }

        static byte[] of(int status) { return LINES[status]; }
    }

    /** The Date header (RFC 9110 §6.6.1), formatted once per second, not once per response. */
    static final class Dates {
        static final DateTimeFormatter HTTP_DATE = DateTimeFormatter.RFC_1123_DATE_TIME.withZone(ZoneOffset.UTC);

        private record Line(long second, byte[] bytes) {}

        private static volatile Line current = new Line(-1, Response.EMPTY);

        static byte[] line() {
            long second = System.currentTimeMillis() / 1000;
            Line l = current;
            if (l.second != second) {
                l = new Line(second, ("Date: " + HTTP_DATE.format(Instant.ofEpochSecond(second)) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                current = l;
            }
            return l.bytes;
        }
    }

    // ---------------------------------------------------------------- the application: routes of the HTTP contract

    /** JSON: Jackson for bodies, loaded on first use (a worker JVM that only serves /health never pays for it). */
    static final class Json {
        /** The mapper in a holder class of its own: string() below, used by every error answer, must not load Jackson. */
        private static final class Jackson {
            static final JsonMapper MAPPER = JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();
        }

        static JsonMapper mapper() { return Jackson.MAPPER; }

        static byte[] bytes(Object value) { return Jackson.MAPPER.writeValueAsBytes(value); }

        /**
         * Reads what the mapper's first build reads from disk, the JDK's time-zone data, before the ready line (Jackson
         * itself stays unloaded until the first /api request: a few MB less at idle). Read first while the open-files
         * limit is reached, the data's class fails to initialise and stays broken for the life of the JVM, and so
         * would the mapper's holder, and every /api request with it.
         */
        static void load() { TimeZone.getTimeZone("UTC"); }

        /** A JSON string literal (RFC 8259 §7). */
        static String string(String s) {
            var b = new StringBuilder(s.length() + 2).append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> b.append("\\\"");
                    case '\\' -> b.append("\\\\");
                    case '\n' -> b.append("\\n");
                    case '\r' -> b.append("\\r");
                    case '\t' -> b.append("\\t");
                    default -> {
                        if (c < 0x20) b.append("\\u00").append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 15, 16));
                        else b.append(c);
                    }
                }
            }
            return b.append('"').toString();
        }
    }

    /** The HTTP contract's routes, shared by every model. handle() never throws: errors become JSON answers. */
    static final class App {
        static final int MAX_IO_MS = 10_000;
        static final int MAX_CPU_N = 10_000_000;
        static final String JSON_TYPE = "application/json";
        static final String TEXT_TYPE = "text/plain; charset=utf-8";
        static final String OCTETS = "application/octet-stream";

        /** The methods a route takes, and its Allow header. */
        enum Allowed {
            GET_HEAD("GET, HEAD"), POST("POST"), GET_HEAD_POST("GET, HEAD, POST");

            final String header;

            Allowed(String header) { this.header = header; }

            boolean permits(String method) {
                return switch (this) {
                    case GET_HEAD -> method.equals("GET") || method.equals("HEAD");
                    case POST -> method.equals("POST");
                    case GET_HEAD_POST -> method.equals("GET") || method.equals("HEAD") || method.equals("POST");
                };
            }
        }

        record Created(long id, String name, String message, String created_at) {}

        record Received(JsonNode received) {}

        record IoResult(String task, int ms, String thread) {}

        record CpuResult(String task, int n, int primes, long elapsed_ms, String thread) {}

        final Path root;
        final Path directory;
        final String mode;
        final int port;
        final ItemStore items;
        final StaticFiles files;
        final long startNanos = System.nanoTime();
        final LongAdder requests = new LongAdder();
        final byte[] healthPrefix;

        App(Path root, Path directory, String mode, int port, ItemStore items) {
            this.root = root;
            this.directory = directory;
            this.mode = mode;
            this.port = port;
            this.items = items;
            this.files = new StaticFiles(root);
            this.healthPrefix = ("{\"status\":\"ok\",\"server\":\"ThreadedHttpServer\",\"mode\":\"" + mode + "\",\"port\":" + port
                    + ",\"uptime_ms\":").getBytes(StandardCharsets.UTF_8);
        }

        Response handle(Request req) {
            requests.increment();
            Response r;
            try {
                r = route(req);
            } catch (HttpError e) {
                return errorResponse(e, req);
            } catch (IOException | UncheckedIOException e) {
                System.err.println("I/O error on " + req.method() + " " + req.target() + ": " + e);
                return errorResponse(new HttpError(500, "internal server error"), req);
            } catch (RuntimeException e) {
                System.err.println("Unexpected error on " + req.method() + " " + req.target() + ":");
                e.printStackTrace();
                return errorResponse(new HttpError(500, "internal server error"), req);
            }
            return Gzip.negotiate(req, r);
        }

        /** True for a route that may block or burn CPU: the NIO loop hands these to its workers. */
        static boolean blocks(Request req) {
            String p = req.path();
            return p.equals("/io") || p.equals("/cpu") || p.startsWith("/files/") || p.startsWith("/api/");
        }

        Response route(Request req) throws IOException {
            String method = req.method();
            String path = req.path();
            if (!RequestParser.KNOWN_METHODS.contains(method)) throw new HttpError(501, "method not implemented: " + method);
            if (path.equals("*")) return Response.empty(204).with("Allow", "GET, HEAD, POST, OPTIONS");
            return switch (path) {
                case "/health" -> allow(method, Allowed.GET_HEAD) ? health(req) : allowOnly(method, Allowed.GET_HEAD);
                case "/api/create" -> allow(method, Allowed.POST) ? create(req) : allowOnly(method, Allowed.POST);
                case "/api/items" -> allow(method, Allowed.GET_HEAD) ? Response.of(200, JSON_TYPE, Json.bytes(items.all())) : allowOnly(method, Allowed.GET_HEAD);
                case "/api/echo" -> allow(method, Allowed.POST) ? Response.of(200, JSON_TYPE, Json.bytes(new Received(readJson(req)))) : allowOnly(method, Allowed.POST);
                case "/user-agent" -> allow(method, Allowed.GET_HEAD) ? userAgent(req) : allowOnly(method, Allowed.GET_HEAD);
                case "/io" -> allow(method, Allowed.GET_HEAD) ? io(req) : allowOnly(method, Allowed.GET_HEAD);
                case "/cpu" -> allow(method, Allowed.GET_HEAD) ? cpu(req) : allowOnly(method, Allowed.GET_HEAD);
                default -> {
                    if (path.startsWith("/api/items/")) yield allow(method, Allowed.GET_HEAD) ? item(path.substring(11)) : allowOnly(method, Allowed.GET_HEAD);
                    if (path.startsWith("/echo/")) yield allow(method, Allowed.GET_HEAD)
                            ? Response.of(200, TEXT_TYPE, PercentEncoding.decode(path.substring(6)).getBytes(StandardCharsets.UTF_8)) : allowOnly(method, Allowed.GET_HEAD);
                    if (path.startsWith("/files/")) yield allow(method, Allowed.GET_HEAD_POST) ? files(req, path.substring(7)) : allowOnly(method, Allowed.GET_HEAD_POST);
                    yield staticFile(req);
                }
            };
        }

        static boolean allow(String method, Allowed allowed) { return allowed.permits(method); }

        /** The answer to a method the path does not take: OPTIONS gets 204, others 405; both say what is allowed. */
        static Response allowOnly(String method, Allowed allowed) {
            if (method.equals("OPTIONS")) return Response.empty(204).with("Allow", allowed.header);
            throw new HttpError(405, "method " + method + " not allowed here").with("Allow", allowed.header);
        }

        Response health(Request req) {
            long uptime = (System.nanoTime() - startNanos) / 1_000_000;
            byte[] body = new Bytes(healthPrefix.length + 21).put(healthPrefix).put(uptime).put("}").toArray();
            if (Gzip.accepted(req.header("accept-encoding"))) {
                return Response.of(200, JSON_TYPE, body).with("Access-Control-Allow-Origin", "*").with("Cache-Control", "no-store");
            }
            return new Response(200, JSON_TYPE, body, null, new ArrayList<>(2), HEALTH_HEADERS);
        }

        static final byte[] HEALTH_HEADERS = new Bytes(128).header("Content-Type", JSON_TYPE).header("Access-Control-Allow-Origin", "*")
                .header("Cache-Control", "no-store").header("Vary", "Accept-Encoding").toArray();

        Response create(Request req) {
            JsonNode body = readJson(req);
            JsonNode name = body.get("name");
            if (!body.isObject() || name == null || !name.isString() || name.stringValue().isBlank())
                throw new HttpError(400, "name must be a non-blank string");
            ItemStore.Item item = items.create(name.stringValue());
            return Response.of(201, JSON_TYPE, Json.bytes(new Created(item.id(), item.name(), "Resource created successfully", item.created_at())))
                    .with("Location", "/api/items/" + item.id());
        }

        Response item(String rawId) {
            ItemStore.Item item = null;
            if (!rawId.isEmpty() && rawId.length() < 19 && rawId.chars().allMatch(c -> c >= '0' && c <= '9')) item = items.get(Long.parseLong(rawId));
            if (item == null) throw new HttpError(404, "not found: /api/items/" + rawId);
            return Response.of(200, JSON_TYPE, Json.bytes(item));
        }

        Response userAgent(Request req) {
            String agent = req.header("user-agent");
            if (agent == null) throw new HttpError(400, "User-Agent header is missing");
            return Response.of(200, TEXT_TYPE, agent.getBytes(StandardCharsets.UTF_8));
        }

        Response files(Request req, String rawName) throws IOException {
            String name = PercentEncoding.decode(rawName);
            if (name.isEmpty() || name.equals(".") || name.equals("..") || name.contains("/") || name.contains("\\") || name.indexOf('\0') >= 0)
                throw new HttpError(400, "invalid file name");
            if (directory == null) throw new HttpError(404, "not found: /files/" + rawName + " (the server has no --directory)");
            Path file = directory.resolve(name);
            if (req.method().equals("POST")) {
                // Write a temporary file, then rename it into place: a reader never sees half a file.
                Path tmp = Files.createTempFile(directory, ".upload-", ".tmp");
                try {
                    Files.write(tmp, req.body());
                    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                } finally {
                    Files.deleteIfExists(tmp);
                }
                return Response.empty(201).with("Location", "/files/" + rawName);
            }
            if (!Files.isRegularFile(file)) throw new HttpError(404, "not found: /files/" + rawName);
            long size = Files.size(file);
            if (size > DEFAULT_MAX_CACHED_FILE) return Response.ofFile(200, OCTETS, new FileRegion(file, 0, size));
            return Response.of(200, OCTETS, Files.readAllBytes(file));
        }

        Response io(Request req) {
            int ms = intParam(req, "ms", 1000, MAX_IO_MS);
            try {
                Thread.sleep(ms);   // stands for a slow database or upstream call: blocks, burns no CPU
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new HttpError(503, "server is shutting down");
            }
            return Response.of(200, JSON_TYPE, Json.bytes(new IoResult("io", ms, Thread.currentThread().getName())));
        }

        Response cpu(Request req) {
            int n = intParam(req, "n", 1_000_000, MAX_CPU_N);
            long start = System.nanoTime();
            int primes = countPrimes(n);
            return Response.of(200, JSON_TYPE, Json.bytes(new CpuResult("cpu", n, primes, (System.nanoTime() - start) / 1_000_000, Thread.currentThread().getName())));
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

        Response staticFile(Request req) throws IOException {
            String method = req.method();
            StaticFiles.Target t = files.target(req.path());
            StaticFiles.Entry f = t == null || t.redirect() ? null : files.entry(t.file());
            if (t == null || !t.redirect() && f == null) throw new HttpError(404, "not found: " + req.path());
            if (!Allowed.GET_HEAD.permits(method)) return allowOnly(method, Allowed.GET_HEAD);
            if (t.redirect()) return Response.empty(301).with("Location", req.path() + "/" + (req.query() == null ? "" : "?" + req.query()));
            return files.respond(f, req);
        }

        // ------------------------------------------------------------ request bodies and parameters

        JsonNode readJson(Request req) {
            String type = req.header("content-type");
            if (!isJson(type)) throw new HttpError(415, "Content-Type must be application/json, not " + (type == null ? "missing" : type));
            if (req.body().length == 0) throw new HttpError(400, "malformed JSON: empty body");
            try {
                return Json.mapper().readTree(req.body());
            } catch (JacksonException e) {
                throw new HttpError(400, "malformed JSON: " + e.getOriginalMessage());
            }
        }

        static boolean isJson(String contentType) {
            if (contentType == null) return false;
            int semi = contentType.indexOf(';');
            String t = (semi < 0 ? contentType : contentType.substring(0, semi)).strip().toLowerCase(Locale.ROOT);
            return t.equals("application/json") || t.startsWith("application/") && t.endsWith("+json");
        }

        /** An integer query parameter within 0..max, or the default when absent; 400 with the rule otherwise. */
        static int intParam(Request req, String name, int fallback, int max) {
            String query = req.query();
            if (query == null) return fallback;
            for (String pair : query.split("&")) {
                int eq = pair.indexOf('=');
                String key = eq < 0 ? pair : pair.substring(0, eq);
                if (!key.equals(name)) continue;
                String value = eq < 0 ? "" : PercentEncoding.decode(pair.substring(eq + 1));
                if (!value.isEmpty() && value.length() <= 9 && value.chars().allMatch(c -> c >= '0' && c <= '9')) {
                    int v = Integer.parseInt(value);
                    if (v <= max) return v;
                }
                throw new HttpError(400, name + " must be an integer from 0 to " + max);
            }
            return fallback;
        }

        // ------------------------------------------------------------ errors and content negotiation

        /** Every error body is JSON {"error": reason}; framing errors also close the connection. */
        Response errorResponse(HttpError e, Request req) {
            var r = Response.of(e.status, JSON_TYPE, ("{\"error\":" + Json.string(e.getMessage()) + "}").getBytes(StandardCharsets.UTF_8));
            r.headers().addAll(e.headers);
            return req == null ? r : Gzip.negotiate(req, r);
        }
    }

    // ---------------------------------------------------------------- HTTP details: static files (cache, conditional requests, ranges), gzip negotiation

    /**
     * Files under the web root. A request path is resolved once per percent-decoded segment (no "..", no hidden
     * ".name", no NUL, and the real path must stay under the root); the answer is cached with its validators, its
     * bytes and their gzip, keyed by the path and checked against the file's size and mtime on every request.
     */
    static final class StaticFiles {
        /** A file as last seen; `fixed` holds its header lines in wire format, identity [0] and gzip [1]. */
        record Entry(Path file, long size, long mtime, String type, String etag, String lastModified,
                     byte[] bytes, byte[][] gzipped, byte[][] fixed) {}

        /** Where a request path leads: a file, or a directory named without its trailing slash (301). */
        record Target(Path file, boolean redirect) {}

        static final int DEFAULT_MAX_PATHS = 4096;   // resolved request paths kept; the map starts over beyond

        private final Path root;
        private final ConcurrentHashMap<String, Target> paths = new ConcurrentHashMap<>();
        private final ConcurrentHashMap<Path, Entry> entries = new ConcurrentHashMap<>();

        StaticFiles(Path root) { this.root = root; }

        /** Where a request path leads, or null (404). Resolved once, then remembered. */
        Target target(String rawPath) {
            Target t = paths.get(rawPath);
            if (t != null) return t;
            Path file = resolveUnderRoot(rawPath);
            if (file == null) return null;
            if (Files.isDirectory(file)) {
                if (!rawPath.endsWith("/")) t = new Target(file, true);
                else t = new Target(file.resolve("index.html"), false);
            } else {
                t = new Target(file, false);
            }
            if (paths.size() >= DEFAULT_MAX_PATHS) paths.clear();
            paths.put(rawPath, t);
            return t;
        }

        /** The file with its validators and (small files) bytes, checked against size and mtime; null if gone. */
        Entry entry(Path file) throws IOException {
            BasicFileAttributes attrs;
            try {
                attrs = Files.readAttributes(file, BasicFileAttributes.class);
            } catch (NoSuchFileException e) {
                entries.remove(file);
                return null;
            }
            if (!attrs.isRegularFile()) return null;
            long size = attrs.size(), mtime = attrs.lastModifiedTime().toMillis();
            Entry e = entries.get(file);
            if (e != null && e.size() == size && e.mtime() == mtime) return e;
            byte[] bytes = size <= DEFAULT_MAX_CACHED_FILE ? Files.readAllBytes(file) : null;
            if (bytes != null && bytes.length != size) return entry(file);   // changed while read: read again
            String etag = "\"" + Long.toHexString(size) + "-" + Long.toHexString(mtime) + "\"";
            String type = contentType(file), lastModified = Dates.HTTP_DATE.format(Instant.ofEpochMilli(mtime));
            byte[][] fixed = {fixedHeaders(type, etag, lastModified, false), fixedHeaders(type, "W/" + etag, lastModified, true)};
            e = new Entry(file, size, mtime, type, etag, lastModified, bytes, new byte[1][], fixed);
            entries.put(file, e);
            return e;
        }

        Path resolveUnderRoot(String rawPath) {
            Path p = root;
            for (String segment : rawPath.split("/")) {
                if (segment.isEmpty()) continue;
                String name;
                try {
                    name = PercentEncoding.decode(segment);
                } catch (HttpError e) {
                    return null;
                }
                if (name.startsWith(".") || name.contains("/") || name.contains("\\") || name.indexOf('\0') >= 0) return null;
                p = p.resolve(name);
            }
            try {
                Path real = p.toRealPath();
                return real.startsWith(root) ? real : null;
            } catch (IOException | InvalidPathException e) {
                return null;
            }
        }

        static byte[] fixedHeaders(String type, String etag, String lastModified, boolean gzip) {
            var b = new Bytes(256).header("Content-Type", type);
            if (gzip) b.header("Content-Encoding", "gzip");
            b.header("ETag", etag).header("Last-Modified", lastModified).header("Cache-Control", "no-cache").header("Accept-Ranges", "bytes");
            if (Gzip.compressible(type)) b.header("Vary", "Accept-Encoding");
            return b.toArray();
        }

        /**
         * 304 if the client's copy is current (RFC 9110 §13.1), 206/416 for a Range it can serve (§14), else the whole
         * file: one path, whose header block (`fixed`) carries the ETag of the bytes it sends. Like nginx, a gzipped
         * body gets the weak ETag: same content, other bytes (§8.8.3); a part of a file is always of the identity.
         */
        Response respond(Entry f, Request req) {
            boolean gzip = Gzip.compressible(f.type()) && f.bytes() != null && f.size() > 0 && Gzip.accepted(req.header("accept-encoding"));
            Response r = null;
            if (notModified(req, f)) {
                r = Response.of(304, f.type(), Response.EMPTY).with("ETag", gzip ? "W/" + f.etag() : f.etag());
            } else if (req.method().equals("GET") && req.header("range") != null && rangeApplies(req, f)) {
                r = range(f, req.header("range"));
                if (r != null) r.with("ETag", f.etag());
            }
            if (r == null) {   // the whole file
                if (gzip) return new Response(200, f.type(), gzipped(f), null, new ArrayList<>(2), f.fixed()[1]);
                if (f.bytes() != null) return new Response(200, f.type(), f.bytes(), null, new ArrayList<>(2), f.fixed()[0]);
                return new Response(200, f.type(), null, new FileRegion(f.file(), 0, f.size()), new ArrayList<>(2), f.fixed()[0]);
            }
            r.with("Last-Modified", f.lastModified()).with("Cache-Control", "no-cache");
            if (r.status() != 416) r.with("Accept-Ranges", "bytes");
            return r;
        }

        private static byte[] gzipped(Entry f) {
            byte[] g = f.gzipped()[0];
            if (g == null) f.gzipped()[0] = g = Gzip.compress(f.bytes());   // a race computes it twice, harmlessly
            return g;
        }

        static boolean notModified(Request req, Entry f) {
            String ifNoneMatch = req.header("if-none-match");
            if (ifNoneMatch != null) {
                for (String tag : req.headers().joined("if-none-match").split(",")) {
                    String t = tag.strip();
                    if (t.equals("*") || (t.startsWith("W/") ? t.substring(2) : t).equals(f.etag())) return true;
                }
                return false;   // If-Modified-Since is ignored when If-None-Match is present (RFC 9110 §13.1.3)
            }
            String since = req.header("if-modified-since");
            if (since == null) return false;
            try {
                return f.mtime() / 1000 <= ZonedDateTime.parse(since.strip(), DateTimeFormatter.RFC_1123_DATE_TIME).toEpochSecond();
            } catch (DateTimeParseException e) {
                return false;   // an invalid date is ignored (RFC 9110 §13.1.3)
            }
        }

        /** If-Range (RFC 9110 §13.1.5): the range applies only if the client's validator is still current. */
        static boolean rangeApplies(Request req, Entry f) {
            String ifRange = req.header("if-range");
            if (ifRange == null) return true;
            String v = ifRange.strip();
            if (v.startsWith("\"")) return v.equals(f.etag());
            if (v.startsWith("W/")) return false;
            try {
                return f.mtime() / 1000 == ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toEpochSecond();
            } catch (DateTimeParseException e) {
                return false;
            }
        }

        /**
         * One byte range (RFC 9110 §14.1.2): a-b, a-, or -suffix, as a 206 or 416; null (serve the whole file) for
         * several ranges or a syntax it does not know, as §14.2 allows.
         */
        static Response range(Entry f, String header) {
            String h = header.strip();
            long size = f.size();
            if (!h.regionMatches(true, 0, "bytes=", 0, 6) || h.indexOf(',') >= 0) return null;
            String spec = h.substring(6).strip();
            int dash = spec.indexOf('-');
            if (dash < 0) return null;
            String a = spec.substring(0, dash).strip(), b = spec.substring(dash + 1).strip();
            if (!digits(a) || !digits(b) || a.isEmpty() && b.isEmpty() || a.length() > 18 || b.length() > 18) return null;
            long first, last;
            if (a.isEmpty()) {
                long suffix = Long.parseLong(b);
                if (suffix == 0) return unsatisfiable(f);
                first = Math.max(0, size - suffix);
                last = size - 1;
            } else {
                first = Long.parseLong(a);
                last = b.isEmpty() ? size - 1 : Math.min(Long.parseLong(b), size - 1);
                if (!b.isEmpty() && Long.parseLong(b) < first) return null;
            }
            if (first >= size || size == 0) return unsatisfiable(f);
            long length = last - first + 1;
            Response r = f.bytes() != null
                    ? Response.of(206, f.type(), Arrays.copyOfRange(f.bytes(), (int) first, (int) (last + 1)))
                    : Response.ofFile(206, f.type(), new FileRegion(f.file(), first, length));
            return r.with("Content-Range", "bytes " + first + "-" + last + "/" + size);
        }

        private static boolean digits(String s) { return s.chars().allMatch(c -> c >= '0' && c <= '9'); }

        private static Response unsatisfiable(Entry f) {
            return Response.of(416, App.JSON_TYPE, "{\"error\":\"range not satisfiable\"}".getBytes(StandardCharsets.UTF_8))
                    .with("Content-Range", "bytes */" + f.size());
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
            return dot < 0 ? App.OCTETS : TYPES.getOrDefault(name.substring(dot + 1).toLowerCase(Locale.ROOT), App.OCTETS);
        }
    }

    /** gzip content negotiation (RFC 9110 §12.5.3, §8.4): which types, what the client accepts, the compression. */
    static final class Gzip {
        private Gzip() {}

        static boolean compressible(String type) {
            return type.startsWith("text/") || type.startsWith("application/json") || type.startsWith("application/javascript")
                    || type.startsWith("application/xml") || type.startsWith("image/svg+xml");
        }

        /** Accept-Encoding (RFC 9110 §12.5.3): a comma list of codings with q-values; q=0 means "not this one". */
        static boolean accepted(String acceptEncoding) {
            if (acceptEncoding == null) return false;
            double gzip = -1, any = -1;
            for (String entry : acceptEncoding.split(",")) {
                int semi = entry.indexOf(';');
                String coding = (semi < 0 ? entry : entry.substring(0, semi)).strip().toLowerCase(Locale.ROOT);
                double q = 1.0;
                if (semi >= 0) {
                    for (String param : entry.substring(semi + 1).split(";")) {
                        String p = param.strip().toLowerCase(Locale.ROOT);
                        if (!p.startsWith("q=")) continue;
                        try { q = Double.parseDouble(p.substring(2)); } catch (NumberFormatException e) { q = 0; }
                    }
                }
                if (coding.equals("gzip") || coding.equals("x-gzip")) gzip = Math.max(q, gzip);
                else if (coding.equals("*")) any = q;
            }
            return gzip >= 0 ? gzip > 0 : any > 0;
        }

        static byte[] compress(byte[] data) {
            var out = new ByteArrayOutputStream(data.length / 2 + 32);
            try (var gz = new GZIPOutputStream(out)) {
                gz.write(data);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return out.toByteArray();
        }

        /** gzip when Accept-Encoding allows it and the type is compressible; Vary on every compressible answer. */
        static Response negotiate(Request req, Response r) {
            if (r.fixed() != null || r.type() == null || !compressible(r.type())) return r;
            if (r.header("Vary") == null) r.with("Vary", "Accept-Encoding");
            if (r.body() == null || r.body().length == 0 || r.header("Content-Encoding") != null || !accepted(req.header("accept-encoding"))) return r;
            if (r.status() == 206 || r.status() == 304) return r;
            return r.withBody(r.type(), compress(r.body())).with("Content-Encoding", "gzip");
        }
    }

    // ---------------------------------------------------------------- HTTP details: items (in memory, or shared by worker JVMs), percent-decoding, configuration

    sealed interface ItemStore permits InMemoryItems, SharedFileItems {
        record Item(long id, String name, String created_at) {}

        Item create(String name);

        List<Item> all();

        Item get(long id);
    }

    /** One JVM's items: ids from an AtomicLong, a sorted concurrent map. */
    static final class InMemoryItems implements ItemStore {
        private final AtomicLong nextId = new AtomicLong(1);
        private final ConcurrentSkipListMap<Long, Item> items = new ConcurrentSkipListMap<>();

        @Override public Item create(String name) {
            long id = nextId.getAndIncrement();
            var item = new Item(id, name, Instant.now().toString());
            items.put(id, item);
            return item;
        }

        @Override public List<Item> all() { return List.copyOf(items.values()); }

        @Override public Item get(long id) { return items.get(id); }
    }

    /**
     * The items of all worker JVMs of processes mode: one JSON line per item in a file, appended under a file lock
     * (between JVMs) and a ReentrantLock (between threads of one JVM, which a file lock does not exclude). Separate
     * processes share nothing else: this is the price of the model.
     */
    static final class SharedFileItems implements ItemStore {
        private final Path file;
        private final ReentrantLock lock = new ReentrantLock();

        SharedFileItems(Path file) { this.file = file; }

        @Override public Item create(String name) {
            return locked(ch -> {
                long id = read(ch).size() + 1;
                var item = new Item(id, name, Instant.now().toString());
                byte[] line = (new String(Json.bytes(item), StandardCharsets.UTF_8) + "\n").getBytes(StandardCharsets.UTF_8);
                ch.write(ByteBuffer.wrap(line), ch.size());
                return item;
            });
        }

        @Override public List<Item> all() { return locked(SharedFileItems::read); }

        @Override public Item get(long id) {
            List<Item> all = all();
            return id >= 1 && id <= all.size() ? all.get((int) id - 1) : null;
        }

        interface Action<T> { T run(FileChannel ch) throws IOException; }

        private <T> T locked(Action<T> action) {
            lock.lock();
            try (var ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.CREATE);
                 var ignored = ch.lock()) {
                return action.run(ch);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                lock.unlock();
            }
        }

        private static List<Item> read(FileChannel ch) throws IOException {
            var buf = ByteBuffer.allocate((int) ch.size());
            while (buf.hasRemaining() && ch.read(buf, buf.position()) > 0) { }
            var out = new ArrayList<Item>();
            for (String line : new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8).split("\n")) {
                if (!line.isEmpty()) out.add(Json.mapper().readValue(line, Item.class));
            }
            return out;
        }
    }

    /** Percent-decoding of request paths and query parameters. */
    static final class PercentEncoding {
        private PercentEncoding() {}

        /** Percent-decoding (RFC 3986 §2.1) as UTF-8; '+' stays '+'. Malformed input is a 400. */
        static String decode(String s) {
            if (s.indexOf('%') < 0) return s;
            byte[] out = new byte[s.length()];
            int n = 0;
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (c != '%') {
                    out[n++] = (byte) c;   // the target is ASCII: the parser let nothing else through
                    continue;
                }
                int hi = i + 2 < s.length() ? Character.digit(s.charAt(i + 1), 16) : -1;
                int lo = hi >= 0 ? Character.digit(s.charAt(i + 2), 16) : -1;
                if (lo < 0) throw new HttpError(400, "malformed percent-encoding in " + s);
                out[n++] = (byte) (hi * 16 + lo);
                i += 2;
            }
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(out, 0, n)).toString();
            } catch (CharacterCodingException e) {
                throw new HttpError(400, "percent-encoding is not UTF-8 in " + s);
            }
        }
    }

    /** Where options come from besides the command line: THS_* variables and a --config properties file. */
    static final class Configuration {
        static final String ENV_PREFIX = "THS_";

        private Configuration() {}

        /** Options from THS_* environment variables, then from the --config file: picocli asks only for options not given. */
        record EnvironmentAndFile(Map<String, String> env, Properties file) implements IDefaultValueProvider {
            @Override public String defaultValue(ArgSpec arg) {
                // Hidden options (--worker-index, --items-file) are only ever passed by a processes-mode parent.
                if (!(arg instanceof OptionSpec option) || option.hidden() || !option.longestName().startsWith("--")) return null;
                String fromEnv = env.get(envName(option));
                return fromEnv != null ? fromEnv : file.getProperty(option.longestName().substring(2));
            }
        }

        static String envName(OptionSpec option) {
            return ENV_PREFIX + option.longestName().substring(2).toUpperCase(Locale.ROOT).replace('-', '_');
        }

        /** The --config FILE argument (or THS_CONFIG), found before picocli parses, since it supplies the defaults. */
        static Path configArgument(String[] args, Map<String, String> env) {
            for (int i = 0; i < args.length; i++) {
                if (args[i].equals("--config") && i + 1 < args.length) return Path.of(args[i + 1]);
                if (args[i].startsWith("--config=")) return Path.of(args[i].substring(9));
            }
            String fromEnv = env.get(ENV_PREFIX + "CONFIG");
            return fromEnv == null ? null : Path.of(fromEnv);
        }

        static Properties loadConfig(Path file, CommandLine cli) {
            var props = new Properties();
            if (file == null) return props;
            try (var reader = Files.newBufferedReader(file)) {
                props.load(reader);
            } catch (IOException e) {
                throw new StartupError(2, "cannot read config file: " + file + " (" + e.getMessage() + ")");
            }
            for (String key : props.stringPropertyNames()) {
                OptionSpec o = cli.getCommandSpec().findOption("--" + key);
                if (o == null || o.hidden() || key.equals("config"))
                    throw new StartupError(2, "unknown key in config file " + file + ": " + key + " (keys are long option names, see --help)");
            }
            return props;
        }
    }

    // ---------------------------------------------------------------- plumbing the models share: logs, back-off when accept fails, the deadlines, the poller

    // ---- twin: log-line (kept identical in EchoServer.java, PrimeEchoServer.java, SimpleHttpServer.java, ThreadedHttpServer.java; tests/TwinsTest.java checks)
    static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    /** Every log line starts with the time, UTC, to the millisecond. */
    static void log(PrintStream out, String line) {
        out.println(TIMESTAMP.format(Instant.now()) + " " + line);
    }
    // ---- end twin: log-line

    // ---- twin: close-quietly (kept identical in PrimeEchoServer.java, ThreadedHttpServer.java; tests/TwinsTest.java checks)
    /** Closes what we are dropping; a failure is logged once, with what failed (there is nothing more to do with it). */
    static void closeQuietly(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException e) {
            log(System.err, "close failed: " + c + ": " + e);
        }
    }
    // ---- end twin: close-quietly

    /** A failure of the server (not of one request): one line on stderr, with the time and the thread, -q or not. */
    static void logFailure(String thread, String line) { log(System.err, thread + ": " + line); }

    // ---- twin: accept-backoff (kept identical in EchoServer.java, PrimeEchoServer.java, ThreadedHttpServer.java; tests/TwinsTest.java checks)
    /**
     * Failed accepts, typically "Too many open files" (EMFILE), or out of memory or threads. The listener stays ready,
     * so trying again at once would spin a core and print a line per try. Instead: one line when an episode starts
     * (with a hint), a pause before each new try (FIRST_PAUSE_MS doubling up to LONGEST_PAUSE_MS) while the open
     * connections are served, and one line when the episode is over: QUIET_MS has passed without a failed accept (an
     * accept fails only while a client is waiting, so a quiet listener has either accepted it or has nobody to
     * accept). One per listener.
     */
    static final class AcceptBackoff {
        static final long FIRST_PAUSE_MS = 10, LONGEST_PAUSE_MS = 200, QUIET_MS = 1_000;
        private final BiConsumer<String, String> log;   // (thread name, line): the server's failure log, on stderr
        private final long openFilesLimit = ManagementFactory.getOperatingSystemMXBean() instanceof UnixOperatingSystemMXBean unix
                ? unix.getMaxFileDescriptorCount() : -1;   // read now: out of file descriptors, it could not be
        private long failures, since, lastFailure, pause;
        private String who;

        AcceptBackoff(BiConsumer<String, String> log) { this.log = log; }

        /** Counts a failed accept (logged if it starts an episode) and returns the milliseconds to wait before the next. */
        synchronized long failed(Throwable e) {
            lastFailure = System.nanoTime();
            if (failures++ == 0) {
                since = lastFailure;
                pause = FIRST_PAUSE_MS;
                who = Thread.currentThread().getName();
                log.accept(who, "accept failed: " + e + hint(e) + "; pausing new connections, serving the open ones");
                checkLater(TimeUnit.MILLISECONDS.toNanos(QUIET_MS));
            } else {
                pause = Math.min(2 * pause, LONGEST_PAUSE_MS);
            }
            return pause;
        }

        /** On a timer: the episode ends once QUIET_MS has passed since its last failed accept. */
        private synchronized void check() {
            long quietFor = System.nanoTime() - lastFailure, quiet = TimeUnit.MILLISECONDS.toNanos(QUIET_MS);
            if (quietFor < quiet) {
                checkLater(quiet - quietFor);
                return;
            }
            log.accept(who, "accepting again: %d accepts failed over %d ms".formatted(failures, (lastFailure - since) / 1_000_000));
            failures = 0;
        }

        private void checkLater(long nanos) {
            CompletableFuture.delayedExecutor(nanos, TimeUnit.NANOSECONDS).execute(this::check);
        }

        private String hint(Throwable e) {
            if (String.valueOf(e.getMessage()).contains("Too many open files"))
                return " (out of file descriptors: the open-files limit is " + openFilesLimit
                        + "; raise it with ulimit -n, or lower the number of clients)";
            if (e instanceof OutOfMemoryError) return " (out of memory: raise -Xmx, or lower the number of clients)";
            return "";
        }
    }
    // ---- end twin: accept-backoff

    /**
     * The deadlines of every open connection, enforced by one thread every DEFAULT_WATCHDOG_TICK_MS: a connection past
     * its deadline (idle too long, a head too slow, a write stalled, a linger over) is closed, which wakes whatever
     * waits on it. The bookkeeping costs what the deadlines cost, not what the connections do: each kind of timeout
     * has one length, so a deadline set later ends later, and a queue per kind, appended to as deadlines are set, is
     * sorted by itself (libev's trick for timers of one length). A tick looks at the head of each queue only; setting
     * a deadline moves the connection to its queue's tail: two links per connection, no scan, no map.
     * stop() is the graceful shutdown: idle connections close now, busy ones get a grace period.
     */
    static final class Watchdog {
        /** The queues; NONE holds the connections without a deadline (a handler at work), so stop() finds them all. */
        enum Queue { NONE, IDLE, HEAD, WRITE, LINGER }

        private static final Queue[] QUEUES = Queue.values();
        private final long[] lengthNanos = new long[QUEUES.length];
        private final Connection[] first = new Connection[QUEUES.length], last = new Connection[QUEUES.length];
        private volatile boolean stopping;
        private final Thread thread;

        Watchdog(Limits limits) {
            lengthNanos[Queue.IDLE.ordinal()] = limits.idleTimeoutMs() * 1_000_000L;
            lengthNanos[Queue.HEAD.ordinal()] = limits.headerTimeoutMs() * 1_000_000L;
            lengthNanos[Queue.WRITE.ordinal()] = limits.writeTimeoutMs() * 1_000_000L;
            lengthNanos[Queue.LINGER.ordinal()] = DEFAULT_LINGER_MS * 1_000_000L;
            thread = Thread.ofPlatform().daemon().name("watchdog").start(() -> {
                while (!stopping) {
                    try {
                        for (Connection c : due(System.nanoTime())) c.close();
                    } catch (RuntimeException | Error e) {
                        // Logged, and the watchdog goes on: without it no deadline would ever be enforced again.
                        logFailure("watchdog", e.toString());
                    }
                    try {
                        Thread.sleep(DEFAULT_WATCHDOG_TICK_MS);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
        }

        boolean stopping() { return stopping; }

        /** A new connection, without a deadline yet. */
        synchronized void add(Connection c) { append(c, Queue.NONE, Long.MAX_VALUE); }

        /** Sets c's deadline to now plus the length of q's timeout (a closed connection stays out). */
        synchronized void arm(Connection c, Queue q) {
            if (c.queue == null) return;
            unlink(c);
            append(c, q, q == Queue.NONE ? Long.MAX_VALUE : System.nanoTime() + lengthNanos[q.ordinal()]);
        }

        /** As arm, unless c already waits in q: a head's deadline is set by its first read and kept to its end. */
        synchronized void armOnce(Connection c, Queue q) { if (c.queue != q) arm(c, q); }

        /** No deadline until the next arm: the server is at work on c's request. */
        void disarm(Connection c) { arm(c, Queue.NONE); }

        synchronized void remove(Connection c) { if (c.queue != null) unlink(c); }

        /** Takes out the connections whose deadline passed: from the head of each queue, as far as they are due. */
        private synchronized List<Connection> due(long now) {
            List<Connection> due = List.of();
            for (Queue q : QUEUES) {
                for (Connection c; (c = first[q.ordinal()]) != null && now - c.deadline > 0; ) {
                    if (due.isEmpty()) due = new ArrayList<>();
                    unlink(c);
                    due.add(c);
                }
            }
            return due;
        }

        private void append(Connection c, Queue q, long deadline) {
            int i = q.ordinal();
            c.queue = q;
            c.deadline = deadline;
            c.earlier = last[i];
            c.later = null;
            if (last[i] != null) last[i].later = c;
            else first[i] = c;
            last[i] = c;
        }

        private void unlink(Connection c) {
            int i = c.queue.ordinal();
            if (c.earlier != null) c.earlier.later = c.later;
            else first[i] = c.later;
            if (c.later != null) c.later.earlier = c.earlier;
            else last[i] = c.earlier;
            c.queue = null;
            c.earlier = c.later = null;
        }

        /** Every open connection (busy ones too, or not). */
        private synchronized List<Connection> open(boolean busyToo) {
            var open = new ArrayList<Connection>();
            for (Queue q : QUEUES) {
                for (Connection c = first[q.ordinal()]; c != null; c = c.later) if (busyToo || !c.busy) open.add(c);
            }
            return open;
        }

        void stop(long graceMillis) {
            stopping = true;
            thread.interrupt();
            long end = System.nanoTime() + graceMillis * 1_000_000;
            while (true) {
                for (Connection c : open(false)) c.close();
                if (open(true).isEmpty() || System.nanoTime() > end) break;
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            for (Connection c : open(true)) c.close();
        }
    }

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
