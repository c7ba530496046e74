///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//DEPS info.picocli:picocli:4.7.7
//JAVA_OPTIONS -XX:+UseSerialGC -Xms8m -Xmx512m -Djbang.launcher.aot=PrimeEchoServer
//DESCRIPTION Eli Bendersky's framed echo protocol with a slow prime check, served six ways, and its demo client.

// Bendersky's "Concurrent servers" protocol in Java: one per-connection state machine (FrameParser) served by six
// concurrency models (-m), from one client at a time to a Selector loop and NIO.2 completion handlers.
// Run the server in one terminal:  ./jbang PrimeEchoServer.java                 (virtual threads, port 7878)
//                              or  ./jbang PrimeEchoServer.java -m nio --no-offload
// and the demo client in another:  ./jbang PrimeEchoServer.java client
// The client opens three connections: LongPrime (P2305843009213693951, seconds of trial division), then Echo and
// SmallPrime. Watch the order of its lines: on a concurrent server Echo and SmallPrime answer at once and LongPrime
// last; with -m sequential, or -m nio --no-offload (the check then runs on the event loop), they wait for it.
// The server logs one line per connection and per prime check; the thread name shows who did the work.
// One frame by hand: ./jbang PrimeEchoServer.java client --send P7919     or type into: nc 127.0.0.1 7878

// The file, in order:
//   the protocol (the class comment), then PrimeEchoServer: options, main, call(), start()   the command line
//   Mode, PrimeRequest, Server, Shared               the six models and their trade-offs; what they share
//   FrameParser, Conversation                        the protocol core: one connection's state machine and buffers
//   BlockingServer, Sequential, ThreadPerConnection, ThreadPool   the blocking models, simplest first
//   NioEventLoop, CompletionHandlers, VirtualThreads              the models that do not hold a thread per wait
//   PrimeChecker                                     the slow check, on the connection's thread or offloaded
//   Client                                           the demo client (the `client` subcommand)
//   Running, AcceptBackoff, startPoller, helpers     plumbing: the started server, failed accepts, the poller warm-up, logging

import com.sun.management.UnixOperatingSystemMXBean;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Help.Visibility;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.net.BindException;
import java.net.ConnectException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.SocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.StandardSocketOptions;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousChannelGroup;
import java.nio.channels.AsynchronousServerSocketChannel;
import java.nio.channels.AsynchronousSocketChannel;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.CompletionHandler;
import java.nio.channels.NetworkChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.ShutdownChannelGroupException;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The protocol, byte by byte. A connection is one conversation of any number of frames.
 * <ol>
 * <li>On accept the server sends one byte {@code *}. It reads nothing before that.
 * <li>Outside a frame every byte is ignored, a stray {@code $} too. {@code ^} opens a frame; {@code $} closes it and
 *     is never echoed.
 * <li>Inside a frame every byte b is echoed as (b + 1) mod 256 as soon as it arrives: {@code ^} inside a frame comes
 *     back as {@code _}, 0xff as 0x00. The state survives across reads, so a frame may arrive one byte at a time.
 * <li>A frame whose first byte is {@code P} is a prime request, {@code ^P<decimal digits>$}; nothing is echoed for
 *     it (so only these frames are held until their {@code $}, and only as a running number). After its {@code $}
 *     it is answered {@code prime\n} or {@code composite\n}. The number is an unsigned 64-bit value,
 *     0 to 18446744073709551615. The check is deliberately slow trial division by every odd number up to the square
 *     root: 2^61-1 = 2305843009213693951 takes about 3 s, the largest 64-bit prime about 8 s (2-core machine).
 * <li>A bad prime request gets one line, {@code error: <reason>\n}, and the connection goes on:
 *     {@code error: no digits}, {@code error: not a digit: 'x'} (or {@code 0xNN} for a non-printable byte),
 *     {@code error: number too large} (beyond 64 bits), {@code error: 1 is neither prime nor composite} (0 and 1).
 *     A prime request longer than {@code --max-frame} bytes ({@code P} included) is answered
 *     {@code error: frame too long\n} as soon as it crosses the cap, and the rest of it up to its {@code $} is
 *     discarded. Echo frames are streamed, never held, so they have no cap.
 * <li>Answers leave in the order their frames arrived. While a prime request is being checked the server reads
 *     nothing more from that connection (other connections go on); bytes that came after it in the same read wait
 *     and are processed next, never lost. With {@code --offload} and the check pool's queue full the answer is
 *     {@code error: server busy\n}.
 * <li>The connection ends when the client closes it. After a half-close the server first answers what it received.
 * </ol>
 */
@Command(name = "PrimeEchoServer", mixinStandardHelpOptions = true, showDefaultValues = true, usageHelpWidth = 120,
        subcommands = PrimeEchoServer.Client.class,
        description = {"Serves Eli Bendersky's framed protocol: '*' on connect, ^frame$ echoed byte+1, ^P<number>$ "
                + "answered prime or composite by slow trial division, in the concurrency model chosen with --mode.",
                "Without a subcommand it runs the server; 'client' runs the demo client."},
        footerHeading = "%nModes (-m), each with its trade-off:%n",
        footer = {   // after each mode's line (Mode.helpFooter)
                "%nOut of file descriptors (or memory) an accept fails: the server logs it once, pauses accepting",
                "(10 ms, doubling to 200 ms), serves the open connections meanwhile, and logs again when it recovers."})
