///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//DEPS info.picocli:picocli:4.7.7
//DESCRIPTION Benchmarks PrimeEchoServer's modes: echo round trips per second, latency, and echoes served beside a long prime.

// For each mode it starts `./jbang PrimeEchoServer.java -q -p 0 -m MODE` as a real process, then:
//  1. throughput: -c connections in a closed loop (send ^hello$, wait for ifmmp, repeat) for -d seconds, after a
//     warm-up run, -r times; it prints the median round trips per second (min-max), its ratio to the virtual mode
//     measured in the same run, how many connections were served at all, and the median and p99 latency. Closed loop: a slow server gets fewer requests, so
//     the latencies are not corrected for coordinated omission. Connections a model never serves (sequential, pool
//     beyond -w) simply do no round trips.
//  2. stall: one connection asks P2305843009213693951 (about 3 s of trial division); another, connected right after,
//     does echo round trips until the answer comes. It prints how many echoes were answered during the check and
//     the slowest one: the cost of blocking, per model, including nio with --no-offload.
// Run it from the project root:  ./jbang bench/PrimeEchoBench.java       (about 2 minutes with the defaults)
// Only 127.0.0.1; every server it starts is stopped, also on Ctrl-C.

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

@Command(name = "PrimeEchoBench", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = "Echo round trips per second and latency for every PrimeEchoServer mode, and echoes served beside a long prime.")
public class PrimeEchoBench implements Callable<Integer> {
    static final String LONG_PRIME = "^P2305843009213693951$";
    static final byte[] ECHO = "^hello$".getBytes(StandardCharsets.US_ASCII);
    static final int ECHO_REPLY = 5; // ifmmp
    static final Pattern READY = Pattern.compile("Listening on tcp://[^ ]+:(\\d+) ");

    @Option(names = {"-c", "--connections"}, description = "concurrent connections in the throughput runs")
    int connections = 50;

    @Option(names = {"-d", "--duration"}, description = "seconds per throughput run")
    int seconds = 3;

    @Option(names = {"-r", "--runs"}, description = "measured throughput runs per mode (after one warm-up run)")
    int runs = 3;

    @Option(names = "--configs", split = ",", description = "server arguments to compare, each a comma-separated item; "
            + "the first is the baseline of the ratio")
    List<String> configs = List.of("-m virtual", "-m sequential", "-m thread", "-m pool", "-m nio", "-m async",
            "-m nio --no-offload");

    record Throughput(double perSecond, long p50Micros, long p99Micros, int served) {}

    record Stall(long checkMillis, int echoes, long worstMillis) {}

    public static void main(String[] args) { System.exit(new CommandLine(new PrimeEchoBench()).execute(args)); }

    @Override
    public Integer call() throws Exception {
        Path root = Path.of("").toAbsolutePath();
        if (!Files.isExecutable(root.resolve("jbang")) || !Files.exists(root.resolve("PrimeEchoServer.java"))) {
            System.err.println("Error: run it from the project root: ./jbang bench/PrimeEchoBench.java");
            return 1;
        }
        System.out.printf("PrimeEchoBench: %d connections, %d x %d s runs after a warm-up; %s; load before: %s%n",
                connections, runs, seconds, Runtime.version(), load());
        var results = new LinkedHashMap<String, List<Throughput>>();
        var stalls = new LinkedHashMap<String, Stall>();
        for (String config : configs) {
            try (var server = Server.start(root, config)) {
                run(server.port); // warm-up: JIT, thread pools
                var list = new ArrayList<Throughput>();
                for (int i = 0; i < runs; i++) list.add(run(server.port));
                results.put(config, list);
                stalls.put(config, stall(server.port));
            }
            System.out.printf("  done: %s (load %s)%n", config, load());
        }
        double baseline = median(results.values().iterator().next());
        System.out.printf("%n%-22s %22s %6s %7s %8s %8s   %s%n", "server", "round trips/s (min-max)", "ratio", "served", "p50 us", "p99 us",
                "beside 2^61-1: echoes answered, slowest");
        for (var e : results.entrySet()) {
            var list = e.getValue();
            var mid = list.stream().sorted((a, b) -> Double.compare(a.perSecond(), b.perSecond())).toList().get(list.size() / 2);
            double min = list.stream().mapToDouble(Throughput::perSecond).min().orElse(0);
            double max = list.stream().mapToDouble(Throughput::perSecond).max().orElse(0);
            Stall s = stalls.get(e.getKey());
            System.out.printf("%-22s %8.0f (%5.0f-%5.0f) %6.2f %3d/%-3d %8d %8d   %d in %d ms, slowest %d ms%n", e.getKey(), mid.perSecond(),
                    min, max, baseline > 0 ? mid.perSecond() / baseline : 0, mid.served(), connections, mid.p50Micros(), mid.p99Micros(),
                    s.echoes(), s.checkMillis(), s.worstMillis());
        }
        System.out.printf("load after: %s%n", load());
        return 0;
    }

