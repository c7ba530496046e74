///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//DEPS info.picocli:picocli:4.7.7
//DEPS tools.jackson.core:jackson-databind:3.3.0
//DEPS org.hdrhistogram:HdrHistogram:2.2.2
//DESCRIPTION Opens 10,000 TCP connections to an echo server at once, verifies every echo and measures them.

// EchoClient races an echo server the way the C epoll client does: N connections (all at once by default), each
// sends S random bytes, reads them back, checks them byte for byte and closes. It reports total time (first connect
// to last close, measured inside the client so JVM start-up is not in it), p50/p90/p99/max latency, connect time
// against round-trip time, throughput, and every failed connection by kind. Exit status 1 if any connection failed.
//
// Run a server in one terminal and the client in another:
//   ./jbang EchoServer.java -q          then          ./jbang EchoClient.java -n 10000 -s 100
// By default the client waits with one Selector thread (-m nio, like an epoll client) and first runs one unmeasured
// round with as many connections in flight as the measured one, so the measured round finds its classes loaded, its
// hot path compiled for that size, and the JVM's and the kernel's tables for that many sockets already grown.
// Try `-m virtual` (a virtual thread per connection), `-c 100` (at most 100 in flight), `--json`, `--warmup 0`.
// Watch: the progress line on stderr, and the hints it prints when the OS refuses (open files, listen queue,
// ephemeral ports): they name the limit that was hit and how to raise it.
// The command line is a thin shell over the engine, `EchoClient.run(Config) -> Result` (records, no printing inside),
// which `Compare.java echo-race` uses through //SOURCES.

// The file, in order:
//   EchoClient: the options, main, call(), config(), run(), round()   the command line and the engine
//   Mode, Config, Progress                           how the client waits; one round's settings; its progress
//   Exchange, Failed                                 the core both modes share: one connection's conversation
//   VirtualThreadClients, SelectorClient             the two ways the client waits: a thread each, or one Selector
//   Round, Failure, Percentiles, Result, result()    what a round measured, and how it is reported
//   processCpuNanos, Limits                          plumbing: the CPU clock, what the OS allows

import org.HdrHistogram.Histogram;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import tools.jackson.databind.json.JsonMapper;

import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.ConnectException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

@Command(name = "EchoClient", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = "Opens N connections to an echo server, sends S random bytes on each, verifies the echo, "
                + "and reports total time, latency percentiles and every failure.")
public class EchoClient implements Callable<Integer> {
    /** Bytes written at a time, and how far the writes may run ahead of the echo (so large payloads never deadlock). */
    static final int CHUNK = 16 * 1024;
    static final int WINDOW = 64 * 1024;
    /** File descriptors the JVM itself needs besides the connections. */
    static final int FD_MARGIN = 64;
    /**
     * The automatic warm-up round: as many connections in flight as the measured round (measured: after a round of
     * 2,000 a round of 10,000 at once still took 1.3 times as long as after a round of 10,000), and at least this
     * many, enough for the JIT to compile the hot path.
     */
    static final int AUTO_WARMUP = 2_000;

    @Option(names = {"-n", "--connections"}, description = "connections to open in total")
    int connections = 10_000;

    @Option(names = {"-s", "--size"}, description = "random bytes sent (and expected back) on each connection")
    int size = 100;

    @Option(names = "--host", description = "server host")
    String host = "127.0.0.1";

    @Option(names = {"-p", "--port"}, description = "server port")
    int port = 8080;

    @Option(names = "--source", paramLabel = "<addr>", description = "local address to connect from, e.g. 127.0.0.2 "
            + "(each further round, warm-up first, from the next address: a fresh loopback address has all its "
            + "ephemeral ports free, where the default one may still hold thousands in TIME_WAIT)")
    String source;

    @Option(names = {"-c", "--concurrency"}, description = "connections in flight at once (0 = all of them)")
    int concurrency = 0;

    @Option(names = "--timeout", paramLabel = "<ms>",
            description = "how long a connect, or a wait for the echo, may take before it counts as a timeout")
    int timeoutMs = 10_000;

    @Option(names = {"-m", "--mode"}, description = "how the client itself waits: ${COMPLETION-CANDIDATES}")
    Mode mode = Mode.nio;

