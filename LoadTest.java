///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//DEPS info.picocli:picocli:4.7.7
//DEPS tools.jackson.core:jackson-databind:3.3.0
//DEPS org.hdrhistogram:HdrHistogram:2.2.2
//DESCRIPTION An HTTP/1.1 load generator with honest latency (closed or open loop), plus burst and send.

// LoadTest: wrk's job done with honest figures, in one file. `run` keeps -c HTTP/1.1 connections busy, either in a
// closed loop (each connection sends its next request when the answer arrives: the server sets the pace) or in an
// open loop at a fixed -R rate (requests leave on a schedule; latency counts from when each request SHOULD have left,
// so a stalled server cannot hide its stall: coordinated omission corrected, as wrk2 does). Every response is checked
// by a byte-level parser; every fault is counted by kind; the generator says when it was the bottleneck itself.
//   ./jbang ThreadedHttpServer.java -m nio -q -p 8080       then, in another terminal:
//   ./jbang LoadTest.java -c 50 -d 10s http://127.0.0.1:8080/health            (closed loop, like wrk)
//   ./jbang LoadTest.java -R 2000 -d 10s http://127.0.0.1:8080/io?ms=5        (open loop, like wrk2)
//   ./jbang LoadTest.java --mode virtual --json ...                           (a virtual thread per connection)
//   ./jbang LoadTest.java burst -i -nc 4 127.0.0.1 8080   (the from-scratch web server's test_my_server)
//   ./jbang LoadTest.java send 127.0.0.1 8080 'GET / HTTP/1.1\r\nHost: x\r\n'   (its send_to_server)
// Watch: in open loop the "latency" row against the "service time" row: their gap is the time requests spent
// waiting to be sent because the server was slow. `generator:` says how busy this tool was.
// The engine (LoadTest.run(Config) -> Result) prints nothing; Compare.java calls it through //SOURCES.

// The file, in order:
//   LoadTest              the command: run is the default subcommand; exit statuses 0, 1 (the target failed), 2
//   the engines' API      Mode, Config, Result and its parts; run(Config) -> Result; burst(...) -> BurstResult
//   the protocol core     Target (every request encoded once), ResponseParser (bytes in, RFC 9112), exchange()
//   the virtual model     VirtualThreadConnection: a virtual thread per connection, plain blocking code
//   the event-loop model  NioEventLoop (a Selector per thread) and NioConnection (connect, write, read, handle, close)
//   the engine            Engine: the schedule, the counters and the once-a-second collector both models share
//   the subcommands       run, burst, send, merge: thin command lines around the engines
//   the report            text (wrk's layout) and --json; then small infrastructure (durations, send's escapes)

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogReader;
import org.HdrHistogram.HistogramLogWriter;
import org.HdrHistogram.IntervalHistogramProvider;
import org.HdrHistogram.Recorder;
import org.HdrHistogram.SingleWriterRecorder;
import org.HdrHistogram.ValueRecorder;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import tools.jackson.databind.json.JsonMapper;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.StandardSocketOptions;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

@Command(name = "LoadTest", mixinStandardHelpOptions = true, version = "LoadTest 1",
        subcommands = {LoadTest.RunCommand.class, LoadTest.BurstCommand.class, LoadTest.SendCommand.class,
                LoadTest.MergeCommand.class, CommandLine.HelpCommand.class},
        description = "An HTTP/1.1 load generator (run, the default), the from-scratch web server's test_my_server "
                + "(burst) and send_to_server (send). `LoadTest URL...` is `LoadTest run URL...`.")
public class LoadTest {
    /** File descriptors the JVM itself needs besides the connections. */
    static final int FD_MARGIN = 64;
    /** Bytes read from a socket at a time (one buffer per event loop, or per virtual-thread connection). */
    static final int READ_BUFFER_BYTES = 64 * 1024;
    static final int VIRTUAL_READ_BUFFER_BYTES = 8 * 1024;
    /** How long a connection that could not connect waits before it tries again (a refused port must not spin). */
    static final long RECONNECT_BACKOFF_NS = TimeUnit.MILLISECONDS.toNanos(100);
    /** How often an event loop looks for requests past their --timeout. */
    static final long TIMEOUT_SCAN_NS = TimeUnit.MILLISECONDS.toNanos(10);
    /** "Generator saturated" when its threads were busy at least this share of the measured time. */
    static final double SATURATED_BUSY_SHARE = 0.9;
    /** The reached rate may fall this far short of -R before the report warns. */
    static final double RATE_SHORTFALL_WARNING = 0.05;

    public static void main(String[] args) { System.exit(execute(args)); }

