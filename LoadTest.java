///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//DEPS info.picocli:picocli:4.7.7
//DEPS tools.jackson.core:jackson-databind:3.3.0
//DEPS org.hdrhistogram:HdrHistogram:2.2.2
//DESCRIPTION An HTTP/1.1 load generator with honest latency (closed or open loop), plus burst and send.

// LoadTest: the engine under construction; the public API below is the one Compare.java is written against.

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.function.Consumer;

public class LoadTest {
    public static void main(String[] args) {
        System.err.println("Error: LoadTest is not finished yet");
        System.exit(1);
    }

    public enum Mode { nio, virtual }

    public record Config(List<URI> urls, int connections, int threads, Mode mode, Duration duration, long requests,
                         Duration warmup, double rate, boolean keepAlive, String method,
                         List<Map.Entry<String, String>> headers, byte[] body, Duration timeout, Path hdrLog,
                         Consumer<Progress> progress) {
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
        public Config withProgress(Consumer<Progress> p) { return new Config(urls, connections, threads, mode, duration, requests, warmup, rate, keepAlive, method, headers, body, timeout, hdrLog, p); }
    }

    public record Progress(Duration elapsed, long requests, double currentRps, long errors) {}

    public record Latency(double p50, double p75, double p90, double p99, double p999, double p9999, double max, double mean) {}

    public record Errors(long connect, long read, long write, long timeout, long reset, long malformed) {
        public long total() { return connect + read + write + timeout + reset + malformed; }
    }

    public record Result(String url, boolean openLoop, int connections, double durationS, long requests, double rps,
                         double targetRps, double bytesPerS, Latency latency, Latency serviceTime,
                         SortedMap<Integer, Long> status, Errors errors, double generatorCpuUsPerRequest,
                         boolean generatorSaturated) {}

    public static Result run(Config c) throws IOException, InterruptedException {
        throw new UnsupportedOperationException("LoadTest.run: engine not written yet");
    }

    public record BurstResult(List<BurstRequest> requests, double totalMs) {}

    public record BurstRequest(int index, int status, String error, double ms, long finishedNanos) {}

    public static BurstResult burst(String host, int port, String path, int n, Duration timeout, Consumer<BurstRequest> onEach)
            throws InterruptedException {
        throw new UnsupportedOperationException("LoadTest.burst: not written yet");
    }
}