    /** One closed-loop run: every connection does echo round trips until the deadline. */
    Throughput run(int port) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
            var futures = new ArrayList<Future<long[]>>();
            for (int i = 0; i < connections; i++) futures.add(threads.submit(() -> loop(port, deadline)));
            long[] all = new long[0];
            int served = 0;
            for (var f : futures) {
                long[] one = f.get();
                if (one.length > 0) served++;
                int at = all.length;
                all = Arrays.copyOf(all, at + one.length);
                System.arraycopy(one, 0, all, at, one.length);
            }
            Arrays.sort(all);
            if (all.length == 0) return new Throughput(0, 0, 0, 0);
            return new Throughput(all.length / (double) seconds, all[all.length / 2] / 1000, all[(int) (all.length * 0.99)] / 1000, served);
        }
    }

    /** The latencies (ns) of one connection's round trips before the deadline; none if it is never served. */
    static long[] loop(int port, long deadline) throws IOException {
        long[] lat = new long[1024];
        int n = 0;
        try (var s = open(port, deadline)) {
            if (s == null) return new long[0];
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            while (System.nanoTime() < deadline) {
                long t = System.nanoTime();
                out.write(ECHO);
                if (!readFully(s, in, ECHO_REPLY, deadline)) break;
                if (n == lat.length) lat = Arrays.copyOf(lat, n * 2);
                lat[n++] = System.nanoTime() - t;
            }
        }
        return Arrays.copyOf(lat, n);
    }

    /** While one connection has 2^61-1 checked, another does echo round trips: how many, and the slowest. */
    static Stall stall(int port) throws Exception {
        long far = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        try (var slow = open(port, far); var threads = Executors.newVirtualThreadPerTaskExecutor()) {
            var answered = new CompletableFuture<Long>();
            long started = System.nanoTime();
            slow.getOutputStream().write(LONG_PRIME.getBytes(StandardCharsets.US_ASCII));
            threads.submit(() -> {
                var in = slow.getInputStream();
                while (in.read() != '\n') { }
                answered.complete(System.nanoTime());
                slow.close(); // lets a sequential server move on
                return null;
            });
            int echoes = 0;
            long worst = 0;
            long connecting = System.nanoTime();
            try (var probe = open(port, far)) {
                worst = System.nanoTime() - connecting; // a sequential server greets it only after the check
                InputStream in = probe.getInputStream();
                while (!answered.isDone()) {
                    long t = System.nanoTime();
                    probe.getOutputStream().write(ECHO);
                    if (!readFully(probe, in, ECHO_REPLY, far)) break;
                    long done = System.nanoTime();
                    worst = Math.max(worst, done - t);
                    if (!answered.isDone() || answered.get() > done) echoes++;
                }
            }
            long check = (answered.get(120, TimeUnit.SECONDS) - started) / 1_000_000;
            return new Stall(check, echoes, worst / 1_000_000);
        }
    }

    /** Connects and reads the '*', or returns null if the server does not greet before the deadline. */
    static Socket open(int port, long deadline) throws IOException {
        var s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
        s.setTcpNoDelay(true);
        if (readFully(s, s.getInputStream(), 1, deadline)) return s;
        s.close();
        return null;
    }

    /** Reads n bytes, giving up (false) at the deadline or at end of stream. */
    static boolean readFully(Socket s, InputStream in, int n, long deadline) throws IOException {
        for (int got = 0; got < n; got++) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) return false;
            s.setSoTimeout((int) Math.min(left, Integer.MAX_VALUE));
            try {
                if (in.read() < 0) return false;
            } catch (SocketTimeoutException e) {
                return false;
            }
        }
        return true;
    }

    static double median(List<Throughput> list) {
        double[] v = list.stream().mapToDouble(Throughput::perSecond).sorted().toArray();
        return v.length == 0 ? 0 : v[v.length / 2];
    }

    static String load() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).strip();
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** A PrimeEchoServer process, started through the launcher, stopped on close (and on Ctrl-C). */
    record Server(Process process, int port) implements AutoCloseable {
        static Server start(Path root, String config) throws Exception {
            var cmd = new ArrayList<>(List.of(root.resolve("jbang").toString(), "PrimeEchoServer.java", "-q", "-p", "0"));
            cmd.addAll(List.of(config.trim().split("\\s+")));
            Process p = new ProcessBuilder(cmd).directory(root.toFile()).redirectErrorStream(true).start();
            Runtime.getRuntime().addShutdownHook(new Thread(p::destroyForcibly));
            var reader = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            for (String line; (line = reader.readLine()) != null; ) {
                var m = READY.matcher(line);
                if (m.find()) {
                    Thread.ofVirtual().start(() -> reader.lines().forEach(l -> { })); // keep draining its output
                    return new Server(p, Integer.parseInt(m.group(1)));
                }
            }
            p.destroyForcibly();
            throw new IOException("server exited before its ready line: " + cmd);
        }

        @Override public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly();
        }
    }
}
