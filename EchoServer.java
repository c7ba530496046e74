///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//DEPS info.picocli:picocli:4.7.7
//JAVA_OPTIONS -XX:+UseSerialGC -Xms8m -Xmx512m -Djbang.launcher.aot=EchoServer
//DESCRIPTION A TCP echo server for 10,000 concurrent connections, in four concurrency models.

// EchoServer sends back every byte it receives, for as long as the client keeps the connection open. Its four
// modes are the four ways Java waits on many sockets: a platform thread per connection (thread, like a C++ server),
// one Selector loop on one thread (nio, like asyncio), NIO.2 completion handlers (async), and a virtual thread per
// connection (virtual, the default; the counterpart of Tokio).
//
// Run the server in one terminal and the client in another:
//   ./jbang EchoServer.java -m nio          then          ./jbang EchoClient.java -n 10000 -s 100
// or talk to it by hand: `nc 127.0.0.1 8080`.
// Watch: one log line per finished connection whose thread name shows the model (conn-7, nio-loop, async-2,
// vt-12); -q turns them off for a benchmark. Ctrl-C prints the connection counters. A slow reader never loses
// data and never makes the server buffer without bound: a connection is not read while its echo is unwritten.

// The file, in order:
//   EchoServer: the options, main, call(), start()      the command line
//   Mode, Running                                       the four models and their trade-offs; a started server
//   Tally                                               the core every model shares: a connection's bookkeeping
//   ThreadPerConnection                                 thread and virtual: a blocking thread per connection
//   NioEventLoop                                        nio: one Selector loop, one shared read buffer
//   CompletionHandlers                                  async: NIO.2 completion handlers
//   AcceptBackoff, startPoller, Counters, helpers       plumbing: failed accepts, the poller warm-up, logging

import com.sun.management.UnixOperatingSystemMXBean;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.BindException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousChannelGroup;
import java.nio.channels.AsynchronousServerSocketChannel;
import java.nio.channels.AsynchronousSocketChannel;
import java.nio.channels.CompletionHandler;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.ShutdownChannelGroupException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiConsumer;

@Command(name = "EchoServer", mixinStandardHelpOptions = true, showDefaultValues = true, usageHelpWidth = 120,
        description = "Echoes every byte it receives over TCP, in the concurrency model chosen with --mode.",
        footerHeading = "%nModes (-m), each with its trade-off:%n",
        footer = {   // after each mode's line (Mode.helpFooter)
                "%nOut of file descriptors (or memory) an accept fails: the server logs it once, pauses accepting",
                "(10 ms, doubling to 200 ms), serves the open connections meanwhile, and logs again when it recovers."})
public class EchoServer implements Callable<Integer> {
    /** Bytes read (and so echoed) at a time, at most, per connection in the blocking and async models. */
    static final int BUFFER_SIZE = 8 * 1024;
    /** What a connection's buffer shrinks back to when little arrives: an idle connection keeps only this. */
    static final int SMALL_BUFFER_SIZE = 256;
    /** How long Ctrl-C lets open connections finish before it closes them. */
    static final Duration SHUTDOWN_GRACE = Duration.ofSeconds(1);

    @Option(names = {"-p", "--port"}, description = "TCP port (0 picks a free one)")
    int port = 8080;

    @Option(names = {"-b", "--bind"}, description = "address to listen on")
    String bind = "127.0.0.1";

    @Option(names = {"-m", "--mode"}, description = "concurrency model: ${COMPLETION-CANDIDATES}")
    Mode mode = Mode.virtual;

    @Option(names = {"-w", "--workers"},
            description = "threads of the async mode's channel group (0 = one per core); the other modes ignore it")
    int workers = 0;

    @Option(names = {"-q", "--quiet"}, description = "no log line per finished connection (failures are still logged)")
    boolean quiet;