    @Option(names = "--warmup", description = "unmeasured rounds of N connections before the measured one, so that it "
            + "finds every class loaded and the hot path compiled (-1 = one round with as many in flight as the measured "
            + "one, at least " + AUTO_WARMUP + " connections or all of them)")
    int warmup = -1;

    @Option(names = "--json", description = "print the result as one JSON object instead of text")
    boolean json;

    @Option(names = {"-q", "--quiet"}, description = "no progress line on stderr")
    boolean quiet;

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        var cli = new CommandLine(new EchoClient());
        cli.setParameterExceptionHandler((e, a) -> {
            System.err.println("Error: " + e.getMessage() + " (see --help)");
            return 2;
        });
        System.exit(cli.execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Config config = config();
        if (!Limits.read().allow(config.concurrency(), System.err)) return 1;
        Config warm = warmup == -1 ? config.atMost(Math.max(AUTO_WARMUP, config.concurrency())) : config;
        for (int i = 1; i <= (warmup == -1 ? 1 : warmup); i++) {
            Result r = run(warm);
            warm = warm.nextSource();
            config = config.nextSource();
            if (!quiet) System.err.printf("warm-up round %d: %d connections, %d failed, %.1f ms%n",
                    i, warm.connections(), r.failed(), r.totalMs());
        }
        Result result = run(config);
        var out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        if (json) out.println(JsonMapper.builder().build().writeValueAsString(result));
        else out.print(result.text());
        out.flush();
        return result.failed() == 0 ? 0 : 1;
    }

    /** The validated options. */
    Config config() throws UnknownHostException {
        if (connections < 1) throw usage("connections must be at least 1: " + connections);
        if (size < 1) throw usage("size must be at least 1 byte: " + size);
        if (concurrency < 0) throw usage("concurrency must not be negative: " + concurrency);
        if (timeoutMs < 1) throw usage("timeout must be at least 1 ms: " + timeoutMs);
        if (warmup < -1) throw usage("warmup must be -1 (automatic) or more: " + warmup);
        if (port < 1 || port > 65535) throw usage("port out of range: " + port + " (1-65535)");
        InetAddress address;
        try {
            address = InetAddress.getByName(host);
        } catch (UnknownHostException e) {
            throw usage("unknown host: " + host);
        }
        InetAddress from = null;
        if (source != null) {
            try {
                from = InetAddress.getByName(source);
            } catch (UnknownHostException e) {
                throw usage("unknown source address: " + source);
            }
        }
        int inFlight = concurrency == 0 ? connections : Math.min(concurrency, connections);
        Consumer<Progress> progress = quiet ? null : p -> System.err.printf("progress: %d/%d done, %d in flight, %d failed, %.0f s%n",
                p.done(), p.connections(), p.inFlight(), p.failed(), p.seconds());
        return new Config(new InetSocketAddress(address, port), from, connections, size, inFlight, timeoutMs, mode, progress);
    }

    private ParameterException usage(String message) { return new ParameterException(spec.commandLine(), message); }

    /**
     * The engine: one round of N connections in the configured mode, and its figures. It prints nothing; the
     * progress consumer, if any, hears about the round once a second while it runs. A warm-up is a round whose
     * result the caller drops.
     */
    public static Result run(Config config) throws IOException, InterruptedException {
        var limits = Limits.read();
        long overflowsBefore = Limits.listenOverflows();
        Round round = round(config);
        long overflowsAfter = Limits.listenOverflows();
        return result(config, round, limits, overflowsBefore >= 0 && overflowsAfter >= 0 ? overflowsAfter - overflowsBefore : 0);
    }

    static Round round(Config config) throws IOException, InterruptedException {
        var round = new Round(config.connections());
        long cpuBefore = processCpuNanos();
        Thread progress = config.progress() == null ? null
                : Thread.ofPlatform().daemon().name("progress").start(() -> round.reportProgress(config));
        try {
            switch (config.mode()) {
                case virtual -> new VirtualThreadClients(config, round).run();
                case nio -> new SelectorClient(config, round).run();
            }
        } finally {
            if (progress != null) progress.interrupt();
        }
        long cpuAfter = processCpuNanos();
        round.cpuNanos = cpuBefore < 0 || cpuAfter < 0 ? -1 : cpuAfter - cpuBefore;
        return round;
    }