public class PrimeEchoServer implements Callable<Integer> {
    static final int DEFAULT_PORT = 7878;
    /** Bytes read at a time: the nio loop's buffer, lent to each connection in turn. */
    static final int IN_BUFFER = 4096;
    /** Bytes of answers that may wait unwritten before parsing stops: the nio loop's buffer, lent likewise. */
    static final int OUT_BUFFER = 4096;
    /** A connection's own input and output buffer, each, in the models where a waiting read must own one. */
    static final int CONNECTION_BUFFER = 512;
    /** Room the parser keeps free in the output for its longest reply line. */
    static final int REPLY_ROOM = 64;
    /** Prime requests waiting for a checker thread, beyond which the answer is "error: server busy". */
    static final int CHECK_QUEUE = 1000;

    @Option(names = {"-p", "--port"}, description = "TCP port (0 picks a free one)")
    int port = DEFAULT_PORT;

    @Option(names = {"-b", "--bind"}, description = "address to listen on")
    String bind = "127.0.0.1";

    @Option(names = {"-m", "--mode"}, description = "concurrency model: ${COMPLETION-CANDIDATES}")
    Mode mode = Mode.virtual;

    @Option(names = {"-w", "--workers"}, description = "threads of the pool mode, and of the async mode's channel group")
    int workers = 4;

    @Option(names = "--offload", negatable = true, showDefaultValue = Visibility.NEVER, description = {
            "check primes on a separate bounded pool (prime-N threads, one per core), the counterpart of Tokio's "
                    + "spawn_blocking. Default: on in nio, async and virtual; off in sequential, thread and pool.",
            "--no-offload checks on the thread that read the request: in nio a long prime then stalls the event loop "
                    + "and every connection on it; in async it holds one of the -w channel-group threads; in virtual "
                    + "it keeps one of the carrier threads (one per core): a CPU-bound virtual thread never blocks, so "
                    + "it never unmounts until the check is done."})
    Boolean offload;

    @Option(names = "--max-frame", description = "longest prime request (bytes between ^ and $, P included) "
            + "before the answer is 'error: frame too long'; echo frames are streamed and have no cap")
    int maxFrame = 64;

    @Option(names = "--backlog", description = "listen queue length; the kernel caps it at net.core.somaxconn "
            + "(Java's default of 50 overflows under a burst of connections)")
    int backlog = 4096;