    /** The command line, without System.exit: returns the exit status (0 ok, 1 the target failed, 2 usage). */
    static int execute(String... args) {
        // `run` is the default subcommand: anything that is not a subcommand or a top-level flag goes to it.
        var top = List.of("run", "burst", "send", "merge", "-h", "--help", "-V", "--version", "help");
        if (args.length == 0 || !top.contains(args[0])) {
            var withRun = new String[args.length + 1];
            withRun[0] = "run";
            System.arraycopy(args, 0, withRun, 1, args.length);
            args = withRun;
        }
        var cli = new CommandLine(new LoadTest());
        cli.setParameterExceptionHandler((e, a) -> {
            System.err.println("Error: " + e.getMessage() + " (see --help)");
            return 2;
        });
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof TargetFailed t) {
                System.err.println("Error: " + t.getMessage());
                return 1;
            }
            throw e;
        });
        return cli.execute(args);
    }

    /** The target could not be reached or used: one `Error:` line and exit status 1. */
    static final class TargetFailed extends Exception {
        TargetFailed(String message) { super(message, null, false, false); }
    }

    // ---------------------------------------------------------------- the engines' API (used by Compare.java)

    /** How the generator waits: one Selector loop per thread (like wrk), or a blocking virtual thread per connection. */
    public enum Mode { nio, virtual }

    public record Config(List<URI> urls, int connections, int threads, Mode mode,
                         Duration duration,        // null when `requests` bounds the run
                         long requests,            // 0 when `duration` bounds the run
                         Duration warmup,          // Duration.ZERO for none
                         double rate,              // requests/s for open loop; 0 = closed loop
                         boolean keepAlive, String method, List<Map.Entry<String, String>> headers, byte[] body,
                         Duration timeout,
                         Path hdrLog,              // null = none
                         Consumer<Progress> progress /* about once a second from a non-worker thread; may be null */) {
        /** 50 keep-alive connections, 1 thread, nio, 10 s, closed loop, GET, 10 s timeout. */
        public static Config of(URI url) {
            return new Config(List.of(url), 50, 1, Mode.nio, Duration.ofSeconds(10), 0, Duration.ZERO, 0, true, "GET",
                    List.of(), new byte[0], Duration.ofSeconds(10), null, null);
        }

        public Config withConnections(int n) { return new Config(urls, n, threads, mode, duration, requests, warmup, rate, keepAlive, method, headers, body, timeout, hdrLog, progress); }
        public Config withDuration(Duration d) { return new Config(urls, connections, threads, mode, d, 0, warmup, rate, keepAlive, method, headers, body, timeout, hdrLog, progress); }
        public Config withRequests(long n) { return new Config(urls, connections, threads, mode, null, n, warmup, rate, keepAlive, method, headers, body, timeout, hdrLog, progress); }
        public Config withWarmup(Duration d) { return new Config(urls, connections, threads, mode, duration, requests, d, rate, keepAlive, method, headers, body, timeout, hdrLog, progress); }
        public Config withRate(double r) { return new Config(urls, connections, threads, mode, duration, requests, warmup, r, keepAlive, method, headers, body, timeout, hdrLog, progress); }
        public Config withMode(Mode m) { return new Config(urls, connections, threads, m, duration, requests, warmup, rate, keepAlive, method, headers, body, timeout, hdrLog, progress); }
        public Config withThreads(int t) { return new Config(urls, connections, t, mode, duration, requests, warmup, rate, keepAlive, method, headers, body, timeout, hdrLog, progress); }
        public Config withTimeout(Duration t) { return new Config(urls, connections, threads, mode, duration, requests, warmup, rate, keepAlive, method, headers, body, t, hdrLog, progress); }
        public Config withKeepAlive(boolean k) { return new Config(urls, connections, threads, mode, duration, requests, warmup, rate, k, method, headers, body, timeout, hdrLog, progress); }
        public Config withHdrLog(Path p) { return new Config(urls, connections, threads, mode, duration, requests, warmup, rate, keepAlive, method, headers, body, timeout, p, progress); }
        public Config withProgress(Consumer<Progress> p) { return new Config(urls, connections, threads, mode, duration, requests, warmup, rate, keepAlive, method, headers, body, timeout, hdrLog, p); }
    }

    public record Progress(Duration elapsed, long requests, double currentRps, long errors) {}

    /** Milliseconds. */
    public record Latency(double p50, double p75, double p90, double p99, double p999, double p9999, double max, double mean) {}

    public record Errors(long connect, long read, long write, long timeout, long reset, long malformed) {
        public long total() { return connect + read + write + timeout + reset + malformed; }
    }

    public record Result(String url, boolean openLoop, int connections, double durationS, long requests, double rps,
                         double targetRps, double bytesPerS, Latency latency, Latency serviceTime /* null in closed loop */,
                         SortedMap<Integer, Long> status, Errors errors, double generatorCpuUsPerRequest,
                         boolean generatorSaturated, Unanswered unanswered, Fairness fairness,
                         Histogram latencyHistogram /* µs, the measured requests: for merging runs (Histogram.add) */) {}

    /**
     * Measured requests sent and still unanswered when the run ended (an answer that came after the end counts here,
     * not in the latency), and how long they had waited by then: from their intended send time, in ms (0 when none).
     * Closed-loop latency only counts what was answered; these are the requests it cannot see.
     */
    public record Unanswered(long count, double maxAgeMs, double medianAgeMs) {}

    /**
     * Measured answers per connection: the fewest, the median, the most; `starved` counts the connections that got
     * no answer, or less than {@link #STARVED_SHARE} of the mean (a server that serves one connection at a time
     * starves the rest).
     */
    public record Fairness(long min, double median, long max, int starved, int connections) {
        public boolean starving() { return starved > 0; }

        static Fairness of(long[] answers) {
            if (answers.length == 0) return new Fairness(0, 0, 0, 0, 0);
            long[] s = answers.clone();
            java.util.Arrays.sort(s);
            double mean = java.util.Arrays.stream(s).average().orElse(0);
            int starved = (int) java.util.Arrays.stream(s).filter(v -> v == 0 || v < STARVED_SHARE * mean).count();
            return new Fairness(s[0], medianOfSorted(java.util.Arrays.stream(s).asDoubleStream().toArray()), s[s.length - 1], starved, s.length);
        }
    }

    /** The median of numbers already sorted (NaN for none). */
    static double medianOfSorted(double[] s) {
        if (s.length == 0) return Double.NaN;
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** A connection answered less than this share of the mean answers per connection is starved. */
    static final double STARVED_SHARE = 0.1;

    /** Runs the load and returns what was measured. An interrupt (Ctrl-C) ends it early and returns what was measured. */
    public static Result run(Config c) throws IOException, InterruptedException {
        var target = Target.of(c);
        target.probe(c.timeout());
        return new Engine(c, target).execute();
    }

    public record BurstResult(List<BurstRequest> requests, double totalMs) {}

    /** One burst request: status -1 and an error when it failed; ms from the common start to its end. */
    public record BurstRequest(int index, int status, String error, double ms, long finishedNanos) {}

    /**
     * N one-shot requests (`GET path`, `Connection: close`) released together, each on its own virtual thread;
     * onEach is called as each one finishes (from that thread). totalMs runs from the release to the last finish.
     */
    public static BurstResult burst(String host, int port, String path, int n, Duration timeout, Consumer<BurstRequest> onEach)
            throws InterruptedException {
        byte[] request = ("GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + port + "\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.ISO_8859_1);
        var address = new InetSocketAddress(host, port);
        var results = Collections.synchronizedList(new ArrayList<BurstRequest>());
        var go = new CountDownLatch(1);
        long[] start = new long[1];
        var threads = new ArrayList<Thread>();
        for (int i = 0; i < n; i++) {
            int index = i;
            threads.add(Thread.ofVirtual().name("burst-" + i).start(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                int status = -1;
                String error = null;
                var parser = new ResponseParser();
                parser.reset(false);
                try (var s = new Socket()) {
                    long deadline = start[0] + timeout.toNanos();
                    try {
                        s.connect(address, (int) Math.max(1, timeout.toMillis()));
                    } catch (IOException e) {
                        throw new Fault(Kind.connect, String.valueOf(e.getMessage()));
                    }
                    s.setTcpNoDelay(true);
                    exchange(s, request, parser, new byte[VIRTUAL_READ_BUFFER_BYTES], deadline);
                    status = parser.status;
                } catch (Fault f) {
                    error = f.kind + ": " + f.getMessage();
                } catch (IOException e) {
                    error = String.valueOf(e.getMessage());
                }
                long end = System.nanoTime();
                var r = new BurstRequest(index, status, error, (end - start[0]) / 1e6, end);
                results.add(r);
                if (onEach != null) onEach.accept(r);
            }));
        }
        start[0] = System.nanoTime();
        go.countDown();
        for (Thread t : threads) t.join();
        var sorted = new ArrayList<>(results);
        sorted.sort(Comparator.comparingLong(BurstRequest::finishedNanos));
        long last = sorted.isEmpty() ? start[0] : sorted.getLast().finishedNanos();
        return new BurstResult(List.copyOf(sorted), (last - start[0]) / 1e6);
    }

    // ---------------------------------------------------------------- the protocol core: requests out, responses in

    /** The kinds of failure, each counted on its own; the names are the JSON keys. */
    enum Kind { connect, read, write, timeout, reset, malformed }

    /** A request that failed, with its kind (stackless: faults are counted, not debugged). */
    static final class Fault extends Exception {
        final Kind kind;

        Fault(Kind kind, String message) {
            super(message, null, false, false);
            this.kind = kind;
        }
    }

    /** What an I/O exception means for a request: a reset is a reset whatever we were doing; a timeout is a timeout. */
    static Kind kindOf(IOException e, Kind during) {
        if (e instanceof SocketTimeoutException) return Kind.timeout;
        String m = String.valueOf(e.getMessage());
        if (m.contains("reset")) return Kind.reset;
        if (e instanceof ConnectException) return Kind.connect;
        return during;
    }

    /** The target host:port and every request pre-encoded once, as the bytes that go on the wire (RFC 9112 §3). */
    record Target(InetSocketAddress address, String url, byte[][] requests, boolean[] head) {
        static Target of(Config c) {
            if (c.urls().isEmpty()) throw new IllegalArgumentException("no URL");
            URI first = c.urls().getFirst();
            var address = new InetSocketAddress(first.getHost(), port(first));
            byte[][] requests = new byte[c.urls().size()][];
            boolean[] head = new boolean[requests.length];
            for (int i = 0; i < requests.length; i++) {
                URI u = c.urls().get(i);
                String target = (u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath())
                        + (u.getRawQuery() == null ? "" : "?" + u.getRawQuery());
                var b = new StringBuilder().append(c.method()).append(' ').append(target).append(" HTTP/1.1\r\n");
                boolean hostGiven = c.headers().stream().anyMatch(h -> h.getKey().equalsIgnoreCase("Host"));
                if (!hostGiven) b.append("Host: ").append(u.getHost()).append(u.getPort() < 0 ? "" : ":" + u.getPort()).append("\r\n");
                for (var h : c.headers()) b.append(h.getKey()).append(": ").append(h.getValue()).append("\r\n");
                if (!c.keepAlive()) b.append("Connection: close\r\n");
                if (c.body().length > 0) b.append("Content-Length: ").append(c.body().length).append("\r\n");
                b.append("\r\n");
                byte[] headBytes = b.toString().getBytes(StandardCharsets.ISO_8859_1);
                byte[] all = new byte[headBytes.length + c.body().length];
                System.arraycopy(headBytes, 0, all, 0, headBytes.length);
                System.arraycopy(c.body(), 0, all, headBytes.length, c.body().length);
                requests[i] = all;
                head[i] = c.method().equals("HEAD");
            }
            var urls = new StringBuilder();
            for (URI u : c.urls()) urls.append(urls.isEmpty() ? "" : " ").append(u);
            return new Target(address, urls.toString(), requests, head);
        }

        /** One connection before the run, so a wrong port fails at once with one clear error. */
        void probe(Duration timeout) throws IOException {
            if (address.isUnresolved()) throw new IOException("unknown host: " + address.getHostString());
            try (var s = new Socket()) {
                s.connect(address, (int) Math.max(1, timeout.toMillis()));
            } catch (IOException e) {
                throw new IOException("cannot connect to " + address.getHostString() + ":" + address.getPort() + ": "
                        + e.getMessage(), e);
            }
        }
    }

    static int port(URI u) { return u.getPort() < 0 ? 80 : u.getPort(); }

    /**
     * A byte-level HTTP/1.1 response parser (RFC 9112 §4 status line, §5 fields, §6 body length, §7.1 chunked).
     * feed() takes the bytes as they come, in any pieces, and keeps no String on the way: it returns the index just
     * past the end of the response, NEED_MORE, or MALFORMED (with `error` saying why). After a complete response,
     * `status` and `close` (the connection must not be reused) are set.
     */
    static final class ResponseParser {
        static final int NEED_MORE = -1, MALFORMED = -2;
        static final int MAX_LINE = 8 * 1024, MAX_HEADER_BYTES = 64 * 1024;
        private static final byte[] CONTENT_LENGTH = "content-length".getBytes(StandardCharsets.US_ASCII);
        private static final byte[] TRANSFER_ENCODING = "transfer-encoding".getBytes(StandardCharsets.US_ASCII);
        private static final byte[] CONNECTION = "connection".getBytes(StandardCharsets.US_ASCII);
        private static final byte[] CHUNKED = "chunked".getBytes(StandardCharsets.US_ASCII);
        private static final byte[] CLOSE = "close".getBytes(StandardCharsets.US_ASCII);
        private static final byte[] KEEP_ALIVE = "keep-alive".getBytes(StandardCharsets.US_ASCII);

        private enum State { STATUS_LINE, HEADERS, BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILERS, UNTIL_CLOSE, DONE }

        private final byte[] line = new byte[MAX_LINE];
        private int lineLength;
        private State state;
        private boolean head;
        private boolean http10;
        private boolean keepAliveAsked;
        private boolean chunked;
        private long contentLength;
        private long remaining;
        private int headerBytes;
        int status;
        boolean close;
        /** Bytes of this response seen so far (0 means nothing arrived yet). */
        long bytes;
        String error;

        /** Ready for the answer to the next request (HEAD answers never have a body, RFC 9110 §9.3.2). */
        void reset(boolean headRequest) {
            head = headRequest;
            state = State.STATUS_LINE;
            lineLength = 0;
            headerBytes = 0;
            status = 0;
            close = false;
            bytes = 0;
            error = null;
            startResponse();
        }

        private void startResponse() {
            http10 = false;
            keepAliveAsked = false;
            chunked = false;
            contentLength = -1;
        }

        boolean started() { return bytes > 0; }

        /** The peer closed: true if that completes the response (a body delimited by the close, RFC 9112 §6.3 item 8). */
        boolean endOfStream() {
            if (state == State.UNTIL_CLOSE) {
                state = State.DONE;
                close = true;
                return true;
            }
            return false;
        }

        int feed(byte[] a, int from, int length) {
            int i = from, end = from + length;
            bytes += length;
            while (i < end) {
                switch (state) {
                    case BODY, CHUNK_DATA -> {
                        int n = (int) Math.min(remaining, end - i);
                        i += n;
                        remaining -= n;
                        if (remaining == 0) {
                            if (state == State.BODY) return done(i);
                            state = State.CHUNK_END;
                        }
                    }
                    case UNTIL_CLOSE -> i = end;
                    case DONE -> { return i; }
                    default -> {
                        // A line-based state: find the line's end and act on the line where it lies; only a line
                        // split between two reads is copied (into `line`).
                        int nl = indexOf(a, i, end, (byte) '\n');
                        int piece = (nl < 0 ? end : nl) - i;
                        if (lineLength + piece > MAX_LINE) return malformed("a line longer than " + MAX_LINE + " bytes");
                        if (nl < 0 || lineLength > 0) {
                            System.arraycopy(a, i, line, lineLength, piece);
                            lineLength += piece;
                        }
                        if (nl < 0) return NEED_MORE;
                        byte[] l = lineLength > 0 ? line : a;
                        int o = lineLength > 0 ? 0 : i, n = lineLength > 0 ? lineLength : piece;
                        if (n > 0 && l[o + n - 1] == '\r') n--;
                        lineLength = 0;
                        i = nl + 1;
                        if (onLine(l, o, n) == MALFORMED) return MALFORMED;
                        if (state == State.DONE) return i;
                    }
                }
            }
            return state == State.DONE ? i : NEED_MORE;
        }

        private int done(int at) {
            state = State.DONE;
            return at;
        }

        private int malformed(String why) {
            error = why;
            return MALFORMED;
        }

        /** One line (without its CRLF) at l[o, o+n). */
        private int onLine(byte[] l, int o, int n) {
            switch (state) {
                case STATUS_LINE -> {
                    // HTTP/1.x SP 3DIGIT [SP reason]
                    if (n < 12 || l[o] != 'H' || l[o + 1] != 'T' || l[o + 2] != 'T' || l[o + 3] != 'P' || l[o + 4] != '/'
                            || l[o + 5] != '1' || l[o + 6] != '.' || !digit(l[o + 7]) || l[o + 8] != ' '
                            || !digit(l[o + 9]) || !digit(l[o + 10]) || !digit(l[o + 11]) || (n > 12 && l[o + 12] != ' '))
                        return malformed("not a status line: " + text(l, o, Math.min(n, 60)));
                    http10 = l[o + 7] == '0';
                    status = (l[o + 9] - '0') * 100 + (l[o + 10] - '0') * 10 + (l[o + 11] - '0');
                    if (status < 100) return malformed("status code below 100: " + status);
                    state = State.HEADERS;
                    headerBytes = 0;
                }
                case HEADERS, TRAILERS -> {
                    headerBytes += n + 2;
                    if (headerBytes > MAX_HEADER_BYTES) return malformed("a header section over " + MAX_HEADER_BYTES + " bytes");
                    if (n == 0) return state == State.TRAILERS ? done(0) : endOfHeaders();
                    if (state == State.TRAILERS) return 0;
                    int colon = indexOf(l, o, o + n, (byte) ':');
                    if (colon <= o || l[colon - 1] == ' ' || l[colon - 1] == '\t')
                        return malformed("not a header field: " + text(l, o, Math.min(n, 60)));
                    int v = colon + 1, e = o + n, nameLength = colon - o;
                    while (v < e && (l[v] == ' ' || l[v] == '\t')) v++;
                    while (e > v && (l[e - 1] == ' ' || l[e - 1] == '\t')) e--;
                    if (nameIs(l, o, nameLength, CONTENT_LENGTH)) {
                        long cl = 0;
                        if (v == e) return malformed("an empty Content-Length");
                        for (int k = v; k < e; k++) {
                            if (!digit(l[k]) || k - v > 15) return malformed("a bad Content-Length: " + text(l, v, e - v));
                            cl = cl * 10 + (l[k] - '0');
                        }
                        if (contentLength >= 0 && contentLength != cl) return malformed("two different Content-Length values");
                        contentLength = cl;
                    } else if (nameIs(l, o, nameLength, TRANSFER_ENCODING)) {
                        // chunked must be the last coding (RFC 9112 §6.1); anything else this parser cannot frame.
                        chunked = e - v >= CHUNKED.length && equalsIgnoreCase(l, e - CHUNKED.length, CHUNKED);
                        if (!chunked) return malformed("a transfer coding other than chunked: " + text(l, v, e - v));
                    } else if (nameIs(l, o, nameLength, CONNECTION)) {
                        if (containsIgnoreCase(l, v, e, CLOSE)) close = true;
                        if (containsIgnoreCase(l, v, e, KEEP_ALIVE)) keepAliveAsked = true;
                    }
                }
                case CHUNK_SIZE -> {
                    long size = 0;
                    int k = o, digits = 0, e = o + n;
                    while (k < e && hex(l[k]) >= 0) {
                        if (++digits > 15) return malformed("a chunk size over 15 hex digits");
                        size = size * 16 + hex(l[k++]);
                    }
                    while (k < e && (l[k] == ' ' || l[k] == '\t')) k++;
                    if (digits == 0 || (k < e && l[k] != ';')) return malformed("not a chunk size line: " + text(l, o, Math.min(n, 40)));
                    if (size == 0) {
                        state = State.TRAILERS;
                        headerBytes = 0;
                    } else {
                        remaining = size;
                        state = State.CHUNK_DATA;
                    }
                }
                case CHUNK_END -> {
                    if (n != 0) return malformed("chunk data longer than its size");
                    state = State.CHUNK_SIZE;
                }
                case BODY, CHUNK_DATA, UNTIL_CLOSE, DONE -> throw new IllegalStateException(state.name());
            }
            return 0;
        }

        /** The header section ended: decide how the body is framed (RFC 9112 §6.3). */
        private int endOfHeaders() {
            if (http10 && !keepAliveAsked) close = true;
            if (status < 200 && status != 101) {
                // An interim response (100 Continue, 103 Early Hints): the real one follows.
                state = State.STATUS_LINE;
                close = false;
                startResponse();
                return 0;
            }
            if (head || status == 204 || status == 304 || status == 101) {
                if (status == 101) close = true;
                return done(0);
            }
            if (chunked) {
                state = State.CHUNK_SIZE;
            } else if (contentLength >= 0) {
                remaining = contentLength;
                if (remaining == 0) return done(0);
                state = State.BODY;
            } else {
                close = true;
                state = State.UNTIL_CLOSE;
            }
            return 0;
        }

        private static boolean nameIs(byte[] l, int o, int length, byte[] lower) {
            return length == lower.length && equalsIgnoreCase(l, o, lower);
        }

        private static boolean equalsIgnoreCase(byte[] a, int from, byte[] lower) {
            for (int k = 0; k < lower.length; k++) {
                int x = a[from + k];
                if (x >= 'A' && x <= 'Z') x += 'a' - 'A';
                if (x != lower[k]) return false;
            }
            return true;
        }

        private static boolean containsIgnoreCase(byte[] a, int from, int to, byte[] lower) {
            for (int k = from; k + lower.length <= to; k++) if (equalsIgnoreCase(a, k, lower)) return true;
            return false;
        }

        private static int indexOf(byte[] a, int from, int to, byte b) {
            for (int k = from; k < to; k++) if (a[k] == b) return k;
            return -1;
        }

        private static boolean digit(byte b) { return b >= '0' && b <= '9'; }

        private static int hex(byte b) {
            if (b >= '0' && b <= '9') return b - '0';
            if (b >= 'a' && b <= 'f') return b - 'a' + 10;
            if (b >= 'A' && b <= 'F') return b - 'A' + 10;
            return -1;
        }

        private static String text(byte[] l, int from, int n) { return new String(l, from, n, StandardCharsets.ISO_8859_1); }
    }

    /**
     * One blocking request/response on a connected socket, shared by the virtual-thread model and burst: write the
     * request, feed the parser until the response is complete, within the deadline. Throws a Fault naming the kind.
     */
    static void exchange(Socket s, byte[] request, ResponseParser parser, byte[] buf, long deadlineNs) throws Fault {
        try {
            s.getOutputStream().write(request);
        } catch (IOException e) {
            throw new Fault(kindOf(e, Kind.write), String.valueOf(e.getMessage()));
        }
        try {
            InputStream in = s.getInputStream();
            while (true) {
                long left = deadlineNs - System.nanoTime();
                if (left <= 0) throw new Fault(Kind.timeout, "no complete response in time");
                s.setSoTimeout((int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                int n = in.read(buf);
                if (n < 0) {
                    if (parser.endOfStream()) return;
                    throw closedEarly(parser);
                }
                int end = parser.feed(buf, 0, n);
                if (end == ResponseParser.MALFORMED) throw new Fault(Kind.malformed, parser.error);
                if (end >= 0) {
                    if (end < n) throw new Fault(Kind.malformed, (n - end) + " bytes after the end of the response");
                    return;
                }
            }
        } catch (SocketTimeoutException e) {
            throw new Fault(Kind.timeout, "no complete response in time");
        } catch (IOException e) {
            throw new Fault(kindOf(e, Kind.read), String.valueOf(e.getMessage()));
        }
    }

    /** The server closed before the response was complete: nothing at all is a read error, a cut response malformed. */
    static Fault closedEarly(ResponseParser parser) {
        return parser.started() ? new Fault(Kind.malformed, "the connection closed in the middle of the response")
                : new Fault(Kind.read, "the connection closed before a response");
    }

    // ---------------------------------------------------------------- the virtual model: a virtual thread per connection

    /**
     * virtual: each connection is a virtual thread running plain blocking code (connect, write, read until the
     * parser says the response is complete, repeat). Simple to read; the JDK parks the thread at every wait.
     */
    static final class VirtualThreadConnection implements Runnable {
        private final Engine e;
        private final Lane lane;
        private final int index;
        private final ResponseParser parser = new ResponseParser();
        private volatile Socket socket;
        private volatile Thread thread;

        VirtualThreadConnection(Engine e, Lane lane, int index) {
            this.e = e;
            this.lane = lane;
            this.index = index;
        }

        @Override
        public void run() {
            thread = Thread.currentThread();
            byte[] buf = new byte[VIRTUAL_READ_BUFFER_BYTES];
            long due = e.firstDue(index);
            int url = index % e.target.requests().length;
            try {
                while (true) {
                    long now = System.nanoTime();
                    if (e.open && due - now > 0) {
                        if (!sleepUntil(Math.min(due, e.endNs))) break;
                        now = System.nanoTime();
                    }
                    if (e.over(now)) break;
                    long intended = e.open ? due : now;
                    boolean measured = e.measured(intended);
                    if (!e.ticket(measured)) break;
                    due += e.intervalNs;
                    try {
                        if (socket == null) socket = connect();
                    } catch (IOException x) {
                        e.fault(Kind.connect, measured);
                        if (!sleepUntil(System.nanoTime() + RECONNECT_BACKOFF_NS)) break;
                        continue;
                    }
                    if (e.stopped) break;
                    parser.reset(e.target.head()[url]);
                    try {
                        exchange(socket, e.target.requests()[url], parser, buf, now + e.timeoutNs);
                        long done = System.nanoTime();
                        if (measured && !e.stopped && done - e.endNs < 0) e.response(lane, index, parser, intended, now, done);
                        else if (measured) e.unanswered(intended);   // answered, but after the end
                        if (parser.close || !e.c.keepAlive()) closeSocket();
                    } catch (Fault f) {
                        // Cut off by the end of the run (or a stop): the request was still waiting, not failed.
                        if (measured && (e.stopped || System.nanoTime() - e.endNs >= 0)) e.unanswered(intended);
                        else e.fault(f.kind, measured);
                        closeSocket();
                    }
                    url = (url + 1) % e.target.requests().length;
                }
            } finally {
                closeSocket();
                e.done.countDown();
            }
        }

        private Socket connect() throws IOException {
            var s = new Socket();
            try {
                s.setTcpNoDelay(true);
                s.connect(e.target.address(), (int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(e.timeoutNs)));
                return s;
            } catch (IOException x) {
                s.close();
                throw x;
            }
        }

        /** Parks until the deadline; false if the run was stopped meanwhile. */
        private boolean sleepUntil(long deadline) {
            long left;
            while (!e.stopped && (left = deadline - System.nanoTime()) > 0) LockSupport.parkNanos(left);
            return !e.stopped;
        }

        private void closeSocket() {
            Socket s = socket;
            socket = null;
            if (s != null) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // Closing a socket that failed: nothing more to learn from it.
                }
            }
        }

        /** Called by the engine to end the run: unblocks a read or a park. */
        void stop() {
            Socket s = socket;
            if (s != null) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // It is being abandoned.
                }
            }
            Thread t = thread;
            if (t != null) LockSupport.unpark(t);
        }
    }

    // ---------------------------------------------------------------- the event-loop model: a Selector loop per thread (like wrk)

    /**
     * nio: each thread runs one Selector over its share of the connections, reads into one direct buffer, parses in
     * place and writes the pre-encoded request straight back: no allocation per request, no lock, no thread handoff.
     * Open loop: connections wait for their due time in a timer queue ordered by due time. The loop below waits and
     * decides when each connection sends; {@link NioConnection} holds one connection's steps (connect, write, read,
     * handle the response, close).
     */
    static final class NioEventLoop implements Runnable {
        final Engine e;
        final Lane lane;
        final Selector selector;
        /** One read buffer and its heap copy for all of this loop's connections (one reads at a time). */
        final ByteBuffer in = ByteBuffer.allocateDirect(READ_BUFFER_BYTES);
        final byte[] bytes = new byte[READ_BUFFER_BYTES];
        private final List<NioConnection> conns = new ArrayList<>();
        private final PriorityQueue<NioConnection> timers = new PriorityQueue<>(Comparator.comparingLong(x -> x.dueNs));
        private final Consumer<SelectionKey> onReady = this::onReady;
        private int active;
        private long firstReadyNs;
        /** Time spent waiting for sockets (after the warm-up); the rest of the loop's time it was busy. */
        private long idleNs;
        private volatile long loopEndNs;

        NioEventLoop(Engine e, Lane lane, int thread, int threads) throws IOException {
            this.e = e;
            this.lane = lane;
            selector = Selector.open();
            for (int i = thread; i < e.c.connections(); i += threads) conns.add(new NioConnection(this, i, e.target.requests()));
        }

        void wakeup() { selector.wakeup(); }

        double busyShare(long from, long to) {
            long wall = Math.min(to, loopEndNs == 0 ? to : loopEndNs) - from;
            return wall <= 0 ? 0 : Math.max(0, 1 - (double) idleNs / wall);
        }

        @Override
        public void run() {
            try {
                long now = System.nanoTime();
                for (NioConnection c : conns) {
                    active++;
                    c.scheduledNs = e.firstDue(c.index);
                    c.connect(now, false);
                }
                long nextScan = now + TIMEOUT_SCAN_NS;
                while (active > 0) {
                    now = System.nanoTime();
                    if (e.over(now)) break;
                    NioConnection t;
                    while ((t = timers.peek()) != null && t.dueNs - now <= 0) {
                        timers.poll();
                        t.queued = false;
                        next(t, now);
                    }
                    if (now - nextScan >= 0) {
                        expire(now);
                        nextScan = now + TIMEOUT_SCAN_NS;
                    }
                    long wait = Math.min(nextScan - now, e.endNs - now);
                    if ((t = timers.peek()) != null) wait = Math.min(wait, t.dueNs - now);
                    firstReadyNs = 0;
                    long before = System.nanoTime();
                    if (wait >= 1_000_000) {
                        selector.select(onReady, wait / 1_000_000);
                    } else if (selector.selectNow(onReady) == 0 && wait > 0) {
                        // Less than a millisecond to the next due request: select() cannot wait that precisely.
                        LockSupport.parkNanos(Math.min(wait, 50_000));
                    }
                    if (before - e.startNs >= 0) idleNs += (firstReadyNs != 0 ? firstReadyNs : System.nanoTime()) - before;
                }
            } catch (IOException | RuntimeException x) {
                // A selector failure is a bug or an exhausted machine: stop the run and let run() say so.
                e.failure = x;
                e.stop();
            } finally {
                loopEndNs = System.nanoTime();
                for (NioConnection c : conns) {
                    if (c.measured && (c.inFlight || (c.connecting && c.pendingRequest))) e.unanswered(c.intendedNs);
                    c.close();
                }
                try {
                    selector.close();
                } catch (IOException ignored) {
                    // Closing at the end of the run.
                }
                e.done.countDown();
            }
        }

        /** A key is ready: finish its connect, or go on writing, then read. */
        private void onReady(SelectionKey key) {
            if (firstReadyNs == 0) firstReadyNs = System.nanoTime();
            NioConnection c = (NioConnection) key.attachment();
            if (!key.isValid()) return;
            int ops = key.readyOps();
            if (c.connecting) {
                c.finishConnect();
                return;
            }
            if ((ops & SelectionKey.OP_WRITE) != 0 && !c.writeRest()) return;
            if ((ops & SelectionKey.OP_READ) != 0) c.read();
        }

        /** The connection is free: send its next request now, or when it is due (open loop). */
        void next(NioConnection c, long now) {
            if (e.over(now) || c.finished) return;
            if (e.open && c.scheduledNs - now > 0) {
                schedule(c, c.scheduledNs);
                return;
            }
            long intended = e.open ? c.scheduledNs : now;
            boolean measured = e.measured(intended);
            if (!e.ticket(measured)) {
                c.finished = true;
                c.close();
                active--;
                return;
            }
            if (e.open) c.scheduledNs += e.intervalNs;
            c.intendedNs = intended;
            c.measured = measured;
            c.sentNs = now;
            if (c.channel == null) c.connect(now, true);   // its connect time is part of this request's time
            else c.write(now);
        }

        void schedule(NioConnection c, long dueNs) {
            if (c.queued) return;
            c.dueNs = dueNs;
            c.queued = true;
            timers.add(c);
        }

        /** Requests (and connects) past their --timeout fail as timeouts. */
        private void expire(long now) {
            for (NioConnection c : conns) {
                if (c.channel == null || !(c.inFlight || c.connecting) || c.deadlineNs - now > 0) continue;
                if (c.connecting) c.connectFailed(now);
                else c.fail(Kind.timeout, now);
            }
        }
    }

    /**
     * One connection of an event loop and the steps of a request on it, each named: connect, write, read, handle the
     * response (complete or fail), close. Every step runs on its loop's thread; when the connection is free again it
     * hands back to {@link NioEventLoop#next}.
     */
    static final class NioConnection {
        final NioEventLoop loop;
        final Engine e;
        final int index;
        final ByteBuffer[] requests;
        final ResponseParser parser = new ResponseParser();
        ByteBuffer out;
        SocketChannel channel;
        SelectionKey key;
        boolean connecting, inFlight, pendingRequest, queued, finished;
        int url;
        long dueNs, scheduledNs, intendedNs, sentNs, deadlineNs;
        boolean measured;

        NioConnection(NioEventLoop loop, int index, byte[][] encoded) {
            this.loop = loop;
            this.e = loop.e;
            this.index = index;
            requests = new ByteBuffer[encoded.length];
            for (int i = 0; i < encoded.length; i++) requests[i] = ByteBuffer.allocateDirect(encoded[i].length).put(encoded[i]).flip();
            url = index % encoded.length;
        }

        // ---- connect

        /** Opens the connection; with `forRequest`, the request goes out once it is connected. */
        void connect(long now, boolean forRequest) {
            pendingRequest = forRequest;
            try {
                SocketChannel ch = SocketChannel.open();
                channel = ch;
                ch.configureBlocking(false);
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                connecting = true;
                deadlineNs = now + e.timeoutNs;
                if (ch.connect(e.target.address())) {
                    key = ch.register(loop.selector, SelectionKey.OP_READ, this);
                    connected(now);
                } else {
                    key = ch.register(loop.selector, SelectionKey.OP_CONNECT, this);
                }
            } catch (IOException x) {
                connectFailed(now);
            }
        }

        void finishConnect() {
            try {
                if (channel.finishConnect()) connected(System.nanoTime());
            } catch (IOException x) {
                connectFailed(System.nanoTime());
            }
        }

        private void connected(long now) {
            connecting = false;
            key.interestOps(SelectionKey.OP_READ);
            if (pendingRequest) write(now);
            else loop.next(this, now);
        }

        void connectFailed(long now) {
            e.fault(Kind.connect, pendingRequest ? measured : e.measured(now));
            close();
            pendingRequest = false;
            loop.schedule(this, now + RECONNECT_BACKOFF_NS);
        }

        // ---- write

        void write(long now) {
            out = requests[url];
            out.rewind();
            parser.reset(e.target.head()[url]);
            url = url + 1 == requests.length ? 0 : url + 1;
            inFlight = true;
            deadlineNs = now + e.timeoutNs;
            try {
                channel.write(out);
                if (out.hasRemaining()) key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
            } catch (IOException x) {
                fail(kindOf(x, Kind.write), now);
            }
        }

        /** The socket can take the rest of the request; false if writing failed (the request is over). */
        boolean writeRest() {
            try {
                channel.write(out);
                if (!out.hasRemaining()) key.interestOps(SelectionKey.OP_READ);
                return true;
            } catch (IOException x) {
                fail(kindOf(x, Kind.write), System.nanoTime());
                return false;
            }
        }

        // ---- read

        void read() {
            ByteBuffer in = loop.in;
            int n;
            in.clear();
            try {
                n = channel.read(in);
            } catch (IOException x) {
                fail(kindOf(x, Kind.read), System.nanoTime());
                return;
            }
            long now = System.nanoTime();
            if (n < 0) {
                if (!inFlight) {
                    close();   // the server closed an idle connection: the next request opens a new one
                } else if (parser.endOfStream()) {
                    complete(now);
                } else {
                    fail(closedEarly(parser).kind, now);
                }
                return;
            }
            if (n == 0) return;
            if (!inFlight) {
                fail(Kind.malformed, now);   // bytes nobody asked for
                return;
            }
            in.flip();
            in.get(loop.bytes, 0, n);
            int end = parser.feed(loop.bytes, 0, n);
            if (end == ResponseParser.NEED_MORE) return;
            if (end == ResponseParser.MALFORMED || end < n) {
                fail(Kind.malformed, now);
                return;
            }
            complete(now);
        }

        // ---- handle the response

        private void complete(long now) {
            inFlight = false;
            if (measured && !e.over(now)) e.response(loop.lane, index, parser, intendedNs, sentNs, now);
            else if (measured) e.unanswered(intendedNs);   // answered, but after the end
            if (parser.close || !e.c.keepAlive()) close();
            loop.next(this, now);
        }

        /** A request failed: count it, drop the connection, and go on with a fresh one. */
        void fail(Kind kind, long now) {
            e.fault(kind, measured);
            inFlight = false;
            close();
            loop.next(this, now);
        }

        // ---- close

        void close() {
            connecting = false;
            if (key != null) key.cancel();
            key = null;
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // Closing a connection we give up on.
                }
            }
            channel = null;
        }
    }

    // ---------------------------------------------------------------- the engine: what both models share (after them: they are the lesson)

    /**
     * One run: the schedule (warm-up end, run end, open-loop interval), the counters every model adds to, and the
     * collector loop on the calling thread that reads the interval histograms once a second (progress, --hdr log).
     * Latencies are recorded in microseconds into HdrHistogram recorders: one per event loop (single writer, no
     * lock), or one shared by all virtual threads.
     */
    static final class Engine {
        final Config c;
        final Target target;
        final boolean open;
        final long intervalNs;     // open loop: between two requests on one connection
        final long timeoutNs;
        final long beginNs, startNs, endNs;
        final AtomicLong tickets;  // -n: requests still to measure; null for a duration
        final LongAdder[] status = new LongAdder[1000];
        final LongAdder[] errors = new LongAdder[Kind.values().length];
        final LongAdder bytes = new LongAdder();
        /** Measured answers of each connection (each index written by one thread only). */
        final AtomicLongArray answers;
        /** Intended send times of the measured requests unanswered at the end (at most one per connection). */
        final ConcurrentLinkedQueue<Long> unanswered = new ConcurrentLinkedQueue<>();
        final List<Lane> lanes = new ArrayList<>();
        final List<Runnable> stoppers = Collections.synchronizedList(new ArrayList<>());
        volatile boolean stopped;
        /** An event loop that died of something unexpected (a bug, an exhausted machine): run() throws it. */
        volatile Throwable failure;
        final CountDownLatch done;

        Engine(Config c, Target target) {
            if (c.connections() < 1) throw new IllegalArgumentException("connections must be at least 1");
            if (c.threads() < 1) throw new IllegalArgumentException("threads must be at least 1");
            if ((c.duration() == null) == (c.requests() <= 0)) throw new IllegalArgumentException("give a duration or a request count");
            if (c.rate() < 0 || Double.isNaN(c.rate())) throw new IllegalArgumentException("rate must not be negative");
            this.c = c;
            this.target = target;
            open = c.rate() > 0;
            intervalNs = open ? Math.max(1, (long) (c.connections() * 1e9 / c.rate())) : 0;
            timeoutNs = c.timeout().toNanos();
            beginNs = System.nanoTime();
            startNs = beginNs + c.warmup().toNanos();
            endNs = c.duration() == null ? Long.MAX_VALUE : startNs + c.duration().toNanos();
            tickets = c.duration() == null ? new AtomicLong(c.requests()) : null;
            for (int i = 0; i < status.length; i++) status[i] = new LongAdder();
            for (int i = 0; i < errors.length; i++) errors[i] = new LongAdder();
            answers = new AtomicLongArray(c.connections());
            done = new CountDownLatch(c.mode() == Mode.nio ? Math.min(c.threads(), c.connections()) : c.connections());
        }

        boolean measured(long intendedNs) { return intendedNs - startNs >= 0; }

        boolean over(long now) { return stopped || now - endNs >= 0; }

        /** -n: takes one of the requests still to measure; false when none is left. */
        boolean ticket(boolean measured) { return tickets == null || !measured || tickets.getAndDecrement() > 0; }

        /** Where connection i's first request is due: the connections' schedules are staggered over one interval. */
        long firstDue(int i) { return open ? beginNs + intervalNs * i / c.connections() : beginNs; }

        void fault(Kind kind, boolean measured) {
            if (measured && !stopped) errors[kind.ordinal()].increment();
        }

        void response(Lane lane, int connection, ResponseParser p, long intendedNs, long sentNs, long now) {
            answers.lazySet(connection, answers.get(connection) + 1);
            status[Math.min(p.status, status.length - 1)].increment();
            bytes.add(p.bytes);
            lane.latency.recordValue(Math.max(0, now - intendedNs) / 1000);
            if (open) lane.service.recordValue(Math.max(0, now - sentNs) / 1000);
        }

        /** A measured request that had no answer when the run ended. */
        void unanswered(long intendedNs) { unanswered.add(intendedNs); }

        Result execute() throws IOException, InterruptedException {
            var cpu = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
            HistogramLogWriter log = null;
            if (c.hdrLog() != null) {
                try {
                    log = new HistogramLogWriter(c.hdrLog().toFile());
                } catch (FileNotFoundException e) {
                    throw new IOException("cannot write the --hdr log: " + c.hdrLog() + " (" + e.getMessage() + ")");
                }
                startLog(log, System.currentTimeMillis() + TimeUnit.NANOSECONDS.toMillis(startNs - System.nanoTime()));
            }
            // The CPU time of the measured part: from here without a warm-up, from the warm-up's end with one.
            long cpuAtStart = c.warmup().isZero() ? cpu.getProcessCpuTime() : -1;
            var threads = new ArrayList<Thread>();
            List<NioEventLoop> loops = new ArrayList<>();
            switch (c.mode()) {
                case virtual -> {
                    var lane = new Lane(new Recorder(3), new Recorder(3));
                    lanes.add(lane);
                    for (int i = 0; i < c.connections(); i++) {
                        var conn = new VirtualThreadConnection(this, lane, i);
                        stoppers.add(conn::stop);
                        threads.add(Thread.ofVirtual().name("vt-conn-" + i).start(conn));
                    }
                }
                case nio -> {
                    int n = Math.min(c.threads(), c.connections());
                    for (int t = 0; t < n; t++) {
                        var lane = new Lane(new SingleWriterRecorder(3), new SingleWriterRecorder(3));
                        lanes.add(lane);
                        var loop = new NioEventLoop(this, lane, t, n);
                        loops.add(loop);
                        stoppers.add(loop::wakeup);
                    }
                    for (int t = 0; t < n; t++) threads.add(Thread.ofPlatform().name("nio-loop-" + (t + 1)).start(loops.get(t)));
                }
            }
            var latency = new Histogram(3);
            var service = new Histogram(3);
            boolean interrupted = false;
            long lastTick = startNs, stoppedAt = -1;
            long nextTick = cpuAtStart < 0 ? startNs : startNs + TimeUnit.SECONDS.toNanos(1);   // then one a second
            try {
                while (!done.await(Math.max(0, nextTick - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                    long now = System.nanoTime();
                    if (cpuAtStart < 0) {
                        cpuAtStart = cpu.getProcessCpuTime();   // the warm-up is over (workers record nothing before)
                        nextTick = startNs + TimeUnit.SECONDS.toNanos(1);
                        continue;
                    }
                    long count = collect(latency, service, log, lastTick, now);
                    double rps = count * 1e9 / Math.max(1, now - lastTick);
                    lastTick = now;
                    nextTick += TimeUnit.SECONDS.toNanos(1);
                    if (c.progress() != null) {
                        c.progress().accept(new Progress(Duration.ofNanos(now - startNs), latency.getTotalCount(), rps,
                                errorCounts().total()));
                    }
                }
            } catch (InterruptedException e) {
                interrupted = true;
                stoppedAt = System.nanoTime();
            } finally {
                stop();
                for (Thread t : threads) t.join(TimeUnit.SECONDS.toMillis(10) + TimeUnit.NANOSECONDS.toMillis(timeoutNs));
            }
            long end = System.nanoTime();
            if (stoppedAt < 0) stoppedAt = end;
            if (cpuAtStart < 0) cpuAtStart = cpu.getProcessCpuTime();
            long cpuNs = cpu.getProcessCpuTime() - cpuAtStart;
            collect(latency, service, log, lastTick, end);
            if (log != null) log.close();
            if (failure != null) throw new IOException("the load generator failed: " + failure, failure);
            final long from = startNs, to = Math.max(startNs, Math.min(stoppedAt, endNs));
            double seconds = (to - from) / 1e9;
            long requests = latency.getTotalCount();
            var statusMap = new TreeMap<Integer, Long>();
            for (int i = 0; i < status.length; i++) if (status[i].sum() > 0) statusMap.put(i, status[i].sum());
            boolean saturated = switch (c.mode()) {
                case nio -> loops.stream().anyMatch(l -> l.busyShare(from, to) >= SATURATED_BUSY_SHARE);
                case virtual -> seconds > 0 && cpuNs / (seconds * 1e9 * Runtime.getRuntime().availableProcessors()) >= SATURATED_BUSY_SHARE;
            };
            var result = new Result(target.url(), open, c.connections(), seconds, requests,
                    seconds > 0 ? requests / seconds : 0, c.rate(), seconds > 0 ? bytes.sum() / seconds : 0,
                    latency(latency), open ? latency(service) : null, Collections.unmodifiableSortedMap(statusMap),
                    errorCounts(), requests > 0 ? cpuNs / 1e3 / requests : 0, saturated, unansweredAt(to), fairness(), latency);
            if (interrupted) Thread.currentThread().interrupt();
            return result;
        }

        /** The requests still waiting at `endNs`, with their ages then. */
        private Unanswered unansweredAt(long endNs) {
            double[] ages = unanswered.stream().mapToDouble(t -> Math.max(0, endNs - t) / 1e6).sorted().toArray();
            if (ages.length == 0) return new Unanswered(0, 0, 0);
            return new Unanswered(ages.length, ages[ages.length - 1], medianOfSorted(ages));
        }

        private Fairness fairness() {
            long[] a = new long[answers.length()];
            for (int i = 0; i < a.length; i++) a[i] = answers.get(i);
            return Fairness.of(a);
        }

        /** The log's header; interval times are seconds since startMs, the end of the warm-up. */
        private void startLog(HistogramLogWriter log, long startMs) {
            log.outputLogFormatVersion();
            log.outputComment("LoadTest " + target.url() + ": latency in microseconds" + (open ? " (tag service: service time)" : ""));
            log.outputStartTime(startMs);
            log.setBaseTime(startMs);
            log.outputLegend();
        }

        /** Adds the interval since the last tick to the totals (and the log); returns the requests in it. */
        private long collect(Histogram latency, Histogram service, HistogramLogWriter log, long fromNs, long toNs) {
            Histogram l = new Histogram(3), s = new Histogram(3);
            for (Lane lane : lanes) {
                l.add(lane.latencyIntervals.getIntervalHistogram());
                s.add(lane.serviceIntervals.getIntervalHistogram());
            }
            latency.add(l);
            service.add(s);
            if (log != null) {
                double from = (fromNs - startNs) / 1e9, to = (toNs - startNs) / 1e9;
                log.outputIntervalHistogram(Math.max(0, from), Math.max(0, to), l, 1000.0);
                if (open) {
                    s.setTag("service");
                    log.outputIntervalHistogram(Math.max(0, from), Math.max(0, to), s, 1000.0);
                }
            }
            return l.getTotalCount();
        }

        Errors errorCounts() {
            long[] e = new long[errors.length];
            for (int i = 0; i < e.length; i++) e[i] = errors[i].sum();
            return new Errors(e[0], e[1], e[2], e[3], e[4], e[5]);
        }

        void stop() {
            stopped = true;
            synchronized (stoppers) {
                for (Runnable r : stoppers) r.run();
            }
        }
    }

    /** Where one event loop (or all virtual threads) records: latency from the intended send, service time from the actual one. */
    static final class Lane {
        final ValueRecorder latency, service;
        final IntervalHistogramProvider<Histogram> latencyIntervals, serviceIntervals;

        <R extends ValueRecorder & IntervalHistogramProvider<Histogram>> Lane(R latency, R service) {
            this.latency = latency;
            this.service = service;
            latencyIntervals = latency;
            serviceIntervals = service;
        }
    }

    static Latency latency(Histogram h) {
        if (h.getTotalCount() == 0) return new Latency(0, 0, 0, 0, 0, 0, 0, 0);
        return new Latency(h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(75) / 1e3,
                h.getValueAtPercentile(90) / 1e3, h.getValueAtPercentile(99) / 1e3, h.getValueAtPercentile(99.9) / 1e3,
                h.getValueAtPercentile(99.99) / 1e3, h.getMaxValue() / 1e3, h.getMean() / 1e3);
    }

    // ---------------------------------------------------------------- run: the command line around the engine

    @Command(name = "run", mixinStandardHelpOptions = true, showDefaultValues = true, sortOptions = false,
            description = "Load one server with HTTP/1.1 requests, closed loop (default) or open loop (-R), "
                    + "and report latency percentiles, status codes and every error by kind.")
    static final class RunCommand implements Callable<Integer> {
        @Parameters(arity = "1..*", paramLabel = "URL", description = "http:// URLs on one host:port, taken round-robin")
        List<String> urls;

        @Option(names = {"-c", "--connections"}, description = "connections kept open")
        int connections = 50;

        @Option(names = {"-d", "--duration"}, converter = DurationConverter.class,
                description = "how long to measure (10s, 500ms, 1m); the default unless -n is given")
        Duration duration;

        @Option(names = {"-n", "--requests"}, description = "measure this many requests instead of a duration")
        Long requests;

        @Option(names = "--warmup", converter = DurationConverter.class, description = "load first, unmeasured, this long")
        Duration warmup = Duration.ZERO;

        @Option(names = {"-t", "--threads"}, description = "event-loop threads (nio mode)")
        int threads = 1;

        @Option(names = {"-m", "--mode"}, description = "how the generator waits: ${COMPLETION-CANDIDATES}")
        Mode mode = Mode.nio;

        @Option(names = {"-R", "--rate"}, description = "open loop: requests/s in total, spread evenly over the connections")
        Double rate;

        @Option(names = "--no-keepalive", description = "a new connection for every request")
        boolean noKeepAlive;

        @Option(names = {"-X", "--method"}, description = "request method")
        String method = "GET";

        @Option(names = {"-H", "--header"}, paramLabel = "'Name: value'", description = "a request header (repeatable)")
        List<String> headers = new ArrayList<>();

        @ArgGroup(exclusive = true)
        BodySource body;

        static final class BodySource {
            @Option(names = "--body", description = "request body text")
            String text;

            @Option(names = "--body-file", description = "request body from a file")
            Path file;
        }

        @Option(names = "--timeout", converter = DurationConverter.class, description = "per request (and per connect)")
        Duration timeout = Duration.ofSeconds(10);

        @Option(names = "--hdr", paramLabel = "FILE", description = "write HdrHistogram's interval log (one interval a second)")
        Path hdr;

        @Option(names = "--json", description = "print the result as one JSON object")
        boolean json;

        @Option(names = {"-q", "--quiet"}, description = "no progress line on stderr")
        boolean quiet;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            Config config = config();
            checkOpenFiles(config.connections());
            // Ctrl-C (or SIGTERM): stop the run, print what was measured, then let the JVM end.
            Thread main = Thread.currentThread();
            var reported = new CountDownLatch(1);
            Thread hook = new Thread(() -> {
                main.interrupt();
                try {
                    reported.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException ignored) {
                    // The JVM is ending anyway.
                }
            }, "ctrl-c");
            Runtime.getRuntime().addShutdownHook(hook);
            Result r;
            try {
                r = LoadTest.run(config);
            } catch (IOException e) {
                throw new TargetFailed(e.getMessage());
            }
            var out = new PrintStream(System.out, true, StandardCharsets.UTF_8);   // µ in UTF-8 whatever the locale
            if (json) out.println(toJson(r));
            else out.print(report(r, config));
            out.flush();
            reported.countDown();
            if (!Thread.interrupted()) Runtime.getRuntime().removeShutdownHook(hook);
            return r.status().entrySet().stream().anyMatch(e -> e.getKey() < 400 && e.getValue() > 0) ? 0 : 1;
        }

        /** The validated options, as the engine's Config. */
        Config config() throws IOException {
            if (urls.isEmpty()) throw usage("at least one URL is needed");
            var uris = new ArrayList<URI>();
            for (String u : urls) uris.add(parseUrl(u));
            for (URI u : uris) {
                if (!u.getHost().equals(uris.getFirst().getHost()) || port(u) != port(uris.getFirst()))
                    throw usage("every URL must name the same host:port (one set of connections serves them all): " + u);
            }
            if (connections < 1) throw usage("connections must be at least 1: " + connections);
            if (threads < 1) throw usage("threads must be at least 1: " + threads);
            if (duration != null && requests != null) throw usage("give -d or -n, not both");
            if (duration != null && (duration.isZero() || duration.isNegative())) throw usage("duration must be positive: " + duration);
            if (requests != null && requests < 1) throw usage("requests must be at least 1: " + requests);
            if (warmup.isNegative()) throw usage("warmup must not be negative");
            if (rate != null && !(rate > 0)) throw usage("rate must be more than 0 requests/s: " + rate + " (leave -R out for a closed loop)");
            if (timeout.isZero() || timeout.isNegative()) throw usage("timeout must be positive: " + timeout);
            if (!method.matches("[!#$%&'*+.^_`|~0-9A-Za-z-]+")) throw usage("not a method name: " + method);
            var hs = new ArrayList<Map.Entry<String, String>>();
            for (String h : headers) {
                int colon = h.indexOf(':');
                if (colon <= 0 || !h.substring(0, colon).matches("[!#$%&'*+.^_`|~0-9A-Za-z-]+") || h.contains("\r") || h.contains("\n"))
                    throw usage("a header is 'Name: value': " + h);
                hs.add(Map.entry(h.substring(0, colon), h.substring(colon + 1).strip()));
            }
            byte[] bodyBytes = new byte[0];
            if (body != null && body.text != null) bodyBytes = body.text.getBytes(StandardCharsets.UTF_8);
            if (body != null && body.file != null) {
                try {
                    bodyBytes = Files.readAllBytes(body.file);
                } catch (NoSuchFileException e) {
                    throw usage("no such body file: " + body.file);
                }
            }
            Duration d = requests != null ? null : duration != null ? duration : Duration.ofSeconds(10);
            boolean longRun = d == null || d.plus(warmup).compareTo(Duration.ofSeconds(2)) > 0;
            Consumer<Progress> progress = quiet || !longRun ? null : p -> {
                if (d == null && p.elapsed().toMillis() < 2000) return;
                System.err.printf("progress: %.0f s, %d requests, %.0f req/s now, %d errors%n",
                        p.elapsed().toMillis() / 1000.0, p.requests(), p.currentRps(), p.errors());
            };
            return new Config(uris, connections, Math.min(threads, connections), mode, d, requests == null ? 0 : requests,
                    warmup, rate == null ? 0 : rate, !noKeepAlive, method, hs, bodyBytes, timeout, hdr, progress);
        }

        private URI parseUrl(String u) {
            URI uri;
            try {
                uri = new URI(u);
            } catch (URISyntaxException e) {
                throw usage("bad URL: " + u + " (" + e.getReason() + ")");
            }
            if ("https".equalsIgnoreCase(uri.getScheme())) throw usage("https is not supported, only http://: " + u);
            if (!"http".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null)
                throw usage("bad URL: " + u + " (expected http://HOST[:PORT]/PATH)");
            return uri;
        }

        private ParameterException usage(String message) { return new ParameterException(spec.commandLine(), message); }
    }

    /** Refuses to start when -c connections cannot all be open at once (as EchoClient does). */
    static void checkOpenFiles(int connections) throws TargetFailed {
        long[] limits = openFilesLimits(Path.of("/proc/self/limits"));
        long soft = limits[0], hard = limits[1];
        if (soft >= 0 && soft < connections + FD_MARGIN) {
            throw new TargetFailed(("open files limit too low: %d for %d connections (raise it with 'ulimit -n %d' in "
                    + "this shell%s, or lower -c)").formatted(soft, connections, connections + FD_MARGIN,
                    hard < connections + FD_MARGIN ? "; the hard limit " + hard + " is set in /etc/security/limits.conf" : ""));
        }
    }

    /**
     * The soft and hard "Max open files" of a process, read from its /proc/PID/limits (Long.MAX_VALUE for unlimited;
     * -1 each when the file cannot be read: not Linux, or the process is gone). Compare reads its servers' with it.
     */
    static long[] openFilesLimits(Path procLimits) {
        try {
            for (String line : Files.readAllLines(procLimits)) {
                if (!line.startsWith("Max open files")) continue;
                String[] f = line.substring("Max open files".length()).trim().split("\\s+");
                return new long[] {f[0].equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(f[0]),
                        f[1].equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(f[1])};
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or the process is gone: nothing to read
        }
        return new long[] {-1, -1};
    }

    // ---------------------------------------------------------------- burst, send, merge: the from-scratch web server's scripts, and logs

    @Command(name = "burst", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = "N concurrent one-shot requests to /io (-i) or /cpu (-c), each printed as it finishes, "
                    + "then the total time (the from-scratch web server's test_my_server).")
    static final class BurstCommand implements Callable<Integer> {
        @ArgGroup(exclusive = true, multiplicity = "1")
        Task task;

        static final class Task {
            @Option(names = "-i", description = "the I/O-bound task: /io") boolean io;
            @Option(names = "-c", description = "the CPU-bound task: /cpu") boolean cpu;
        }

        @Option(names = "-nc", description = "concurrent requests")
        int n = 10;

        @Option(names = "--path", description = "send the requests to this path instead")
        String path;

        @Option(names = "--timeout", converter = DurationConverter.class, description = "per request")
        Duration timeout = Duration.ofSeconds(60);

        @Parameters(index = "0", paramLabel = "HOST") String host;
        @Parameters(index = "1", paramLabel = "PORT") int port;

        @Spec CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            if (n < 1) throw new ParameterException(spec.commandLine(), "-nc must be at least 1: " + n);
            if (port < 1 || port > 65535) throw new ParameterException(spec.commandLine(), "port out of range: " + port);
            checkOpenFiles(n);
            String p = path != null ? path : task.io ? "/io" : "/cpu";
            if (!p.startsWith("/")) p = "/" + p;
            String url = "http://" + host + ":" + port + p;
            BurstResult r = burst(host, port, p, n, timeout, each -> {
                synchronized (System.out) {
                    if (each.error() == null) System.out.printf("%s - Status Code: %d, took %.2f ms%n", url, each.status(), each.ms());
                    else System.out.printf("%s - Error: %s, took %.2f ms%n", url, each.error(), each.ms());
                }
            });
            System.out.printf("Total time taken %.2f ms%n", r.totalMs());
            return r.requests().stream().allMatch(b -> b.error() == null) ? 0 : 1;
        }
    }

    @Command(name = "send", mixinStandardHelpOptions = true, showDefaultValues = true,
            description = "Send raw bytes (\\r \\n \\t \\xHH escapes understood) and print the raw answer as it "
                    + "arrives (the from-scratch web server's send_to_server).")
    static final class SendCommand implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "HOST") String host;
        @Parameters(index = "1", paramLabel = "PORT") int port;
        @Parameters(index = "2", paramLabel = "REQUEST", description = "e.g. 'GET / HTTP/1.1\\r\\nHost: x\\r\\n'") String request;

        @Option(names = "--timeout", converter = DurationConverter.class,
                description = "give up when nothing arrives for this long")
        Duration timeout = Duration.ofSeconds(5);

        @Option(names = "--keep-open", description = "after a response, wait for more (to watch pipelined answers)")
        boolean keepOpen;

        @Spec CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            if (port < 1 || port > 65535) throw new ParameterException(spec.commandLine(), "port out of range: " + port);
            byte[] bytes;
            try {
                bytes = unescape(request);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage());
            }
            if (!hasBlankLine(bytes)) {
                bytes = withBlankLine(bytes);
                System.err.println("Note: the request had no blank line after its header section; \\r\\n added so it ends with one");
            }
            try (var socket = new Socket()) {
                try {
                    socket.connect(new InetSocketAddress(host, port), (int) timeout.toMillis());
                } catch (IOException e) {
                    throw new TargetFailed("cannot connect to " + host + ":" + port + ": " + e.getMessage());
                }
                socket.setTcpNoDelay(true);
                socket.setSoTimeout((int) Math.max(1, timeout.toMillis()));
                socket.getOutputStream().write(bytes);
                InputStream in = socket.getInputStream();
                var parser = new ResponseParser();
                parser.reset(startsWithHead(bytes));
                byte[] buf = new byte[8192];
                boolean answered = false;
                while (true) {
                    int n;
                    try {
                        n = in.read(buf);
                    } catch (SocketTimeoutException e) {
                        if (!answered) System.err.printf("Note: nothing more within %d ms; closing%n", timeout.toMillis());
                        break;
                    } catch (IOException e) {
                        System.err.println("Note: " + e.getMessage());
                        break;
                    }
                    if (n < 0) break;
                    System.out.write(buf, 0, n);
                    System.out.flush();
                    answered = true;
                    if (keepOpen) continue;
                    // Without --keep-open, stop at the end of the first response rather than wait out the timeout.
                    int end = parser.feed(buf, 0, n);
                    if (end >= 0 || end == ResponseParser.MALFORMED) break;
                }
                return answered ? 0 : 1;
            }
        }
    }

    @Command(name = "merge", mixinStandardHelpOptions = true,
            description = "Add up --hdr interval logs (from one machine or several) and print the percentiles of the sum.")
    static final class MergeCommand implements Callable<Integer> {
        @Parameters(arity = "1..*", paramLabel = "FILE") List<File> files;

        @Option(names = "--tag", description = "which histograms: untagged = latency (the default), 'service' = service time")
        String tag;

        @Override
        public Integer call() throws Exception {
            var sum = new Histogram(3);
            for (File f : files) {
                HistogramLogReader reader;
                try {
                    reader = new HistogramLogReader(f);
                } catch (FileNotFoundException e) {
                    throw new TargetFailed("no such log: " + f);
                }
                try (reader) {
                    while (reader.hasNext()) {
                        var h = (Histogram) reader.nextIntervalHistogram();
                        if (h != null && Objects.equals(h.getTag(), tag)) sum.add(h);
                    }
                }
            }
            Latency l = latency(sum);
            System.out.printf("%d requests in %d logs (values in ms)%n", sum.getTotalCount(), files.size());
            System.out.print(latencyTable(List.of(Map.entry(tag == null ? "latency" : tag, l))));
            return 0;
        }
    }

    // ---------------------------------------------------------------- the report: text, JSON

    static String report(Result r, Config c) {
        var b = new StringBuilder();
        b.append("Running %s test @ %s%n".formatted(c.duration() == null ? c.requests() + "-request" : human(c.duration()), r.url()));
        b.append("  %d connections, %s, %s%n".formatted(r.connections(),
                c.mode() == Mode.nio ? c.threads() + " event-loop thread" + (c.threads() == 1 ? "" : "s") : "a virtual thread per connection",
                r.openLoop() ? "open loop at %.0f req/s (latency from each request's intended send time)".formatted(r.targetRps())
                        : "closed loop (each connection sends when its answer arrives)"));
        var rows = new ArrayList<Map.Entry<String, Latency>>();
        rows.add(Map.entry(r.openLoop() ? "latency" : "latency", r.latency()));
        if (r.serviceTime() != null) rows.add(Map.entry("service time", r.serviceTime()));
        b.append(latencyTable(rows));
        b.append("  %d requests in %.2fs, %.2fMB read%n".formatted(r.requests(), r.durationS(), r.bytesPerS() * r.durationS() / 1e6));
        var statuses = new ArrayList<String>();
        r.status().forEach((k, v) -> statuses.add(k + ": " + v));
        b.append("  Status codes: ").append(statuses.isEmpty() ? "none" : String.join(", ", statuses)).append('\n');
        Errors e = r.errors();
        b.append("  Errors: %s%n".formatted(e.total() == 0 ? "none" : "connect %d, read %d, write %d, timeout %d, reset %d, malformed %d"
                .formatted(e.connect(), e.read(), e.write(), e.timeout(), e.reset(), e.malformed())));
        Unanswered u = r.unanswered();
        b.append("  Unanswered at the end: %s%n".formatted(u.count() == 0 ? "none"
                : "%d request%s, waiting for up to %.1f ms (median %.1f ms)".formatted(u.count(), u.count() == 1 ? "" : "s", u.maxAgeMs(), u.medianAgeMs())));
        Fairness f = r.fairness();
        b.append("  Answers per connection: min %d, median %.0f, max %d%s%n".formatted(f.min(), f.median(), f.max(),
                f.starving() ? ", STARVED: %d of %d connections got no answer or under %.0f%% of the mean".formatted(f.starved(), f.connections(), 100 * STARVED_SHARE) : ""));
        b.append("  Generator: %.2f µs CPU per request%s%n".formatted(r.generatorCpuUsPerRequest(),
                r.generatorSaturated() ? ", SATURATED (its threads were busy almost all the run: the figures show this tool's limit, not the server's; add -t or use fewer connections)" : ", not saturated"));
        b.append("Requests/sec: %10.2f%s%n".formatted(r.rps(), r.openLoop() ? "   (target %.2f)".formatted(r.targetRps()) : ""));
        b.append("Transfer/sec: %8.2fMB%n".formatted(r.bytesPerS() / 1e6));
        if (r.openLoop() && r.rps() < r.targetRps() * (1 - RATE_SHORTFALL_WARNING)) {
            b.append("Warning: reached %.0f req/s, %.0f%% short of the %.0f req/s target: the server (or this generator) could not keep up%n"
                    .formatted(r.rps(), 100 * (1 - r.rps() / r.targetRps()), r.targetRps()));
        }
        return b.toString();
    }

    static String latencyTable(List<Map.Entry<String, Latency>> rows) {
        var b = new StringBuilder();
        b.append("  %-14s %9s %9s %9s %9s %9s %9s %9s %9s%n".formatted("ms", "p50", "p75", "p90", "p99", "p99.9", "p99.99", "max", "mean"));
        for (var row : rows) {
            Latency l = row.getValue();
            b.append("  %-14s %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f%n".formatted(row.getKey(), l.p50(), l.p75(),
                    l.p90(), l.p99(), l.p999(), l.p9999(), l.max(), l.mean()));
        }
        return b.toString();
    }

    /** The --json shape docs/loadtest.md documents. */
    static String toJson(Result r) {
        var m = new LinkedHashMap<String, Object>();
        m.put("url", r.url());
        m.put("loop", r.openLoop() ? "open" : "closed");
        m.put("connections", r.connections());
        m.put("duration_s", round(r.durationS()));
        m.put("requests", r.requests());
        m.put("rps", round(r.rps()));
        m.put("target_rps", round(r.targetRps()));
        m.put("bytes_per_s", round(r.bytesPerS()));
        m.put("latency_ms", latencyJson(r.latency()));
        if (r.serviceTime() != null) m.put("service_time_ms", latencyJson(r.serviceTime()));
        var status = new LinkedHashMap<String, Long>();
        r.status().forEach((k, v) -> status.put(String.valueOf(k), v));
        m.put("status", status);
        Errors e = r.errors();
        var errors = new LinkedHashMap<String, Long>();
        errors.put("connect", e.connect());
        errors.put("read", e.read());
        errors.put("write", e.write());
        errors.put("timeout", e.timeout());
        errors.put("reset", e.reset());
        errors.put("malformed", e.malformed());
        m.put("errors", errors);
        m.put("generator_cpu_us_per_request", round(r.generatorCpuUsPerRequest()));
        m.put("generator_saturated", r.generatorSaturated());
        Unanswered u = r.unanswered();
        var unanswered = new LinkedHashMap<String, Object>();
        unanswered.put("count", u.count());
        unanswered.put("max_age_ms", round(u.maxAgeMs()));
        unanswered.put("median_age_ms", round(u.medianAgeMs()));
        m.put("unanswered", unanswered);
        Fairness f = r.fairness();
        var fairness = new LinkedHashMap<String, Object>();
        fairness.put("min", f.min());
        fairness.put("median", round(f.median()));
        fairness.put("max", f.max());
        fairness.put("starved", f.starved());
        m.put("answers_per_connection", fairness);
        return JsonMapper.builder().build().writeValueAsString(m);
    }

    private static Map<String, Double> latencyJson(Latency l) {
        var m = new LinkedHashMap<String, Double>();
        m.put("p50", round(l.p50()));
        m.put("p75", round(l.p75()));
        m.put("p90", round(l.p90()));
        m.put("p99", round(l.p99()));
        m.put("p999", round(l.p999()));
        m.put("p9999", round(l.p9999()));
        m.put("max", round(l.max()));
        m.put("mean", round(l.mean()));
        return m;
    }

    private static double round(double v) { return Math.round(v * 1000) / 1000.0; }

    // ---------------------------------------------------------------- small infrastructure

    /** `10s`, `500ms`, `1m`, `2h`, `1.5s`, or a plain number of seconds. */
    static final class DurationConverter implements ITypeConverter<Duration> {
        private static final Pattern FORMAT = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|s|m|h)?");

        @Override
        public Duration convert(String value) {
            Matcher m = FORMAT.matcher(value.trim().toLowerCase(Locale.ROOT));
            if (!m.matches()) throw new CommandLine.TypeConversionException("not a duration: '" + value + "' (e.g. 10s, 500ms, 1m)");
            double n = Double.parseDouble(m.group(1));
            double ms = n * switch (m.group(2) == null ? "s" : m.group(2)) {
                case "ms" -> 1;
                case "m" -> 60_000;
                case "h" -> 3_600_000;
                default -> 1000;
            };
            return Duration.ofNanos((long) (ms * 1e6));
        }
    }

    static String human(Duration d) {
        long ms = d.toMillis();
        return ms % 1000 != 0 ? ms + "ms" : ms % 60_000 != 0 || ms == 0 ? ms / 1000 + "s" : ms / 60_000 + "m";
    }

    /** send's escapes: \r \n \t \\ and \xHH; anything else after a backslash is an error. */
    static byte[] unescape(String s) {
        var out = new ByteArrayOutputStream();
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch != '\\') {
                if (ch > 0xff) out.writeBytes(String.valueOf(ch).getBytes(StandardCharsets.UTF_8));
                else out.write(ch);
                continue;
            }
            if (++i == s.length()) throw new IllegalArgumentException("a lone backslash at the end of the request");
            switch (s.charAt(i)) {
                case 'r' -> out.write('\r');
                case 'n' -> out.write('\n');
                case 't' -> out.write('\t');
                case '\\' -> out.write('\\');
                case 'x' -> {
                    String hex = s.substring(i + 1, Math.min(s.length(), i + 3));
                    if (!hex.matches("[0-9a-fA-F]{2}")) throw new IllegalArgumentException("\\x needs two hex digits: \\x" + hex);
                    out.write(Integer.parseInt(hex, 16));
                    i += 2;
                }
                default -> throw new IllegalArgumentException("unknown escape \\" + s.charAt(i) + " (known: \\r \\n \\t \\\\ \\xHH)");
            }
        }
        return out.toByteArray();
    }

    /** True if the bytes hold the blank line that ends a header section (CRLF CRLF, or bare LF LF). */
    static boolean hasBlankLine(byte[] b) {
        for (int i = 1; i < b.length; i++) {
            if (b[i] != '\n') continue;
            if (b[i - 1] == '\n') return true;
            if (i >= 3 && b[i - 1] == '\r' && b[i - 2] == '\n' && b[i - 3] == '\r') return true;
        }
        return false;
    }

    /** The request with CRLFs added so it ends with the blank line. */
    static byte[] withBlankLine(byte[] b) {
        int endsWithCrlf = b.length >= 2 && b[b.length - 2] == '\r' && b[b.length - 1] == '\n' ? 1 : 0;
        byte[] tail = endsWithCrlf == 1 ? new byte[] {'\r', '\n'} : new byte[] {'\r', '\n', '\r', '\n'};
        byte[] out = new byte[b.length + tail.length];
        System.arraycopy(b, 0, out, 0, b.length);
        System.arraycopy(tail, 0, out, b.length, tail.length);
        return out;
    }

    static boolean startsWithHead(byte[] b) {
        return b.length >= 5 && b[0] == 'H' && b[1] == 'E' && b[2] == 'A' && b[3] == 'D' && b[4] == ' ';
    }
}