    public enum Mode { virtual, nio }

    /** One round: where, how many connections (how many in flight at once), how many bytes each, how the client waits. */
    public record Config(InetSocketAddress address, InetAddress source, int connections, int size, int concurrency, int timeoutMs,
                         Mode mode, Consumer<Progress> progress /* about once a second from its own thread; may be null */) {
        /** The same, from the next source address (127.0.0.2 -> 127.0.0.3), if one is set. */
        Config nextSource() throws UnknownHostException {
            if (source == null) return this;
            byte[] a = source.getAddress();
            for (int i = a.length - 1; i >= 0 && ++a[i] == 0; i--) { }
            return new Config(address, InetAddress.getByAddress(a), connections, size, concurrency, timeoutMs, mode, progress);
        }

        /** The same with at most n connections (and at most n in flight). */
        Config atMost(int n) {
            return new Config(address, source, Math.min(n, connections), size, Math.min(n, concurrency), timeoutMs, mode, progress);
        }
    }

    /** How far a round is: connections done of all, in flight now, failed so far, seconds since it began. */
    public record Progress(long done, int connections, long inFlight, long failed, double seconds) {}

    // ---------------------------------------------------------------- the core both modes share

    /** One connection's conversation, the same in both modes: `size` random bytes out, the same bytes back. */
    static final class Exchange {
        final int index;
        final byte[] payload;
        int sent;
        int received;
        long startNs;
        long connectedNs;
        long echoedNs;
        Failure failure;
        String detail;

        Exchange(int index, int size) {
            this.index = index;
            payload = new byte[size];
            ThreadLocalRandom.current().nextBytes(payload);
        }

        /** Bytes to read next: never past the payload, so a server that sends too much is caught as a mismatch. */
        int expected() { return payload.length - received; }

        /** Checks the next echoed bytes against what was sent. */
        void verify(ByteBuffer echoed) throws Failed {
            int n = echoed.remaining();
            int at = echoed.mismatch(ByteBuffer.wrap(payload, received, n));
            if (at >= 0) {
                throw new Failed(Failure.MISMATCH, "byte %d of %d: sent 0x%02x, got back 0x%02x".formatted(
                        received + at, payload.length, payload[received + at], echoed.get(echoed.position() + at)));
            }
            received += n;
        }

        void endOfStream() throws Failed {
            throw new Failed(Failure.SHORT_READ, "the server closed after echoing %d of %d bytes".formatted(received, payload.length));
        }

        void fail(Failure kind, String why) {
            failure = kind;
            detail = why;
        }

        void fail(IOException e) { fail(Failure.of(e, connectedNs != 0), e.toString()); }
    }

    /** A connection failed in a way the client itself detected (a wrong byte, a missing one). */
    static final class Failed extends Exception {
        final Failure kind;

        Failed(Failure kind, String message) {
            super(message, null, false, false);
            this.kind = kind;
        }
    }

    // ---------------------------------------------------------------- the two ways the client waits

    /**
     * virtual: one virtual thread per connection, plain blocking code (connect, write, read, compare, close); the
     * JDK parks the thread at each wait. A semaphore keeps at most `concurrency` in flight.
     */
    record VirtualThreadClients(Config c, Round round) {
        void run() throws InterruptedException {
            var permits = new Semaphore(c.concurrency());
            try (var threads = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("vc-", 1).factory())) {
                round.begin();
                for (int i = 0; i < c.connections(); i++) {
                    permits.acquire();
                    int index = i;
                    threads.execute(() -> {
                        try {
                            exchange(new Exchange(index, c.size()));
                        } finally {
                            permits.release();
                        }
                    });
                }
            }
        }

        private void exchange(Exchange x) {
            round.started.increment();
            x.startNs = System.nanoTime();
            try (var socket = new Socket()) {
                socket.setTcpNoDelay(true);
                if (c.source() != null) socket.bind(new InetSocketAddress(c.source(), 0));
                socket.connect(c.address(), c.timeoutMs());
                x.connectedNs = System.nanoTime();
                socket.setSoTimeout(c.timeoutMs());
                OutputStream out = socket.getOutputStream();
                InputStream in = socket.getInputStream();
                byte[] buffer = new byte[Math.min(c.size(), CHUNK)];
                while (x.sent < c.size()) {
                    int len = Math.min(CHUNK, c.size() - x.sent);
                    out.write(x.payload, x.sent, len);
                    x.sent += len;
                    while (x.received < x.sent - WINDOW) readSome(in, buffer, x);
                }
                while (x.expected() > 0) readSome(in, buffer, x);
                x.echoedNs = System.nanoTime();
            } catch (Failed f) {
                x.fail(f.kind, f.getMessage());
            } catch (IOException e) {
                x.fail(e);
            }
            round.finished(x);
        }