    @Option(names = {"-q", "--quiet"}, description = "no log line per connection and per prime check "
            + "(failures are still logged)")
    boolean quiet;

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        var cli = new CommandLine(new PrimeEchoServer());
        cli.setParameterExceptionHandler((e, a) -> {
            System.err.println("Error: " + e.getMessage() + " (see --help)");
            return 2;
        });
        var usage = cli.getCommandSpec().usageMessage();
        usage.footer(Mode.helpFooter(usage.footer()));
        System.exit(cli.execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Running server;
        try {
            server = start();
        } catch (UnknownHostException e) {
            System.err.println("Error: unknown bind address: " + bind + " (use an IP such as 127.0.0.1 or 0.0.0.0)");
            return 2;
        } catch (BindException e) {
            System.err.printf("Error: cannot listen on %s:%d: %s (another server there? pick a port with -p, or -p 0 for a free one)%n",
                    bind.contains(":") ? "[" + bind + "]" : bind, port, e.getMessage());
            return 1;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (!quiet) log(System.err, "Shutting down: closing the listener and every connection");
            server.close();
        }, "shutdown"));
        var host = InetAddress.getByName(bind);
        System.out.printf("Listening on tcp://%s:%d mode=%s offload=%s%n", host instanceof Inet6Address
                ? "[" + host.getHostAddress() + "]" : host.getHostAddress(), server.port(), mode, offload() ? "on" : "off");
        System.out.flush();
        server.awaitClosed();
        if (server.failure().isDone()) {
            // A loop that cannot go on: exit 1 with the reason, rather than listen and answer nobody.
            System.err.println("Error: " + server.failure().join() + " (the server cannot go on; exiting)");
            return 1;
        }
        return 0;
    }

    /** Binds and starts serving in the chosen mode; the returned handle stops everything it started. */
    public Running start() throws IOException {
        if (port < 0 || port > 65535) throw usage("--port: " + port + " is out of range 0-65535");
        if (workers < 1) throw usage("--workers: " + workers + " (need at least 1)");
        if (maxFrame < 2) throw usage("--max-frame: " + maxFrame + " (need at least 2: P and one digit)");
        if (backlog < 1) throw usage("--backlog: " + backlog + " (need at least 1)");
        var address = new InetSocketAddress(InetAddress.getByName(bind), port);
        var checker = new PrimeChecker(offload(), quiet);
        var shared = new Shared(checker, maxFrame, quiet, new CompletableFuture<>());
        try {
            Server server = switch (mode) {
                case sequential -> new Sequential(listen(address), shared);
                case thread -> new ThreadPerConnection(listen(address), shared);
                case pool -> new ThreadPool(listen(address), shared, workers);
                case nio -> new NioEventLoop(listen(address), shared);
                case async -> new CompletionHandlers(address, backlog, shared, workers);
                case virtual -> {
                    startPoller();
                    yield new VirtualThreads(listen(address), shared);
                }
            };
            var running = new Running(server, checker, new CountDownLatch(1), shared.fatal());
            shared.fatal().thenRun(running.closed()::countDown);
            return running;
        } catch (IOException | RuntimeException e) {
            checker.close();
            throw e;
        }
    }

    /** Whether prime checks go to the separate pool: --offload / --no-offload, else the mode's default. */
    boolean offload() {
        if (offload != null) return offload;
        return switch (mode) {
            case sequential, thread, pool -> false;
            case nio, async, virtual -> true;
        };
    }

    private ServerSocketChannel listen(InetSocketAddress address) throws IOException {
        var listener = ServerSocketChannel.open();
        try {
            listener.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            return listener.bind(address, backlog);
        } catch (IOException e) {
            listener.close();
            throw e;
        }
    }

    private ParameterException usage(String message) { return new ParameterException(spec.commandLine(), message); }

    /** The six models, simplest first, each with its trade-off. */
    public enum Mode {
        sequential("one client at a time: the simplest code, but everyone else waits, even for an echo"),
        thread("a platform thread per client: truly concurrent, but a kernel thread and a stack each"),
        pool("a hand-off pool: -w threads, a client each: bounded cost, but client w+1 waits until one of them leaves"),
        nio("one Selector loop for every client: cheap per connection, but nothing may block the loop"),
        async("NIO.2 completion handlers on -w threads: nobody waits on a socket, but the code is a chain of callbacks"),
        virtual("a virtual thread per client: blocking code at near event-loop cost (--no-offload: checks hold carriers)");

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

    /** A complete ^P<number>$ frame; the number is unsigned 64-bit. */
    record PrimeRequest(long number) {
        @Override public String toString() { return "P" + Long.toUnsignedString(number); }
    }

    /** What every model is, once started. */
    interface Server {
        int port();

        void close();
    }

    /**
     * What all models of one server share: the prime checker, the frame cap, the log, and `fatal`, completed with
     * the reason when a loop cannot go on (the command line then exits 1).
     */
    record Shared(PrimeChecker checker, int maxFrame, boolean quiet, CompletableFuture<String> fatal) {
        Conversation open(NetworkChannel ch) { return new Conversation(new FrameParser(maxFrame), peer(ch), this); }

        /** The access log: one line per connection (and per prime check); -q turns it off. */
        void log(String line) {
            if (!quiet) PrimeEchoServer.log(System.out, Thread.currentThread().getName() + " " + line);
        }

        /** A failure: on stderr, with -q too. */
        void failed(String line) { failed(Thread.currentThread().getName(), line); }

        void failed(String who, String line) { PrimeEchoServer.log(System.err, who + " " + line); }
    }

    // ---------------------------------------------------------------- the protocol core, shared by every model

    static final byte HANDSHAKE = '*', OPEN = '^', CLOSE = '$', PRIME = 'P';
    static final byte[] PRIME_REPLY = line("prime"), COMPOSITE_REPLY = line("composite"), BUSY_REPLY = line("error: server busy");
    /** The largest unsigned 64-bit value, 18446744073709551615, divided by ten: one more digit would overflow. */
    static final long MAX_TENTH = Long.divideUnsigned(-1L, 10), MAX_LAST_DIGIT = Long.remainderUnsigned(-1L, 10);

    /**
     * One connection's protocol state machine. feed() takes whatever bytes arrived, however they were split, puts
     * echoes and error lines into the output, and stops at a complete prime request (so its answer goes out before
     * anything that follows it) or when the output has no room left for a reply line.
     */
    static final class FrameParser {
        private enum State { OUTSIDE, FIRST_BYTE, ECHO, PRIME, DISCARD }

        private final int maxFrame;
        private State state = State.OUTSIDE;
        private int length;      // bytes of the current prime request so far, P included
        private int digits;
        private long number;     // its digits so far, as an unsigned 64-bit value
        private String error;    // the first thing wrong with it, answered at its $
        int frames;

        FrameParser(int maxFrame) { this.maxFrame = maxFrame; }

        /** Consumes input until it is empty, a prime request is complete (returned), or out is nearly full (null). */
        PrimeRequest feed(ByteBuffer in, ByteBuffer out) {
            while (in.hasRemaining() && out.remaining() >= REPLY_ROOM) {
                byte b = in.get();
                switch (state) {
                    case OUTSIDE -> { if (b == OPEN) state = State.FIRST_BYTE; }
                    case FIRST_BYTE -> {
                        if (b == CLOSE) endFrame();
                        else if (b == PRIME) startPrimeRequest();
                        else { out.put((byte) (b + 1)); state = State.ECHO; }
                    }
                    case ECHO -> {
                        if (b == CLOSE) endFrame();
                        else out.put((byte) (b + 1));
                    }
                    case PRIME -> {
                        if (b == CLOSE) {
                            endFrame();
                            PrimeRequest request = finishPrimeRequest(out);
                            if (request != null) return request;
                        } else if (++length > maxFrame) {
                            out.put(line("error: frame too long"));
                            state = State.DISCARD;
                        } else {
                            addDigit(b);
                        }
                    }
                    case DISCARD -> { if (b == CLOSE) endFrame(); }
                }
            }
            return null;
        }

        private void startPrimeRequest() {
            state = State.PRIME;
            length = 1;
            digits = 0;
            number = 0;
            error = null;
        }

        private void addDigit(byte b) {
            if (error != null) return;
            if (b < '0' || b > '9') { error = "not a digit: " + describe(b); return; }
            int d = b - '0';
            digits++;
            if (Long.compareUnsigned(number, MAX_TENTH) > 0 || (number == MAX_TENTH && d > MAX_LAST_DIGIT)) error = "number too large";
            else number = number * 10 + d;
        }

        /** Answers a bad request right here and returns null, or returns the request for the checker. */
        private PrimeRequest finishPrimeRequest(ByteBuffer out) {
            if (error == null && digits == 0) error = "no digits";
            if (error == null && Long.compareUnsigned(number, 2) < 0) error = number + " is neither prime nor composite";
            if (error == null) return new PrimeRequest(number);
            out.put(line("error: " + error));
            return null;
        }

        private void endFrame() {
            frames++;
            state = State.OUTSIDE;
        }

        private static String describe(byte b) {
            return b > ' ' && b < 127 ? "'" + (char) b + "'" : String.format("0x%02x", b & 0xff);
        }
    }

    /**
     * A connection's parser with its two buffers, both always left ready to be filled (write mode). They are small: a
     * blocked read (or a pending one, in async) must own a buffer, so every waiting connection keeps one (own()). The
     * nio loop lends its own large ones for each step instead (borrow, giveBack), and a connection keeps none: an
     * idle nio connection holds this object, its parser and nothing else (its peer is the channel's own address).
     */
    static final class Conversation {
        private static final ByteBuffer NONE = ByteBuffer.allocate(0);
        ByteBuffer in = NONE;
        ByteBuffer out = NONE;
        private final FrameParser parser;
        private final SocketAddress peer;
        private final Shared shared;
        private final long started = System.nanoTime();
        private int primes;
        private boolean greeted;   // the '*' is put into the output by the first advance()

        Conversation(FrameParser parser, SocketAddress peer, Shared shared) {
            this.parser = parser;
            this.peer = peer;
            this.shared = shared;
        }

        /** Buffers of its own, for the models whose waiting read must own one. */
        Conversation own() {
            in = ByteBuffer.allocate(CONNECTION_BUFFER);
            out = ByteBuffer.allocate(CONNECTION_BUFFER);
            return this;
        }

        /** Parses what has been read; a returned request must be answered before advance() is called again. */
        PrimeRequest advance() {
            if (!greeted) {
                out.put(HANDSHAKE);
                greeted = true;
            }
            in.flip();
            PrimeRequest request = parser.feed(in, out);
            in.compact();
            if (request != null) primes++;
            return request;
        }

        void answer(byte[] reply) { out.put(reply); }

        /** For one step of the nio loop: its buffers stand in for an empty input and an empty output. */
        void borrow(ByteBuffer loopIn, ByteBuffer loopOut) {
            if (in.position() == 0) in = loopIn.clear();
            if (out.position() == 0) out = loopOut.clear();
        }

        /** After the step: the loop's buffers go back; bytes still in them (rare: a slow reader) are copied out. */
        void giveBack(ByteBuffer loopIn, ByteBuffer loopOut) {
            if (in == loopIn) in = in.position() == 0 ? NONE : ByteBuffer.allocate(IN_BUFFER).put(in.flip());
            if (out == loopOut) out = out.position() == 0 ? NONE : ByteBuffer.allocate(OUT_BUFFER).put(out.flip());
        }

        boolean inputLeft() { return in.position() > 0; }

        boolean outputLeft() { return out.position() > 0; }

        /** The one log line of a connection. */
        void ended(String how) {
            shared.log(String.format("%s %s after %d ms, %d frames, %d prime requests",
                    remote(peer), how, (System.nanoTime() - started) / 1_000_000, parser.frames, primes));
        }

        /** The connection ended by an error: one line on stderr (with -q too), unless the server closed it. */
        void failed(Throwable e) {
            if ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) e = e.getCause();
            if (e instanceof ClosedChannelException || e instanceof CancellationException || e instanceof ShutdownChannelGroupException)
                ended("closed by the server");
            else {
                shared.failed(String.format("%s failed after %d ms, %d frames, %d prime requests: %s",
                        remote(peer), (System.nanoTime() - started) / 1_000_000, parser.frames, primes, e));
                if (!(e instanceof IOException)) e.printStackTrace(); // a bug, or out of memory: nobody expected it
            }
        }
    }

    // ---------------------------------------------------------------- the models, simplest first

    /**
     * The four blocking models share this: an acceptor thread, and one conversation per connection that reads,
     * parses, writes and, on a prime request, waits for its answer. They differ only in which thread converses.
     */
    abstract static class BlockingServer implements Server {
        private final ServerSocketChannel listener;
        private final Shared shared;
        private final ExecutorService workers; // null: the acceptor converses itself
        private final Set<SocketChannel> open = ConcurrentHashMap.newKeySet();
        private final Thread acceptor;

        BlockingServer(ServerSocketChannel listener, Shared shared, String acceptorName, ExecutorService workers) {
            this.listener = listener;
            this.shared = shared;
            this.workers = workers;
            this.acceptor = Thread.ofPlatform().name(acceptorName).start(this::acceptLoop);
        }

        private void acceptLoop() {
            var trouble = new AcceptBackoff(shared::failed);
            while (listener.isOpen()) {
                SocketChannel ch = null;
                try {
                    ch = listener.accept();
                    open.add(ch);
                    SocketChannel accepted = ch;
                    if (workers == null) converse(ch);
                    else workers.execute(() -> converse(accepted));
                } catch (ClosedChannelException | RejectedExecutionException e) {
                    if (ch != null) closeQuietly(ch);
                    return; // close() closed the listener, or the workers: the server is closing
                } catch (Throwable e) {
                    // Out of file descriptors (IOException), of memory or of threads (Error): this one connection
                    // is lost; pause instead of spinning, and go on.
                    if (ch != null) {
                        open.remove(ch);
                        closeQuietly(ch);
                    }
                    if (!listener.isOpen()) return;
                    pause(trouble.failed(e));
                }
            }
        }

        private void converse(SocketChannel ch) {
            Conversation c = null;
            try (ch) {
                c = shared.open(ch).own();
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                while (true) {
                    PrimeRequest request = c.advance();
                    c.out.flip();
                    while (c.out.hasRemaining()) ch.write(c.out);
                    c.out.clear();
                    if (request != null) c.answer(shared.checker().answer(request).get());
                    else if (!c.inputLeft() && ch.read(c.in) < 0) break;
                }
                c.ended("closed");
            } catch (InterruptedException e) {
                c.ended("closed by the server");
            } catch (Throwable e) {
                // An I/O error, or anything else (a bug, out of memory): this connection ends, logged once.
                if (c != null) c.failed(e);
                else shared.failed("connection lost before its first byte: " + e);
            } finally {
                open.remove(ch);
            }
        }

        @Override public int port() { return localPort(listener); }

        @Override public void close() {
            closeQuietly(listener);
            open.forEach(PrimeEchoServer::closeQuietly);
            if (workers != null) workers.shutdownNow();
            acceptor.interrupt();
            join(acceptor);
        }
    }

    /** sequential: one conversation at a time, on the accepting thread; the next client waits until this one leaves. */
    static final class Sequential extends BlockingServer {
        Sequential(ServerSocketChannel listener, Shared shared) { super(listener, shared, "sequential", null); }
    }

    /** thread: a new platform thread per client; truly concurrent, but each costs a kernel thread and its stack. */
    static final class ThreadPerConnection extends BlockingServer {
        ThreadPerConnection(ServerSocketChannel listener, Shared shared) {
            super(listener, shared, "acceptor", Executors.newThreadPerTaskExecutor(Thread.ofPlatform().name("thread-", 1).factory()));
        }
    }

    /**
     * pool: a hand-off pool. The acceptor hands each connection to a fixed executor of -w platform threads, and a thread
     * serves its connection until it closes: the cost is bounded, but client w+1 waits in the executor's queue.
     */
    static final class ThreadPool extends BlockingServer {
        ThreadPool(ServerSocketChannel listener, Shared shared, int workers) {
            super(listener, shared, "acceptor", Executors.newFixedThreadPool(workers, Thread.ofPlatform().name("pool-", 1).factory()));
        }
    }

    /**
     * nio: one thread and one Selector for every connection, each a state machine that resumes where its last read
     * stopped. Cheap per connection, but nothing may block the loop: a prime checked on it stalls every client.
     */
    static final class NioEventLoop implements Server {
        private final ServerSocketChannel listener;
        private final Selector selector;
        private final Shared shared;
        private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>(); // run on the loop, e.g. a prime's answer
        private final Thread loop;
        private final SelectionKey listenerKey;
        private final AcceptBackoff trouble;
        private long acceptAgainAt; // System.nanoTime() after which accepting resumes; 0 = accepting
        private volatile boolean stopping;
        private final ByteBuffer loopIn = ByteBuffer.allocate(IN_BUFFER), loopOut = ByteBuffer.allocate(OUT_BUFFER);

        NioEventLoop(ServerSocketChannel listener, Shared shared) throws IOException {
            this.listener = listener;
            this.shared = shared;
            this.trouble = new AcceptBackoff(shared::failed);
            this.selector = Selector.open();
            listener.configureBlocking(false);
            listenerKey = listener.register(selector, SelectionKey.OP_ACCEPT);
            this.loop = Thread.ofPlatform().name("nio-loop").start(this::run);
        }

        /**
         * Nothing that one connection does may end the loop: every step for a connection catches everything and
         * closes that connection only (see Connection.guarded). Only the selector itself failing stops the loop,
         * and then the process exits 1 with the reason.
         */
        private void run() {
            Throwable fatal = null;
            try {
                while (!stopping) {
                    long pausedFor = acceptAgainAt == 0 ? 0 : acceptAgainAt - System.nanoTime();
                    if (acceptAgainAt != 0 && pausedFor <= 0) acceptAgain();
                    selector.select(pausedFor <= 0 ? 0 : Math.max(1, pausedFor / 1_000_000));
                    for (Runnable task; (task = tasks.poll()) != null; ) task.run();
                    for (SelectionKey key : selector.selectedKeys()) {
                        if (!key.isValid()) continue;
                        if (key == listenerKey) accept();
                        else ((Connection) key.attachment()).ready();
                    }
                    selector.selectedKeys().clear();
                }
            } catch (Throwable e) {
                if (!stopping) fatal = e;
            } finally {
                for (SelectionKey key : selector.keys()) closeQuietly(key.channel());
                closeQuietly(selector);
            }
            if (fatal != null) { // said once everything is closed (out of memory, saying it needs some room)
                shared.failed("stopped: " + fatal);
                shared.fatal().complete("nio-loop stopped: " + fatal);
            }
        }

        private void accept() {
            while (acceptAgainAt == 0) {
                SocketChannel ch = null;
                try {
                    if ((ch = listener.accept()) == null) return;
                    ch.configureBlocking(false);
                    ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    var key = ch.register(selector, 0);
                    var connection = new Connection(ch, shared.open(ch), key);
                    key.attach(connection);
                    connection.guarded(connection::advance); // sends the '*'
                } catch (Throwable e) {
                    // Out of file descriptors or memory: stop selecting the listener for a while, serve the others.
                    if (ch != null) closeQuietly(ch);
                    acceptAgainAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(trouble.failed(e));
                    listenerKey.interestOps(0);
                }
            }
        }

        /** The pause is over, or a connection has closed and freed its file descriptor: try accepting again. */
        private void acceptAgain() {
            acceptAgainAt = 0;
            if (listenerKey.isValid()) listenerKey.interestOps(SelectionKey.OP_ACCEPT);
        }

        interface Step { void run() throws Exception; }

        /** One client's state between events: its conversation, and whether a prime check or its EOF is pending. */
        private final class Connection {
            final SocketChannel ch;
            final Conversation c;
            final SelectionKey key;
            boolean checking, eof;

            Connection(SocketChannel ch, Conversation c, SelectionKey key) {
                this.ch = ch;
                this.c = c;
                this.key = key;
            }

            void ready() {
                guarded(() -> {
                    if (key.isReadable() && ch.read(c.in) < 0) eof = true;
                    advance();
                });
            }

            /**
             * Runs one step of this connection with the loop's buffers lent to it; anything it throws (I/O, a bug,
             * out of memory) closes this one only.
             */
            void guarded(Step step) {
                c.borrow(loopIn, loopOut);
                try {
                    step.run();
                } catch (Throwable e) {
                    close(e);
                } finally {
                    c.giveBack(loopIn, loopOut);
                }
            }

            /** Parses, writes what it can, and says what to wait for next: writable, an answer, or readable. */
            void advance() throws IOException {
                while (true) {
                    if (!checking) {
                        PrimeRequest request = c.advance();
                        if (request != null) {
                            checking = true;
                            shared.checker().answer(request).whenComplete((reply, e) -> onLoop(() -> answered(reply, e)));
                        }
                    }
                    c.out.flip();
                    ch.write(c.out);
                    c.out.compact();
                    if (c.outputLeft()) { key.interestOps(SelectionKey.OP_WRITE); return; }
                    if (checking) { key.interestOps(0); return; }
                    if (!c.inputLeft()) break;
                }
                if (eof) {
                    ch.close();
                    if (acceptAgainAt != 0) acceptAgain();
                    c.ended("closed");
                } else {
                    key.interestOps(SelectionKey.OP_READ);
                }
            }

            void answered(byte[] reply, Throwable e) {
                if (!ch.isOpen()) return;
                guarded(() -> {
                    if (e != null) throw e instanceof Exception x ? x : new CompletionException(e);
                    checking = false;
                    c.answer(reply);
                    advance();
                });
            }

            void close(Throwable e) {
                closeQuietly(ch);
                if (acceptAgainAt != 0) acceptAgain();
                c.failed(e);
            }
        }

        private void onLoop(Runnable task) {
            tasks.add(task);
            selector.wakeup();
        }

        @Override public int port() { return localPort(listener); }

        @Override public void close() {
            stopping = true;
            closeQuietly(listener);
            loop.interrupt(); // stops a prime being checked on the loop (--no-offload)
            selector.wakeup();
            join(loop);
        }
    }

    /**
     * async: NIO.2 completion handlers on a group of -w threads. No thread ever waits for a socket, but the code is a
     * chain of callbacks, and a handler that checks a long prime itself holds one of those few threads.
     */
    static final class CompletionHandlers implements Server {
        private final AsynchronousChannelGroup group;
        private final AsynchronousServerSocketChannel listener;
        private final Shared shared;

        CompletionHandlers(InetSocketAddress address, int backlog, Shared shared, int threads) throws IOException {
            this.shared = shared;
            this.group = AsynchronousChannelGroup.withFixedThreadPool(threads, Thread.ofPlatform().name("async-", 1).factory());
            try {
                this.listener = AsynchronousServerSocketChannel.open(group)
                        .setOption(StandardSocketOptions.SO_REUSEADDR, true).bind(address, backlog);
            } catch (IOException e) {
                group.shutdownNow();
                throw e;
            }
            var trouble = new AcceptBackoff(shared::failed);
            listener.accept(null, new CompletionHandler<AsynchronousSocketChannel, Void>() {
                @Override public void completed(AsynchronousSocketChannel ch, Void a) {
                    Connection connection;
                    try {
                        connection = new Connection(ch);
                    } catch (Throwable e) { // out of memory: this connection is lost
                        closeQuietly(ch);
                        failed(e, a);
                        return;
                    }
                    acceptNext(this);
                    connection.start();
                }

                @Override public void failed(Throwable e, Void a) {
                    if (!listener.isOpen()) return; // close() closed it
                    // Out of file descriptors or memory: try again after a pause, on a timer, so that no thread of
                    // the group sleeps while it could be serving the open connections.
                    var next = this;
                    CompletableFuture.delayedExecutor(trouble.failed(e), TimeUnit.MILLISECONDS).execute(() -> acceptNext(next));
                }
            });
        }

        private void acceptNext(CompletionHandler<AsynchronousSocketChannel, Void> handler) {
            try {
                listener.accept(null, handler);
            } catch (ShutdownChannelGroupException e) {
                // The server is stopping: nothing more to accept.
            }
        }

        /** One client as a chain of callbacks: write, then parse, answer or read, then write again. */
        private final class Connection {
            final AsynchronousSocketChannel ch;
            final Conversation c;

            Connection(AsynchronousSocketChannel ch) {
                this.ch = ch;
                this.c = shared.open(ch).own();
            }

            void start() {
                guarded(() -> {
                    try {
                        ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    } catch (IOException e) {
                        fail(e);
                        return;
                    }
                    process(); // its first advance() puts the '*' into the output
                });
            }

            void process() {
                PrimeRequest request = c.advance();
                flushThen(() -> {
                    if (request != null) shared.checker().answer(request).whenComplete((reply, e) -> {
                        if (e != null) fail(e);
                        else guarded(() -> { c.answer(reply); process(); });
                    });
                    else if (c.inputLeft()) process();
                    else ch.read(c.in, null, handler(n -> {
                        if (n >= 0) { process(); return; }
                        closeQuietly(ch);
                        c.ended("closed");
                    }));
                });
            }

            void flushThen(Runnable next) {
                c.out.flip();
                if (!c.out.hasRemaining()) {
                    c.out.clear();
                    next.run();
                    return;
                }
                ch.write(c.out, null, handler(n -> {
                    c.out.compact();
                    if (c.outputLeft()) flushThen(next);
                    else next.run();
                }));
            }

            <V> CompletionHandler<V, Void> handler(Consumer<V> then) {
                return new CompletionHandler<>() {
                    @Override public void completed(V result, Void a) { guarded(() -> then.accept(result)); }

                    @Override public void failed(Throwable e, Void a) { fail(e); }
                };
            }

            /** Runs the next step; anything it throws (a bug, out of memory) closes this connection only, never vanishes. */
            void guarded(Runnable step) {
                try {
                    step.run();
                } catch (Throwable e) {
                    fail(e);
                }
            }

            void fail(Throwable e) {
                closeQuietly(ch);
                c.failed(e);
            }
        }

        @Override public int port() {
            try {
                return ((InetSocketAddress) listener.getLocalAddress()).getPort();
            } catch (IOException e) {
                return -1;
            }
        }

        @Override public void close() {
            closeQuietly(listener);
            try {
                group.shutdownNow(); // closes every connection in the group
                group.awaitTermination(2, TimeUnit.SECONDS);
            } catch (IOException e) {
                shared.failed("async shutdown: " + e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * virtual (default): a virtual thread per client: blocking code, thread-per-client clarity, near event-loop cost.
     * A CPU-bound check never blocks, so its virtual thread never unmounts: it keeps one of the carrier threads (one
     * per core) until it is done, and two long checks on a 2-core machine stall every other client. (That is not
     * pinning, which is a thread that blocks but cannot unmount, e.g. in a native frame.) Hence --offload by default.
     */
    static final class VirtualThreads extends BlockingServer {
        VirtualThreads(ServerSocketChannel listener, Shared shared) {
            super(listener, shared, "acceptor", Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("vt-", 1).factory()));
        }
    }

    // ---------------------------------------------------------------- the prime check, on the connection's thread or offloaded

    /** Answers prime requests, on a separate bounded pool (--offload) or on the caller's own thread. */
    static final class PrimeChecker implements AutoCloseable {
        private final ThreadPoolExecutor pool; // null: check on the caller's thread
        private final AtomicInteger inProgress = new AtomicInteger();
        private final boolean quiet;

        PrimeChecker(boolean offload, boolean quiet) {
            int threads = Runtime.getRuntime().availableProcessors();
            this.pool = offload ? new ThreadPoolExecutor(threads, threads, 0, TimeUnit.SECONDS,
                    new ArrayBlockingQueue<>(CHECK_QUEUE), Thread.ofPlatform().name("prime-", 1).daemon().factory()) : null;
            this.quiet = quiet;
        }

        /** The reply line; without offload it is computed right here, blocking this thread for the whole check. */
        CompletableFuture<byte[]> answer(PrimeRequest request) {
            if (pool == null) {
                try {
                    return CompletableFuture.completedFuture(check(request));
                } catch (CancellationException e) {
                    return CompletableFuture.failedFuture(e);
                }
            }
            try {
                return CompletableFuture.supplyAsync(() -> check(request), pool);
            } catch (RejectedExecutionException e) {
                return CompletableFuture.completedFuture(BUSY_REPLY);
            }
        }

        int inProgress() { return inProgress.get(); }

        private byte[] check(PrimeRequest request) {
            long started = System.nanoTime();
            inProgress.incrementAndGet();
            try {
                boolean prime = isPrime(request.number());
                if (!quiet) log(System.out, String.format("%s %s %s in %d ms", Thread.currentThread().getName(), request,
                        prime ? "prime" : "composite", (System.nanoTime() - started) / 1_000_000));
                return prime ? PRIME_REPLY : COMPOSITE_REPLY;
            } finally {
                inProgress.decrementAndGet();
            }
        }

        /**
         * Deliberately slow: trial division of the unsigned n by 2 and every odd number up to its square root, about
         * 0.75 billion divisions (3 s) for 2^61-1. Interruptible, so that closing the server stops a check.
         */
        static boolean isPrime(long n) {
            if (Long.compareUnsigned(n, 2) < 0) return false;
            if ((n & 1) == 0) return n == 2;
            for (long d = 3; Long.compareUnsigned(d, Long.divideUnsigned(n, d)) <= 0; d += 2) {
                if (Long.remainderUnsigned(n, d) == 0) return false;
                if ((d & 0xfffff) == 1 && Thread.currentThread().isInterrupted()) throw new CancellationException("interrupted");
            }
            return true;
        }

        @Override public void close() {
            if (pool != null) pool.shutdownNow();
        }
    }

    // ---------------------------------------------------------------- the demo client

    @Command(name = "client", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = {"The demonstration of Bendersky's series: three connections sending LongPrime (P2305843009213693951), "
                    + "then Echo (echo) and SmallPrime (P7) at once, each result printed with its elapsed time as it "
                    + "arrives. On a concurrent server Echo and SmallPrime print first; on a blocked one they wait.",
                    "With --send, sends one frame ^TEXT$ and prints the answer."})
    static final class Client implements Callable<Integer> {
        record Job(String name, String payload) {}

        static final List<Job> DEMO = List.of(new Job("LongPrime", "P2305843009213693951"), new Job("Echo", "echo"),
                new Job("SmallPrime", "P7"));

        @Option(names = "--host", description = "server address")
        String host = "127.0.0.1";

        @Option(names = {"-p", "--port"}, description = "server port")
        int port = DEFAULT_PORT;

        @Option(names = "--send", paramLabel = "TEXT", description = "send one frame ^TEXT$ and print the answer "
                + "(P<digits> asks whether the number is prime)")
        String send;

        @Option(names = "--timeout", description = "seconds to wait for an answer")
        int timeout = 60;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            if (timeout < 1) throw new ParameterException(spec.commandLine(), "--timeout: " + timeout + " (need at least 1 second)");
            if (send != null && send.indexOf(CLOSE) >= 0)
                throw new ParameterException(spec.commandLine(), "--send: " + send + " contains '$', which would end the frame early");
            PrintWriter out = spec.commandLine().getOut();
            try {
                if (send != null) out.println(show(ask(send, System.nanoTime(), null).reply()));
                else demo(out);
                return 0;
            } catch (ConnectException e) {
                return error("cannot connect to " + host + ":" + port + ": " + e.getMessage()
                        + " (is the server running? start it with ./jbang PrimeEchoServer.java)");
            } catch (SocketTimeoutException e) {
                return error("no answer from " + host + ":" + port + " within " + timeout + " s (raise --timeout)");
            } catch (IOException e) {
                return error(host + ":" + port + ": " + e.getMessage());
            }
        }

        private void demo(PrintWriter out) throws Exception {
            out.printf("Three connections to %s:%d: %s first, then %s and %s at once%n", host, port,
                    DEMO.get(0).name(), DEMO.get(1).name(), DEMO.get(2).name());
            out.flush();
            long started = System.nanoTime();
            var longPrimeSent = new CountDownLatch(1);
            try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
                var results = new ArrayList<Future<?>>();
                for (Job job : DEMO) {
                    boolean first = job == DEMO.getFirst();
                    results.add(threads.submit(() -> {
                        Answer a;
                        if (first) {
                            try {
                                a = ask(job.payload(), started, longPrimeSent);
                            } finally {
                                longPrimeSent.countDown(); // if it failed, let the others try anyway
                            }
                        } else {
                            longPrimeSent.await();
                            a = ask(job.payload(), started, null);
                        }
                        synchronized (out) {
                            out.printf("%-10s  %-22s -> %-10s %6d ms%n", job.name(), job.payload(), show(a.reply()), a.millis());
                            out.flush();
                        }
                        return null;
                    }));
                }
                for (var r : results) {
                    try {
                        r.get();
                    } catch (ExecutionException e) {
                        if (e.getCause() instanceof IOException io) throw io;
                        throw e;
                    }
                }
            }
            out.printf("All three answered in %d ms%n", (System.nanoTime() - started) / 1_000_000);
        }

        record Answer(byte[] reply, long millis) {}

        /** One connection, one frame: waits for '*', sends ^payload$, reads the answer (a line for P, else one byte per byte). */
        private Answer ask(String payload, long started, CountDownLatch sent) throws IOException {
            byte[] body = payload.getBytes(StandardCharsets.UTF_8);
            try (var socket = new Socket()) {
                socket.connect(new InetSocketAddress(host, port), timeout * 1000);
                socket.setSoTimeout(timeout * 1000);
                socket.setTcpNoDelay(true);
                InputStream in = socket.getInputStream();
                int first = in.read();
                if (first != HANDSHAKE)
                    throw new IOException("expected '*' on connect, got " + (first < 0 ? "end of stream" : "byte " + first) + " (is this a PrimeEchoServer?)");
                var frame = new ByteArrayOutputStream();
                frame.write(OPEN);
                frame.write(body);
                frame.write(CLOSE);
                OutputStream o = socket.getOutputStream();
                o.write(frame.toByteArray());
                o.flush();
                if (sent != null) sent.countDown();
                byte[] reply = payload.startsWith("P") ? readLine(in) : in.readNBytes(body.length);
                if (!payload.startsWith("P") && reply.length < body.length) throw new IOException("connection closed before the echo was complete");
                return new Answer(reply, (System.nanoTime() - started) / 1_000_000);
            }
        }

        private static byte[] readLine(InputStream in) throws IOException {
            var line = new ByteArrayOutputStream();
            for (int b; (b = in.read()) != '\n'; ) {
                if (b < 0) throw new IOException("connection closed before the answer's end of line");
                line.write(b);
            }
            return line.toByteArray();
        }

        /** The reply as text, non-printable bytes as \xNN. */
        private static String show(byte[] reply) {
            var sb = new StringBuilder();
            for (byte b : reply) sb.append(b >= ' ' && b < 127 ? String.valueOf((char) b) : String.format("\\x%02x", b & 0xff));
            return sb.toString();
        }

        private int error(String message) {
            spec.commandLine().getErr().println("Error: " + message);
            return 1;
        }
    }

    // ---------------------------------------------------------------- plumbing: failed accepts, the poller warm-up, the started server

    /** A started server: its real port, and close() to stop everything it started. */
    public record Running(Server server, PrimeChecker checker, CountDownLatch closed, CompletableFuture<String> failure)
            implements AutoCloseable {
        public int port() { return server.port(); }

        /** Prime checks running right now (tests use it to know a long check has begun). */
        public int checksInProgress() { return checker.inProgress(); }

        public void awaitClosed() throws InterruptedException { closed.await(); }

        @Override public void close() {
            server.close();
            checker.close();
            closed.countDown();
        }
    }

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

    // ---------------------------------------------------------------- small infrastructure

    static byte[] line(String text) { return (text + "\n").getBytes(StandardCharsets.US_ASCII); }

    /** The peer's address: the channel's own object, not a copy; null if the peer is already gone. */
    static SocketAddress peer(NetworkChannel ch) {
        try {
            return switch (ch) {
                case SocketChannel s -> s.getRemoteAddress();
                case AsynchronousSocketChannel a -> a.getRemoteAddress();
                default -> null;
            };
        } catch (IOException e) {
            return null;
        }
    }

    /** The peer as host:port, for the log. */
    static String remote(SocketAddress peer) {
        return peer instanceof InetSocketAddress a ? a.getAddress().getHostAddress() + ":" + a.getPort() : "(peer gone)";
    }

    static int localPort(ServerSocketChannel listener) {
        return ((InetSocketAddress) listener.socket().getLocalSocketAddress()).getPort();
    }

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

    /** The accepting thread waits before it tries again (see AcceptBackoff). */
    static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- twin: log-line (kept identical in EchoServer.java, PrimeEchoServer.java, SimpleHttpServer.java, ThreadedHttpServer.java; tests/TwinsTest.java checks)
    static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    /** Every log line starts with the time, UTC, to the millisecond. */
    static void log(PrintStream out, String line) {
        out.println(TIMESTAMP.format(Instant.now()) + " " + line);
    }
    // ---- end twin: log-line

    static void join(Thread t) {
        try {
            t.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
