///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//DESCRIPTION Opens N keep-alive connections, one request and its answer on each, then holds them idle.

// IdleClient: the C10K question's client. It opens N connections to a server on this machine from several loopback
// source addresses (127.0.0.2, 127.0.0.3, ...: each address has its own ~28,000 ephemeral ports), sends one request
// on each (HTTP `GET /health`, an echo of 100 bytes, or a PrimeEchoServer frame), reads its whole answer, and then
// holds every connection open and idle until its standard input ends (or Ctrl-C). One thread and one Selector do it.
// Run:   java compare/IdleClient.java -p 3000 -n 9000                    (HTTP; prints "holding 9000 ..." when ready)
//        prlimit --nofile=20000 java compare/IdleClient.java -p 8080 -n 9000 --protocol echo
// Watch: each connection needs a file descriptor. The JVM raises its soft open-files limit to the hard one at start;
//        if that is too low it says which limit it met and exits 1 (raise it with `prlimit --nofile=N` or ulimit -n).
// bench/idle-connections.sh runs it as a program; Compare's idle-connections experiment and the tests call open().

import com.sun.management.UnixOperatingSystemMXBean;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

public final class IdleClient {
    /** Connections per loopback source address (each address has 32768-60999, ~28,000 ephemeral ports). */
    static final int PER_SOURCE = 5_000;
    /** Connects in flight at once: enough to be quick, few enough not to overflow a listen queue of 4096. */
    static final int IN_FLIGHT = 1_000;
    /** Descriptors the JVM itself needs beside the connections (jars, the selector, stdio). */
    static final int SPARE_FILES = 64;

    /** What to send on each connection, and how to know its answer is complete. */
    public enum Protocol {
        http("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        echo("0123456789".repeat(10)),
        prime("^hello$");

        final byte[] request;

        Protocol(String request) { this.request = request.getBytes(StandardCharsets.ISO_8859_1); }

        /** True once `got` holds a complete answer to one request (and, for prime, the greeting of a new connection). */
        boolean complete(byte[] got, int n, boolean connected) {
            return switch (this) {
                case echo -> n >= request.length;
                case prime -> n >= (connected ? "*ifmmp" : "ifmmp").length();   // '*' on connect; "hello", each byte + 1
                case http -> {
                    int end = indexOf(got, n, "\r\n\r\n");
                    if (end < 0) yield false;
                    String head = new String(got, 0, end, StandardCharsets.ISO_8859_1).toLowerCase();
                    int at = head.indexOf("\ncontent-length:");
                    int length = at < 0 ? 0 : Integer.parseInt(head.substring(at + 16, head.indexOf('\n', at + 16) < 0 ? head.length()
                            : head.indexOf('\n', at + 16)).trim());
                    yield n >= end + 4 + length;
                }
            };
        }
    }

    /**
     * N connections to `server` from `sources` loopback addresses starting at 127.0.0.`firstSource`; 0: from whatever
     * source the kernel picks (for short-lived connections: it reuses a port in TIME_WAIT, which bind() would not).
     */
    public record Config(InetSocketAddress server, int connections, Protocol protocol, int firstSource, Duration timeout) {
        public Config {
            if (connections < 0) throw new IllegalArgumentException("connections must not be negative: " + connections);
            int sources = (connections + PER_SOURCE - 1) / PER_SOURCE;
            if (firstSource != 0 && (firstSource < 2 || firstSource + sources > 255))
                throw new IllegalArgumentException("source addresses 127.0.0." + firstSource + " and up: out of 127.0.0.2-254");
        }

        public Config(int port, int connections, Protocol protocol) {
            this(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), connections, protocol, 2, Duration.ofSeconds(60));
        }
    }

    /** A connection that could not be opened or answered, and why; a run that met a limit stops at the first. */
    public static final class LimitMet extends IOException {
        public final int opened;

        LimitMet(String message, int opened) { super(message); this.opened = opened; }
    }

    /** The open connections; close() closes them all. */
    public static final class Held implements AutoCloseable {
        private final List<SocketChannel> channels;
        private final Config config;

        Held(List<SocketChannel> channels, Config config) { this.channels = channels; this.config = config; }

        public int size() { return channels.size(); }

        /** Sends one more request on every held connection and reads every answer; returns how many were answered. */
        public int requestEach() throws IOException {
            return exchange(config, channels, false);
        }

        /** How many held connections the server has closed (a read returns end-of-stream); they stay counted as held. */
        public int closedByServer() throws IOException {
            int closed = 0;
            ByteBuffer one = ByteBuffer.allocate(1);
            for (SocketChannel ch : channels) {
                one.clear();
                if (ch.read(one) < 0) closed++;
            }
            return closed;
        }

        @Override public void close() {
            for (SocketChannel ch : channels) {
                try {
                    ch.close();
                } catch (IOException e) {
                    System.err.println("IdleClient: close failed: " + e);
                }
            }
        }
    }