        private static void readSome(InputStream in, byte[] buffer, Exchange x) throws IOException, Failed {
            int n = in.read(buffer, 0, Math.min(buffer.length, x.expected()));
            if (n < 0) x.endOfStream();
            x.verify(ByteBuffer.wrap(buffer, 0, n));
        }
    }

    /**
     * nio: one thread and one Selector drive every connection through connect, write and read, like the C epoll
     * client. No thread per connection; a deadline per connection, checked every 100 ms, makes the timeouts.
     */
    static final class SelectorClient {
        private final Config c;
        private final Round round;
        private final Selector selector;
        private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(WINDOW + CHUNK);
        /** Connections opened between two looks at the selector (the C client does the same). */
        private static final int OPEN_BATCH = 128;
        private final Consumer<SelectionKey> handler = this::handle;
        /**
         * An IPv4 socket for an IPv4 server. SocketChannel.open() makes a dual-stack IPv6 socket (one more setsockopt,
         * IPV6_V6ONLY, and the kernel's IPv6 path with IPv4-mapped addresses for every packet), which the C client
         * does not pay.
         */
        private final ProtocolFamily family;
        /**
         * Finished connections wait here for one select before they are closed. The select deregisters their
         * cancelled keys (epoll_ctl DEL), after which close() is one close(2). A channel closed while still
         * registered costs two more system calls (getsockopt SO_LINGER and shutdown), and its descriptor is only
         * released at the next select anyway.
         */
        private List<SocketChannel> cancelled = new ArrayList<>(), deregistered = new ArrayList<>();
        private int next;
        private int inFlight;

        /** A connection in flight: its channel, its conversation, and when it times out. */
        private static final class Conn {
            final SocketChannel channel;
            final Exchange x;
            long deadlineNs;

            Conn(SocketChannel channel, Exchange x, long deadlineNs) {
                this.channel = channel;
                this.x = x;
                this.deadlineNs = deadlineNs;
            }
        }

        SelectorClient(Config c, Round round) throws IOException {
            this.c = c;
            this.round = round;
            family = c.address().getAddress() instanceof Inet6Address ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET;
            selector = Selector.open();
        }

        void run() throws IOException {
            long timeout = TimeUnit.MILLISECONDS.toNanos(c.timeoutMs());
            long nextScan = System.nanoTime();
            try (selector) {
                round.begin();
                while (next < c.connections() || inFlight > 0) {
                    // Open connections in batches, serving the ones already answered in between: the server
                    // gets work at once, and early connections do not wait for the 10,000th connect().
                    // (Finished channels waiting to be closed still hold their descriptors: they count as in flight.)
                    for (int batch = 0; batch < OPEN_BATCH && descriptors() < c.concurrency() && next < c.connections(); batch++) {
                        open(new Exchange(next++, c.size()), timeout);
                    }
                    if (inFlight == 0) {   // nothing to wait for: release the finished ones at once
                        selector.selectNow();
                        closeDeregistered();
                        closeDeregistered();
                        continue;
                    }
                    if (descriptors() < c.concurrency() && next < c.connections()) selector.selectNow(handler);
                    else selector.select(handler, 100);
                    closeDeregistered();
                    long now = System.nanoTime();
                    if (now - nextScan >= 0) {
                        expire(now);
                        nextScan = now + TimeUnit.MILLISECONDS.toNanos(100);
                    }
                }
            } finally {
                // The selector is closed (and every key deregistered) by now: what is left closes at once.
                closeDeregistered();
                closeDeregistered();
            }
            round.lastCloseNs.accumulate(System.nanoTime());
        }

        private int descriptors() { return inFlight + cancelled.size() + deregistered.size(); }

        /** Closes the channels whose keys a select has deregistered since they were cancelled. */
        private void closeDeregistered() {
            for (SocketChannel ch : deregistered) {
                try {
                    ch.close();
                } catch (IOException e) {
                    // The exchange is already counted: its echo was verified (or its failure recorded) before.
                }
            }
            deregistered.clear();
            var swap = deregistered;
            deregistered = cancelled;
            cancelled = swap;
        }

        private void open(Exchange x, long timeout) {
            round.started.increment();
            inFlight++;
            x.startNs = System.nanoTime();
            SocketChannel ch = null;
            try {
                ch = SocketChannel.open(family);
                ch.configureBlocking(false);
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                if (c.source() != null) ch.bind(new InetSocketAddress(c.source(), 0));
                var conn = new Conn(ch, x, x.startNs + timeout);
                if (ch.connect(c.address())) {
                    x.connectedNs = System.nanoTime();
                    ch.register(selector, SelectionKey.OP_WRITE, conn);
                } else {
                    ch.register(selector, SelectionKey.OP_CONNECT, conn);
                }
            } catch (IOException e) {
                x.fail(e);
                finish(null, ch, x);
            }
        }

        private void handle(SelectionKey key) {
            var conn = (Conn) key.attachment();
            Exchange x = conn.x;
            try {
                if (key.isConnectable()) {
                    conn.channel.finishConnect();
                    x.connectedNs = System.nanoTime();
                    write(key, conn);
                    return;
                }
                if (key.isWritable()) write(key, conn);
                if (key.isReadable()) read(key, conn);
            } catch (Failed f) {
                x.fail(f.kind, f.getMessage());
                finish(key, conn.channel, x);
            } catch (IOException e) {
                x.fail(e);
                finish(key, conn.channel, x);
            }
        }

        private void write(SelectionKey key, Conn conn) throws IOException {
            Exchange x = conn.x;
            int len = Math.min(CHUNK, Math.min(c.size() - x.sent, WINDOW - (x.sent - x.received)));
            if (len > 0) x.sent += conn.channel.write(ByteBuffer.wrap(x.payload, x.sent, len));
            interest(key, x);
        }

        private void read(SelectionKey key, Conn conn) throws IOException, Failed {
            Exchange x = conn.x;
            readBuffer.clear().limit(Math.min(readBuffer.capacity(), x.expected()));
            if (conn.channel.read(readBuffer) < 0) x.endOfStream();
            x.verify(readBuffer.flip());
            conn.deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(c.timeoutMs());
            if (x.expected() == 0) {
                x.echoedNs = System.nanoTime();
                finish(key, conn.channel, x);
            } else {
                interest(key, x);
            }
        }

        /** Always read; write too while there is more to send and the echo is not too far behind. */
        private void interest(SelectionKey key, Exchange x) {
            boolean more = x.sent < c.size() && x.sent - x.received < WINDOW;
            key.interestOps(SelectionKey.OP_READ | (more ? SelectionKey.OP_WRITE : 0));
        }

        private void expire(long now) {
            for (SelectionKey key : selector.keys()) {
                if (!key.isValid() || !(key.attachment() instanceof Conn conn) || now - conn.deadlineNs < 0) continue;
                conn.x.fail(conn.x.connectedNs == 0 ? Failure.CONNECT_TIMEOUT : Failure.READ_TIMEOUT,
                        "no progress within " + c.timeoutMs() + " ms");
                finish(key, conn.channel, conn.x);
            }
        }

        private void finish(SelectionKey key, SocketChannel ch, Exchange x) {
            if (key != null) {
                key.cancel();
                cancelled.add(ch);
            } else if (ch != null) {
                try {
                    ch.close();
                } catch (IOException e) {
                    if (x.failure == null) x.fail(e);
                }
            }
            inFlight--;
            round.finished(x);
        }
    }

    // ---------------------------------------------------------------- what a round measured, and how it is reported

    /** What one round measured: per-connection times in nanoseconds (0 for a failed connection), failures by kind. */
    static final class Round {
        final long[] connectNs;
        final long[] roundTripNs;
        final long[] latencyNs;
        final Map<Failure, LongAdder> failures = new EnumMap<>(Failure.class);
        final Map<Failure, String> examples = new ConcurrentHashMap<>();
        final LongAdder started = new LongAdder();
        final LongAdder finished = new LongAdder();
        final LongAdder failed = new LongAdder();
        final LongAccumulator lastCloseNs = new LongAccumulator(Math::max, Long.MIN_VALUE);
        long firstConnectNs;
        long cpuNanos;   // process CPU time over the round, -1 if unknown

        Round(int n) {
            connectNs = new long[n];
            roundTripNs = new long[n];
            latencyNs = new long[n];
            for (Failure f : Failure.values()) failures.put(f, new LongAdder());
        }

        void begin() { firstConnectNs = System.nanoTime(); }

        /** The connection is closed: record its times, or its failure. */
        void finished(Exchange x) {
            long closedNs = System.nanoTime();
            if (x.failure == null) {
                connectNs[x.index] = x.connectedNs - x.startNs;
                roundTripNs[x.index] = x.echoedNs - x.connectedNs;
                latencyNs[x.index] = Math.max(1, x.echoedNs - x.startNs);
            } else {
                failures.get(x.failure).increment();
                examples.putIfAbsent(x.failure, x.detail);
                failed.increment();
            }
            lastCloseNs.accumulate(closedNs);
            finished.increment();
        }

        long totalNanos() { return lastCloseNs.get() - firstConnectNs; }

        long failedCount() { return failed.sum(); }

        /** Runs on its own thread: tells c.progress() how far the round is, once a second until interrupted. */
        void reportProgress(Config c) {
            long begin = System.nanoTime();
            try {
                while (true) {
                    Thread.sleep(1000);
                    long done = finished.sum();
                    c.progress().accept(new Progress(done, c.connections(), started.sum() - done, failed.sum(), (System.nanoTime() - begin) / 1e9));
                }
            } catch (InterruptedException e) {
                // The round is over.
            }
        }
    }

    /** What went wrong with a connection, and what to do about it. */
    public enum Failure {
        MISMATCH("mismatch", "the server sent back other bytes than it received"),
        SHORT_READ("short read", "the server closed the connection before it had echoed every byte"),
        REFUSED("refused", "nothing listens on that port, or the server's listen queue overflowed while "
                + "net.ipv4.tcp_abort_on_overflow=1: raise the server's --backlog and net.core.somaxconn"),
        RESET("reset", "the server reset the connection: it crashed, closed with unread data, or dropped it (a "
                + "listen queue overflow does that to a few connections: see the overflow hint if there is one)"),
        CONNECT_TIMEOUT("connect timeout", "no answer to the SYN within --timeout: the server's listen queue was "
                + "full (raise its --backlog, and sysctl net.core.somaxconn and net.ipv4.tcp_max_syn_backlog) or it "
                + "stopped accepting"),
        READ_TIMEOUT("read timeout", "connected, but the echo did not come back within --timeout"),
        TOO_MANY_OPEN_FILES("too many open files", "this process hit its open-files limit (EMFILE): raise it with "
                + "'ulimit -n 65536' in the shell that starts the client (the hard limit is in "
                + "/etc/security/limits.conf), or lower -c"),
        NO_EPHEMERAL_PORT("no ephemeral port", "every local port towards this server is taken (EADDRNOTAVAIL), "
                + "many by closed connections in TIME_WAIT for 60 s: widen net.ipv4.ip_local_port_range (e.g. "
                + "sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"), or lower -n, or wait a minute"),
        OTHER("other", "unexpected: see the example");

        final String label;
        final String hint;

        Failure(String label, String hint) {
            this.label = label;
            this.hint = hint;
        }

        /** Names the kind of an I/O error by what the OS said. */
        static Failure of(IOException e, boolean connected) {
            String m = String.valueOf(e.getMessage());
            if (e instanceof SocketTimeoutException || m.contains("timed out")) return connected ? READ_TIMEOUT : CONNECT_TIMEOUT;
            if (m.contains("Too many open files")) return TOO_MANY_OPEN_FILES;
            if (m.contains("Cannot assign requested address")) return NO_EPHEMERAL_PORT;
            if (e instanceof ConnectException || m.contains("Connection refused")) return REFUSED;
            if (m.contains("reset") || m.contains("Broken pipe")) return RESET;
            return OTHER;
        }
    }

    /** Latency figures in microseconds. */
    public record Percentiles(double p50, double p90, double p99, double max, double mean) {}

    /** The figures of a round, as printed (text or --json). */
    public record Result(String client, String mode, String host, int port, int connections, int size, int concurrency,
                         double totalMs, double cpuMs, double avgLatencyUs, Percentiles latencyUs, Percentiles connectUs,
                         Percentiles roundTripUs, double connectionsPerSecond, double megabytesPerSecond,
                         long ok, long failed, Map<String, Long> failures, Map<String, String> examples,
                         List<String> hints) {

        String text() {
            var b = new StringBuilder();
            b.append("Java: %d clients, total time = %.1f ms, avg latency = %.1f µs%n".formatted(connections, totalMs, avgLatencyUs));
            b.append("latency (connect to verified echo): p50 = %.0f µs, p90 = %.0f µs, p99 = %.0f µs, max = %.0f µs%n"
                    .formatted(latencyUs.p50(), latencyUs.p90(), latencyUs.p99(), latencyUs.max()));
            b.append("connect: p50 = %.0f µs, p99 = %.0f µs, max = %.0f µs; round trip: p50 = %.0f µs, p99 = %.0f µs, max = %.0f µs%n"
                    .formatted(connectUs.p50(), connectUs.p99(), connectUs.max(), roundTripUs.p50(), roundTripUs.p99(), roundTripUs.max()));
            b.append("throughput: %.0f connections/s, %.2f MB/s echoed (%d × %d bytes, %s client, %d in flight, %s:%d)%n"
                    .formatted(connectionsPerSecond, megabytesPerSecond, connections, size, mode, concurrency, host, port));
            b.append("cpu: %.0f ms of this process during the round (every thread, user and system; -1: unknown)%n".formatted(cpuMs));
            b.append("failed: %d of %d".formatted(failed, connections));
            if (!failures.isEmpty()) {
                var kinds = new ArrayList<String>();
                failures.forEach((k, v) -> kinds.add(k + " " + v));
                b.append(" (").append(String.join(", ", kinds)).append(')');
            }
            b.append('\n');
            failures.keySet().forEach(k -> b.append("  %s, e.g.: %s%n".formatted(k, examples.get(k))));
            hints.forEach(h -> b.append("  hint: ").append(h).append('\n'));
            return b.toString();
        }
    }

    static Result result(Config c, Round round, Limits limits, long listenOverflows) {
        Histogram latency = new Histogram(3), connect = new Histogram(3), roundTrip = new Histogram(3);
        long slowConnects = 0;
        for (int i = 0; i < c.connections(); i++) {
            if (round.latencyNs[i] == 0) continue;
            latency.recordValue(round.latencyNs[i]);
            connect.recordValue(round.connectNs[i]);
            roundTrip.recordValue(round.roundTripNs[i]);
            if (round.connectNs[i] >= 1_000_000_000L) slowConnects++;
        }
        var failures = new LinkedHashMap<String, Long>();
        var examples = new LinkedHashMap<String, String>();
        var hints = new ArrayList<String>();
        for (Failure f : Failure.values()) {
            long count = round.failures.get(f).sum();
            if (count == 0) continue;
            failures.put(f.label, count);
            examples.put(f.label, round.examples.get(f));
            String extra = switch (f) {
                case TOO_MANY_OPEN_FILES -> " (now " + limits.openFiles() + ")";
                case NO_EPHEMERAL_PORT -> " (now " + limits.portRange() + ")";
                case MISMATCH, SHORT_READ, REFUSED, RESET, CONNECT_TIMEOUT, READ_TIMEOUT, OTHER -> "";
            };
            hints.add(f.label + ": " + f.hint + extra);
        }
        if (listenOverflows > 0) {
            hints.add(("the kernel counted %d listen queue overflows during the run (TcpExt ListenOverflows, host-wide): "
                    + "the server's accept queue was full; raise its --backlog and net.core.somaxconn (now %d)")
                    .formatted(listenOverflows, limits.somaxconn()));
        }
        if (slowConnects > 0) {
            hints.add(("%d connects took over 1 s: a SYN was dropped and retransmitted, which is what a full listen "
                    + "queue does; raise the server's --backlog and net.core.somaxconn (now %d)")
                    .formatted(slowConnects, limits.somaxconn()));
        }
        long ok = latency.getTotalCount();
        double seconds = round.totalNanos() / 1e9;
        return new Result("Java", c.mode().name(), c.address().getAddress().getHostAddress(), c.address().getPort(),
                c.connections(), c.size(), c.concurrency(), round.totalNanos() / 1e6, round.cpuNanos < 0 ? -1 : round.cpuNanos / 1e6,
                ok == 0 ? 0 : latency.getMean() / 1e3, percentiles(latency), percentiles(connect), percentiles(roundTrip),
                c.connections() / seconds, ok * (double) c.size() / seconds / 1e6, ok, round.failedCount(),
                failures, examples, hints);
    }

    static Percentiles percentiles(Histogram h) {
        if (h.getTotalCount() == 0) return new Percentiles(0, 0, 0, 0, 0);
        return new Percentiles(h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(90) / 1e3,
                h.getValueAtPercentile(99) / 1e3, h.getMaxValue() / 1e3, h.getMean() / 1e3);
    }

    // ---------------------------------------------------------------- small infrastructure

    /** CPU time this process has used so far, every thread, user and system (-1 if the JVM cannot say). */
    static long processCpuNanos() {
        return ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getProcessCpuTime() : -1;
    }

    /** What the OS allows this process (Linux /proc; -1 or "?" where unknown). */
    record Limits(long openFiles, long openFilesHard, String portRange, int ephemeralPorts, int somaxconn) {
        static Limits read() {
            long soft = -1, hard = -1;
            for (String line : lines(Path.of("/proc/self/limits"))) {
                if (!line.startsWith("Max open files")) continue;
                String[] f = line.substring("Max open files".length()).trim().split("\\s+");
                soft = parseLimit(f[0]);
                hard = parseLimit(f[1]);
            }
            String range = String.join(" ", lines(Path.of("/proc/sys/net/ipv4/ip_local_port_range"))).trim().replaceAll("\\s+", " ");
            int ports = -1;
            String[] r = range.split(" ");
            if (r.length == 2) ports = Integer.parseInt(r[1]) - Integer.parseInt(r[0]) + 1;
            List<String> max = lines(Path.of("/proc/sys/net/core/somaxconn"));
            int somaxconn = max.isEmpty() ? -1 : Integer.parseInt(max.getFirst().trim());
            return new Limits(soft, hard, range.isEmpty() ? "?" : range, ports, somaxconn);
        }

        /** Says on `err` what stands in the way of `inFlight` connections at once; false if they cannot work at all. */
        boolean allow(int inFlight, PrintStream err) {
            if (openFiles >= 0 && openFiles < inFlight + FD_MARGIN) {
                err.printf("Error: open files limit too low: %d for %d connections at once (raise it with 'ulimit -n %d'"
                                + " in this shell%s, or lower -c)%n", openFiles, inFlight, inFlight + FD_MARGIN,
                        openFilesHard < inFlight + FD_MARGIN
                                ? "; the hard limit " + openFilesHard + " is set in /etc/security/limits.conf" : "");
                return false;
            }
            if (ephemeralPorts > 0 && inFlight > ephemeralPorts) {
                err.printf("Warning: %d connections at once but only %d ephemeral ports (net.ipv4.ip_local_port_range = %s):"
                        + " expect 'no ephemeral port' failures%n", inFlight, ephemeralPorts, portRange);
            }
            return true;
        }

        private static long parseLimit(String s) { return s.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(s); }

        /** TcpExt ListenOverflows so far (host-wide, from /proc/net/netstat), or -1 if unknown. */
        static long listenOverflows() {
            List<String> l = lines(Path.of("/proc/net/netstat"));
            for (int i = 0; i + 1 < l.size(); i += 2) {
                if (!l.get(i).startsWith("TcpExt:")) continue;
                List<String> names = List.of(l.get(i).split("\\s+"));
                int at = names.indexOf("ListenOverflows");
                return at < 0 ? -1 : Long.parseLong(l.get(i + 1).split("\\s+")[at]);
            }
            return -1;
        }

        private static List<String> lines(Path p) {
            try {
                return Files.readAllLines(p);
            } catch (IOException e) {
                return List.of();
            }
        }
    }
}