    @Option(names = "--backlog", description = "listen queue length; the kernel caps it at net.core.somaxconn "
            + "(Java's default of 50 overflows under a burst of connections)")
    int backlog = 4096;

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        var cli = new CommandLine(new EchoServer());
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
        System.out.printf("Listening on tcp://%s mode=%s%n", hostPort(server.address()), mode);
        System.out.flush();
        var stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdown(SHUTDOWN_GRACE);
            System.out.println(server.counters().summary());
            System.out.flush();
            stopped.countDown();
        }, "shutdown"));
        // Either Ctrl-C (the hook above), or a loop that cannot go on: then exit 1 with the reason, not a silent hang.
        server.failure().thenRun(stopped::countDown);
        stopped.await();
        if (server.failure().isDone()) {
            System.err.println("Error: " + server.failure().join() + " (the server cannot go on; exiting)");
            return 1;
        }
        return 0;
    }

    /** Binds and starts serving in the chosen mode; the returned handle stops everything it started. */
    public Running start() throws IOException {
        if (port < 0 || port > 65535) throw new ParameterException(spec.commandLine(), "port out of range: " + port + " (0-65535)");
        if (backlog < 1) throw new ParameterException(spec.commandLine(), "backlog must be at least 1: " + backlog);
        if (workers < 0) throw new ParameterException(spec.commandLine(), "workers must not be negative: " + workers);
        var address = new InetSocketAddress(InetAddress.getByName(bind), port);
        var tally = new Tally(quiet);
        return switch (mode) {
            case thread -> new ThreadPerConnection(address, backlog, Thread.ofPlatform().name("conn-", 1).factory(), tally);
            case nio -> new NioEventLoop(address, backlog, tally);
            case async -> new CompletionHandlers(address, backlog,
                    workers > 0 ? workers : Runtime.getRuntime().availableProcessors(), tally);
            case virtual -> {
                startPoller();
                yield new ThreadPerConnection(address, backlog, Thread.ofVirtual().name("vt-", 1).factory(), tally);
            }
        };
    }

    /** The four models, each with its trade-off. */
    public enum Mode {
        thread("a platform thread per connection: plain blocking code, but a kernel thread and a stack each"),
        nio("one Selector loop on one thread: no thread per connection, but one core, and nothing may block it"),
        async("NIO.2 completion handlers on -w threads: nobody waits on a socket, but the code is a chain of callbacks"),
        virtual("a virtual thread per connection: the thread code unchanged, at near event-loop cost");

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

    /** A started server: where it listens, what it counted, and how to stop it. */
    public interface Running extends AutoCloseable {
        InetSocketAddress address();

        Counters counters();

        /** Completes, with the reason, if a loop of the server failed in a way it cannot go on from. */
        CompletableFuture<String> failure();

        /** Stops accepting, gives open connections up to `grace` to finish, then closes them and ends every thread. */
        void shutdown(Duration grace);

        default int port() { return address().getPort(); }

        @Override
        default void close() { shutdown(Duration.ZERO); }
    }

    // ---------------------------------------------------------------- the core every model shares
    // An echo has nothing to parse: what every model shares is a connection's bookkeeping (a number, the bytes it
    // echoed, one log line when it ends) and the rule "read nothing more until the last read is written back".

    /** Counts connections, writes their log lines, and knows when the server is stopping. */
    static final class Tally {
        final Counters counters = new Counters();
        final boolean quiet;
        final CompletableFuture<String> failure = new CompletableFuture<>();
        private final AtomicBoolean shutdown = new AtomicBoolean();
        private volatile boolean stopping;

        Tally(boolean quiet) { this.quiet = quiet; }

        Session open(SocketAddress peer) {
            long id = counters.accepted.incrementAndGet();
            try {
                return new Session(id, peer);
            } catch (Throwable e) { // out of memory: the connection counts as accepted, failed and closed
                counters.failed.increment();
                counters.closed.increment();
                throw e;
            }
        }

        /** A failure line on stderr, with -q too; none once the server is stopping (closing sockets makes them fail). */
        void failed(String line) { failed(Thread.currentThread().getName(), line); }

        void failed(String who, String line) {
            if (!stopping) log(System.err, who + " " + line);
        }

        /** A loop cannot go on: said once, and the command line exits 1 with the reason. */
        void fatal(String reason) {
            if (!stopping) failure.complete(reason);
        }

        /** True for the first caller only: a server is shut down once, however often close() is called. */
        boolean firstShutdown() { return shutdown.compareAndSet(false, true); }

        /** Waits until no connection is open, or `grace` has passed; then marks the server as stopping. */
        void drain(Duration grace) {
            long deadline = System.nanoTime() + grace.toNanos();
            synchronized (this) {
                while (counters.open() > 0) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) break;
                    try {
                        TimeUnit.NANOSECONDS.timedWait(this, left);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                }
            }
            stopping = true;
        }

        /** One connection's bookkeeping. Not thread-safe: one thread (or one handler at a time) owns it. */
        final class Session {
            final long id;
            final SocketAddress peer;
            long bytes;

            Session(long id, SocketAddress peer) {
                this.id = id;
                this.peer = peer;
            }

            void echoed(int n) { bytes += n; }

            /** "vt-12 #12 127.0.0.1:54321": built only for a log line (the profile showed it costs, even when quiet). */
            String who() { return Thread.currentThread().getName() + " #" + id + " " + hostPort(peer); }

            /** The connection is over: by the peer closing (error == null) or by an I/O error. Logged once. */
            void end(Throwable error) {
                counters.bytes.add(bytes);
                if (error != null && !stopping) {
                    counters.failed.increment();
                    log(System.err, "%s failed after %d bytes: %s".formatted(who(), bytes, error));
                } else if (!quiet) {
                    log(System.out, "%s closed, %d bytes echoed".formatted(who(), bytes));
                }
                counters.closed.increment();
                if (stopping || counters.open() == 0) synchronized (Tally.this) { Tally.this.notifyAll(); }
            }
        }
    }

    // ---------------------------------------------------------------- the models, simplest first

    /**
     * thread and virtual: a blocking accept loop that starts one thread per connection, which reads and writes back
     * until the peer closes: a platform thread (the C++ model) or a virtual thread (the Tokio model). The thread
     * factory is the only difference; each one's trade-off is in {@link Mode}.
     */
    static final class ThreadPerConnection implements Running {
        private final ServerSocket listener;
        private final ExecutorService threads;
        private final Thread acceptor;
        private final Set<Socket> open = ConcurrentHashMap.newKeySet();
        private final Tally tally;

        ThreadPerConnection(InetSocketAddress address, int backlog, ThreadFactory factory, Tally tally) throws IOException {
            this.tally = tally;
            listener = new ServerSocket();
            try {
                listener.bind(address, backlog);
            } catch (IOException e) {
                listener.close();
                throw e;
            }
            threads = Executors.newThreadPerTaskExecutor(factory);
            acceptor = Thread.ofPlatform().name("acceptor").start(this::acceptLoop);
        }

        private void acceptLoop() {
            var trouble = new AcceptBackoff(tally::failed);
            while (!listener.isClosed()) {
                Socket s = null;
                try {
                    s = listener.accept();
                    open.add(s);
                    Socket accepted = s;
                    threads.execute(() -> serve(accepted));
                } catch (Throwable e) {
                    // Out of file descriptors (IOException), of memory or of threads (Error): this one connection
                    // is lost; pause instead of spinning, and go on.
                    if (listener.isClosed()) return;
                    if (s != null) {
                        open.remove(s);
                        closeAll(Set.of(s));
                    }
                    pause(trouble.failed(e));
                }
            }
        }

        private void serve(Socket s) {
            Tally.Session session = null;
            try (s) {
                session = tally.open(s.getRemoteSocketAddress());
                s.setTcpNoDelay(true);
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                byte[] buffer = new byte[SMALL_BUFFER_SIZE];
                for (int n; (n = in.read(buffer)) > 0; ) {
                    out.write(buffer, 0, n);
                    session.echoed(n);
                    int size = nextBufferSize(buffer.length, n);
                    if (size != buffer.length) buffer = new byte[size];
                }
                session.end(null);
            } catch (Throwable e) {
                // An I/O error, or anything else (even out of memory): this connection ends, logged once.
                if (session != null) session.end(e);
                else tally.failed("connection from " + hostPort(s.getRemoteSocketAddress()) + " lost: " + e);
            } finally {
                open.remove(s);
            }
        }

        @Override public InetSocketAddress address() { return (InetSocketAddress) listener.getLocalSocketAddress(); }

        @Override public Counters counters() { return tally.counters; }

        @Override public CompletableFuture<String> failure() { return tally.failure; }

        @Override public void shutdown(Duration grace) {
            if (!tally.firstShutdown()) return;
            closeAll(Set.of(listener));
            join(acceptor);
            tally.drain(grace);
            closeAll(open);
            threads.close();
        }
    }

    /**
     * nio: one Selector loop on one thread, like asyncio, with one read buffer for every connection and no locks
     * (trade-off: {@link Mode#nio}).
     */
    static final class NioEventLoop implements Running {
        private final ServerSocketChannel listener;
        private final Selector selector;
        private final Thread loop;
        private final Tally tally;
        private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(64 * 1024);
        private final AcceptBackoff trouble;
        private final SelectionKey listenerKey;
        private volatile boolean draining;
        private volatile boolean stopped;
        private int connections;
        private long acceptAgainAt; // System.nanoTime() after which accepting resumes; 0 = accepting

        /** A connection: its bookkeeping and the part of the echo the peer has not taken yet (null: none). */
        private static final class Conn {
            final SocketChannel channel;
            final Tally.Session session;
            ByteBuffer pending;

            Conn(SocketChannel channel, Tally.Session session) {
                this.channel = channel;
                this.session = session;
            }
        }

        NioEventLoop(InetSocketAddress address, int backlog, Tally tally) throws IOException {
            this.tally = tally;
            this.trouble = new AcceptBackoff(tally::failed);
            listener = ServerSocketChannel.open();
            try {
                listener.bind(address, backlog);
                listener.configureBlocking(false);
                selector = Selector.open();
                listenerKey = listener.register(selector, SelectionKey.OP_ACCEPT);
            } catch (IOException e) {
                listener.close();
                throw e;
            }
            loop = Thread.ofPlatform().name("nio-loop").start(this::run);
        }

        private void run() {
            try {
                while (!stopped && !(draining && connections == 0)) {
                    if (draining && listener.isOpen()) listener.close();
                    long pausedFor = acceptAgainAt == 0 ? 0 : acceptAgainAt - System.nanoTime();
                    if (acceptAgainAt != 0 && pausedFor <= 0) acceptAgain();
                    else selector.select(this::handle, pausedFor <= 0 ? 0 : Math.max(1, pausedFor / 1_000_000));
                }
            } catch (Throwable e) {
                // The selector itself failed: the loop cannot go on. Say so, and let the command line exit 1.
                tally.failed("stopped: " + e);
                tally.fatal("nio-loop stopped: " + e);
            } finally {
                for (var key : selector.keys()) if (key.isValid() && key.attachment() instanceof Conn c) end(key, c, null);
                closeAll(Set.of(selector, listener));
            }
        }

        private void handle(SelectionKey key) {
            if (key == listenerKey) {
                if (key.isValid() && key.isAcceptable()) acceptAll();
                return;
            }
            var c = (Conn) key.attachment();
            try {
                if (key.isWritable()) writePending(key, c);
                else if (key.isReadable()) readAndEcho(key, c);
            } catch (Throwable e) {
                // An I/O error, or anything else (a bug, out of memory): this connection ends, the loop goes on.
                end(key, c, e);
            }
        }

        /** A burst of connections wakes the loop once: take every connection the kernel has queued. */
        private void acceptAll() {
            while (acceptAgainAt == 0) {
                SocketChannel ch = null;
                try {
                    if ((ch = listener.accept()) == null) return;
                    ch.configureBlocking(false);
                    ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    SocketAddress peer = ch.getRemoteAddress();
                    ch.register(selector, SelectionKey.OP_READ).attach(new Conn(ch, tally.open(peer)));
                    connections++;
                } catch (Throwable e) {
                    // Out of file descriptors or memory: stop selecting the listener for a while, serve the others.
                    if (ch != null) closeAll(Set.of(ch));
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

        private void readAndEcho(SelectionKey key, Conn c) throws IOException {
            readBuffer.clear();
            if (c.channel.read(readBuffer) < 0) {
                end(key, c, null);
                return;
            }
            readBuffer.flip();
            c.session.echoed(c.channel.write(readBuffer));
            if (readBuffer.hasRemaining()) {
                // Back-pressure: keep what the peer has not taken, and stop reading until it has taken it.
                c.pending = ByteBuffer.allocate(readBuffer.remaining()).put(readBuffer).flip();
                key.interestOps(SelectionKey.OP_WRITE);
            }
        }

        private void writePending(SelectionKey key, Conn c) throws IOException {
            c.session.echoed(c.channel.write(c.pending));
            if (!c.pending.hasRemaining()) {
                c.pending = null;
                key.interestOps(SelectionKey.OP_READ);
            }
        }

        private void end(SelectionKey key, Conn c, Throwable error) {
            key.cancel();
            closeAll(Set.of(c.channel));
            connections--;
            c.session.end(error);
            if (acceptAgainAt != 0) acceptAgain();
        }

        @Override public InetSocketAddress address() {
            return (InetSocketAddress) listener.socket().getLocalSocketAddress();
        }

        @Override public Counters counters() { return tally.counters; }

        @Override public CompletableFuture<String> failure() { return tally.failure; }

        @Override public void shutdown(Duration grace) {
            if (!tally.firstShutdown()) return;
            draining = true;
            selector.wakeup();
            try {
                loop.join(grace);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            tally.drain(Duration.ZERO);
            stopped = true;
            selector.wakeup();
            join(loop);
        }
    }

    /**
     * async: NIO.2 completion handlers. The kernel waits, and a small fixed pool runs whichever handler comes next
     * (read done: write it back; write done: read again); trade-off: {@link Mode#async}.
     */
    static final class CompletionHandlers implements Running {
        private final AsynchronousChannelGroup group;
        private final AsynchronousServerSocketChannel listener;
        private final Tally tally;
        private final AcceptBackoff trouble;

        CompletionHandlers(InetSocketAddress address, int backlog, int workers, Tally tally) throws IOException {
            this.tally = tally;
            this.trouble = new AcceptBackoff(tally::failed);
            group = AsynchronousChannelGroup.withFixedThreadPool(workers, Thread.ofPlatform().name("async-", 1).factory());
            try {
                listener = AsynchronousServerSocketChannel.open(group).bind(address, backlog);
            } catch (IOException e) {
                group.shutdownNow();
                throw e;
            }
            listener.accept(null, onAccept);
        }

        private final CompletionHandler<AsynchronousSocketChannel, Void> onAccept = new CompletionHandler<>() {
            @Override public void completed(AsynchronousSocketChannel ch, Void unused) {
                Conn c;
                try {
                    ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    c = new Conn(ch, tally.open(ch.getRemoteAddress()));
                } catch (Throwable e) {
                    closeAll(Set.of(ch));
                    failed(e, null);
                    return;
                }
                acceptNext();
                c.read();
            }

            @Override public void failed(Throwable e, Void unused) {
                if (!listener.isOpen()) return;
                // Out of file descriptors or memory: try again after a pause, on a timer, so that no thread of
                // the group sleeps while it could be serving the open connections.
                CompletableFuture.delayedExecutor(trouble.failed(e), TimeUnit.MILLISECONDS).execute(CompletionHandlers.this::acceptNext);
            }
        };

        private void acceptNext() {
            try {
                listener.accept(null, onAccept);
            } catch (ShutdownChannelGroupException e) {
                // The server is stopping: nothing more to accept.
            }
        }

        /** A connection alternates between one pending read and the writes that echo it: never both at once. */
        private static final class Conn implements CompletionHandler<Integer, Void> {
            final AsynchronousSocketChannel channel;
            final Tally.Session session;
            ByteBuffer buffer = ByteBuffer.allocate(SMALL_BUFFER_SIZE);
            boolean writing;

            Conn(AsynchronousSocketChannel channel, Tally.Session session) {
                this.channel = channel;
                this.session = session;
            }

            void read() {
                writing = false;
                buffer.clear();
                channel.read(buffer, null, this);
            }

            @Override public void completed(Integer n, Void unused) {
                try {
                    next(n);
                } catch (Throwable e) { // a bug or out of memory: this connection ends, logged; the group goes on
                    end(e);
                }
            }

            private void next(int n) {
                if (writing) {
                    session.echoed(n);
                    if (buffer.hasRemaining()) {
                        channel.write(buffer, null, this);
                        return;
                    }
                    int size = nextBufferSize(buffer.capacity(), buffer.limit());
                    if (size != buffer.capacity()) buffer = ByteBuffer.allocate(size);
                    read();
                } else if (n < 0) {
                    end(null);
                } else {
                    buffer.flip();
                    writing = true;
                    channel.write(buffer, null, this);
                }
            }

            @Override public void failed(Throwable e, Void unused) { end(e); }

            private void end(Throwable error) {
                closeAll(Set.of(channel));
                session.end(error);
            }
        }

        @Override public InetSocketAddress address() {
            try {
                return (InetSocketAddress) listener.getLocalAddress();
            } catch (IOException e) {
                throw new IllegalStateException("listener already closed", e);
            }
        }

        @Override public Counters counters() { return tally.counters; }

        @Override public CompletableFuture<String> failure() { return tally.failure; }

        @Override public void shutdown(Duration grace) {
            if (!tally.firstShutdown()) return;
            closeAll(Set.of(listener));
            tally.drain(grace);
            try {
                group.shutdownNow();
                if (!group.awaitTermination(10, TimeUnit.SECONDS)) log(System.err, "async: pool threads still running after 10 s");
            } catch (IOException e) {
                log(System.err, "async: closing the channel group failed: " + e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---------------------------------------------------------------- plumbing: failed accepts, the poller warm-up, the counters

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

    /** The connection counters printed on Ctrl-C. */
    public static final class Counters {
        final AtomicLong accepted = new AtomicLong();
        final LongAdder closed = new LongAdder();
        final LongAdder failed = new LongAdder();
        final LongAdder bytes = new LongAdder();

        public long accepted() { return accepted.get(); }

        public long closed() { return closed.sum(); }

        public long failed() { return failed.sum(); }

        public long open() { return accepted.get() - closed.sum(); }

        public long bytesEchoed() { return bytes.sum(); }

        public String summary() {
            return "Connections: %d accepted, %d closed (%d failed), %d open; %d bytes echoed"
                    .formatted(accepted(), closed(), failed(), open(), bytesEchoed());
        }
    }

    // ---------------------------------------------------------------- small infrastructure

    /**
     * The size of a connection's next read buffer after a read of `n` bytes into one of `size`: a read that filled it
     * doubles it (up to BUFFER_SIZE: a stream is echoed in fewer, larger reads), a small one shrinks it back, so a
     * connection that waits keeps SMALL_BUFFER_SIZE bytes, not BUFFER_SIZE. A blocked read must own its buffer;
     * the nio loop needs none per connection (it reads into its own and keeps only what the peer has not taken).
     */
    static int nextBufferSize(int size, int n) {
        if (n == size) return Math.min(2 * size, BUFFER_SIZE);
        return n <= SMALL_BUFFER_SIZE ? SMALL_BUFFER_SIZE : size;
    }

    /** "127.0.0.1:8080", or "[::1]:8080" for IPv6. */
    static String hostPort(SocketAddress a) {
        if (!(a instanceof InetSocketAddress isa) || isa.getAddress() == null) return String.valueOf(a);
        String host = isa.getAddress().getHostAddress();
        return (isa.getAddress() instanceof Inet6Address ? "[" + host + "]" : host) + ":" + isa.getPort();
    }

    /** Closes each one; a close that fails is reported, never hidden, and the others are still closed. */
    static void closeAll(Iterable<? extends AutoCloseable> things) {
        for (var t : things) {
            try {
                t.close();
            } catch (Exception e) {
                log(System.err, "close failed: " + t + ": " + e);
            }
        }
    }

    static void join(Thread t) {
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

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
}