    /**
     * A server's warm-up: `rounds` times, opens `perRound` connections, one request and answer on each, and closes
     * them. Its JIT then has compiled what each new connection runs, as in a server that has been running for a
     * while; few at a time, they die young, so the server's heap does not grow for them. From the kernel's ports.
     * Returns how many were answered (all of them: a connection not answered throws).
     */
    public static long warmUp(InetSocketAddress server, Protocol protocol, int perRound, int rounds) throws IOException {
        var shortLived = new Config(server, perRound, protocol, 0, Duration.ofSeconds(60));
        long answered = 0;
        for (int r = 0; r < rounds; r++) {
            try (var held = open(shortLived)) {
                answered += held.size();
            }
        }
        return answered;
    }

    /** Opens the connections, one request and answer on each; throws LimitMet (with the limit named) if it cannot. */
    public static Held open(Config config) throws IOException {
        long limit = openFilesLimit();
        if (limit > 0 && config.connections() + SPARE_FILES > limit)
            throw new LimitMet("the open-files limit of this process is " + limit + ", and " + config.connections()
                    + " connections need about " + (config.connections() + SPARE_FILES)
                    + " (run it under `prlimit --nofile=" + (config.connections() + 2 * SPARE_FILES) + "`, or raise ulimit -n)", 0);
        var channels = new ArrayList<SocketChannel>(config.connections());
        try {
            exchange(config, channels, true);
        } catch (IOException | RuntimeException e) {
            new Held(channels, config).close();
            throw e;
        }
        return new Held(channels, config);
    }

    /**
     * One request and its answer on each connection, all at once on one Selector: opens `config.connections()` new ones
     * first if `connect` (adding them to `channels`). Returns the number answered; throws if any is not.
     */
    static int exchange(Config config, List<SocketChannel> channels, boolean connect) throws IOException {
        int total = connect ? config.connections() : channels.size();
        long deadline = System.nanoTime() + config.timeout().toNanos();
        byte[] got = new byte[64 * 1024];
        ByteBuffer in = ByteBuffer.wrap(got);
        try (Selector selector = Selector.open()) {
            int started = 0, answered = 0, inFlight = 0;
            while (answered < total) {
                // Start more, up to IN_FLIGHT at once.
                while (started < total && inFlight < IN_FLIGHT) {
                    SocketChannel ch;
                    if (connect) {
                        ch = connect(config, started);
                        channels.add(ch);
                    } else {
                        ch = channels.get(started);
                        ch.configureBlocking(false);
                    }
                    var state = new Exchange(config.protocol().request);
                    ch.register(selector, connect ? SelectionKey.OP_CONNECT : SelectionKey.OP_WRITE, state);
                    started++;
                    inFlight++;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0)
                    throw new LimitMet("timed out after " + config.timeout().toSeconds() + " s with " + answered + " of " + total
                            + " answered (is the server accepting? a listen queue full? a pool of -w threads busy?)", answered);
                selector.select(Math.max(1, left / 1_000_000));
                for (var key : selector.selectedKeys()) {
                    var ch = (SocketChannel) key.channel();
                    var x = (Exchange) key.attachment();
                    try {
                        if (key.isConnectable()) {
                            ch.finishConnect();
                            key.interestOps(SelectionKey.OP_WRITE);
                        } else if (key.isWritable()) {
                            ch.write(x.request);
                            if (!x.request.hasRemaining()) key.interestOps(SelectionKey.OP_READ);
                        } else if (key.isReadable()) {
                            in.clear();
                            int n = ch.read(in);
                            if (n < 0) throw new IOException("closed by the server before its answer was complete");
                            x.append(got, n);
                            if (config.protocol().complete(x.got, x.n, connect)) {
                                key.cancel();
                                answered++;
                                inFlight--;
                            }
                        }
                    } catch (IOException e) {
                        throw new LimitMet("connection " + (channels.indexOf(ch) + 1) + " of " + total + " failed after "
                                + answered + " were answered: " + e.getMessage() + hint(e), answered);
                    }
                }
                selector.selectedKeys().clear();
            }
            selector.selectNow();   // deregisters the cancelled keys, so the channels can go back to blocking mode
            for (SocketChannel ch : channels) ch.configureBlocking(true);
            return answered;
        }
    }

    /** Connection i, from source address 127.0.0.(firstSource + i / PER_SOURCE), connecting (non-blocking). */
    private static SocketChannel connect(Config config, int i) throws IOException {
        var source = config.firstSource() == 0 ? null : InetAddress.getByAddress(new byte[]{127, 0, 0, (byte) (config.firstSource() + i / PER_SOURCE)});
        SocketChannel ch;
        try {
            ch = SocketChannel.open();
        } catch (IOException e) {
            throw new LimitMet("cannot open connection " + (i + 1) + ": " + e.getMessage() + hint(e), i);
        }
        try {
            ch.configureBlocking(false);
            if (source != null) ch.bind(new InetSocketAddress(source, 0));
            ch.connect(config.server());
            return ch;
        } catch (IOException e) {
            ch.close();
            throw new LimitMet("cannot open connection " + (i + 1) + (source == null ? "" : " from " + source.getHostAddress()) + ": "
                    + e.getMessage() + hint(e), i);
        }
    }

    /** The bytes of one request still to send, and of its answer so far. */
    private static final class Exchange {
        final ByteBuffer request;
        byte[] got = new byte[0];
        int n;

        Exchange(byte[] request) { this.request = ByteBuffer.wrap(request); }

        /** The buffer a read filled is shared by every connection: this one's bytes are copied out. */
        void append(byte[] read, int count) throws IOException {
            if (n + count > 64 * 1024) throw new IOException("answer longer than 64 KB");
            if (got.length < n + count) got = Arrays.copyOf(got, Math.max(n + count, 2 * got.length));
            System.arraycopy(read, 0, got, n, count);
            n += count;
        }
    }

    /** Says which limit an error means, when it means one. */
    static String hint(IOException e) {
        String m = String.valueOf(e.getMessage());
        if (m.contains("Too many open files"))
            return " (the open-files limit: " + openFilesLimit() + "; run it under `prlimit --nofile=N`, or raise ulimit -n)";
        if (m.contains("Cannot assign requested address") || m.contains("Address already in use"))
            return " (out of ephemeral ports for that source address: see /proc/sys/net/ipv4/ip_local_port_range)";
        if (m.contains("Connection refused")) return " (nobody listens there)";
        if (m.contains("Connection reset")) return " (the server reset it: out of descriptors or memory there?)";
        return "";
    }

    static int indexOf(byte[] a, int n, String s) {
        outer:
        for (int i = 0; i + s.length() <= n; i++) {
            for (int j = 0; j < s.length(); j++) if (a[i + j] != s.charAt(j)) continue outer;
            return i;
        }
        return -1;
    }

    /** This process's open-files limit (the JVM raised its soft limit to the hard one at start), or -1. */
    static long openFilesLimit() {
        return ManagementFactory.getOperatingSystemMXBean() instanceof UnixOperatingSystemMXBean u ? u.getMaxFileDescriptorCount() : -1;
    }

    /** A command line it cannot run: one line on stderr, exit 2. */
    private static void usageError(String what) {
        System.err.println("Error: " + what + " (see --help)");
        System.exit(2);
    }

    public static void main(String[] args) throws Exception {
        int port = -1, n = 1000, first = 2, rounds = 0;
        var protocol = Protocol.http;
        for (int i = 0; i < args.length; i++) {
            String option = args[i];
            if (option.equals("-h") || option.equals("--help")) {
                System.out.println("Usage: java compare/IdleClient.java -p PORT [-n 1000] [--protocol http|echo|prime] [--first-source 2] [--rounds R]");
                System.out.println("  --rounds R: do not hold; open -n connections, one request and answer on each, close them, R times, and exit");
                System.out.println("              (a warm-up: the server's JIT compiles its per-connection path; few at a time, so they die young)");
                return;
            }
            if (!List.of("-p", "--port", "-n", "--connections", "--protocol", "--first-source", "--rounds").contains(option))
                usageError("unknown argument: " + option);
            if (++i == args.length) usageError(option + " needs a value");
            String value = args[i];
            try {
                switch (option) {
                    case "-p", "--port" -> port = Integer.parseInt(value);
                    case "-n", "--connections" -> n = Integer.parseInt(value);
                    case "--protocol" -> protocol = Protocol.valueOf(value);
                    case "--first-source" -> first = Integer.parseInt(value);
                    default -> rounds = Integer.parseInt(value);
                }
            } catch (IllegalArgumentException e) {
                usageError(option + " " + value + ": not " + (option.equals("--protocol") ? "http, echo or prime" : "a whole number"));
            }
        }
        if (port < 1) usageError("-p PORT is required");
        if (rounds < 0) usageError("--rounds must not be negative: " + rounds);
        long start = System.nanoTime();
        Config config = null;
        try {
            config = new Config(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), n, protocol, first, Duration.ofSeconds(120));
        } catch (IllegalArgumentException e) {
            usageError(e.getMessage());
        }
        Held held;
        try {
            if (rounds > 0) {
                long answered = warmUp(config.server(), protocol, n, rounds);
                System.out.printf("opened, answered and closed %d connections in %d rounds of %d, in %d ms%n",
                        answered, rounds, n, (System.nanoTime() - start) / 1_000_000);
                return;
            }
            held = open(config);
        } catch (LimitMet e) {
            System.err.println("Error: opened " + e.opened + " of " + n + ": " + e.getMessage());
            System.exit(1);
            return;
        }
        System.out.printf("holding %d idle connections (each answered once, in %d ms); close stdin to end%n",
                held.size(), (System.nanoTime() - start) / 1_000_000);
        System.out.flush();
        while (System.in.read() >= 0) { }
        held.close();
    }
}
