// A server run out of file descriptors, for EchoServerTest, PrimeEchoServerTest and SimpleHttpServerTest
// (pulled in with `//SOURCES Scarce.java`, after TestKit.java). The server runs as a real process under
// `prlimit --nofile=N:N`; the test holds one connection open, then opens more connections than the limit allows,
// and checks what a scarce machine needs: the server neither spins (its CPU time, from /proc/PID/stat, stays low)
// nor floods its log (stderr bytes), it keeps serving the connection it already had, and it accepts again once
// the clients have gone. It also holds the check of `--help`'s trade-off lines that the three scripts share.

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.*;

public final class Scarce implements AutoCloseable {
    /**
     * How long the server is kept out of file descriptors: until a loop that spins in this JVM (the yardstick, one
     * thread, as a spinning accept loop is) has used this much CPU time. On a busy machine the episode lasts longer
     * in wall time, and a spinning server gets the same share of the cores as the yardstick.
     */
    static final Duration EPISODE_CPU = Duration.ofMillis(1000);
    /** Round trips on the held connection during the episode, spread over it (by the yardstick's CPU time). */
    static final int EPISODE_ROUND_TRIPS = 10;
    /** The server's CPU time over the episode stays below the yardstick's divided by this (a spinning server: about 1). */
    static final int SPIN_MARGIN = 6;
    /** Its stderr over the episode stays below this many bytes (one line when it starts, one when it ends). */
    static final int STDERR_BOUND = 2_000;
    /** After a flood, how often a new connection closed before its first answer is tried again (100 ms apart). */
    static final int FIRST_ANSWER_ATTEMPTS = 50;
    /** Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
    static final int TICKS_PER_SECOND = 100;

    final Process process;
    private final ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    private final ByteArrayOutputStream stderr = new ByteArrayOutputStream();
    private final CompletableFuture<Integer> port = new CompletableFuture<>();

    /** What a test does with one connection: its first contact (a handshake, or nothing) and one round trip. */
    interface Talk {
        void hello(Wire c) throws IOException;

        void roundTrip(Wire c) throws IOException;
    }

    private Scarce(Process p) {
        this.process = p;
        Thread.ofPlatform().daemon().start(() -> copy(p.getInputStream(), stdout, true));
        Thread.ofPlatform().daemon().start(() -> copy(p.getErrorStream(), stderr, false));
    }

    /**
     * `prlimit --nofile=N:N java ...` in the project root, as `ulimit -n N` then `./jbang args...` would run it: the
     * launcher prints the java command (JBANG_LAUNCHER_PRINT=1; when the script needs building, JBang builds it first,
     * with the normal limit: its compiler needs far more files than the server), then bash execs prlimit, which execs
     * java: the pid is the server's.
     */
    static Scarce start(int openFiles, String... args) throws Exception {
        var cmd = new ArrayList<>(List.of("bash", "-c", "command=$(JBANG_LAUNCHER_PRINT=1 \"$0\" \"$@\") || exit; "
                + "eval \"exec prlimit --nofile=" + openFiles + ":" + openFiles + " $command\"", TestKit.projectRoot().resolve("jbang").toString()));
        cmd.addAll(List.of(args));
        return new Scarce(new ProcessBuilder(cmd).directory(TestKit.projectRoot().toFile()).start());
    }

    private void copy(InputStream in, ByteArrayOutputStream to, boolean findReady) {
        byte[] buf = new byte[8192];
        try (in) {
            for (int n; (n = in.read(buf)) > 0; ) {
                synchronized (to) {
                    to.write(buf, 0, n);
                    to.notifyAll();
                }
                if (findReady && !port.isDone()) {
                    String out = text(stdout), whole = out.substring(0, out.lastIndexOf('\n') + 1);   // complete lines only
                    whole.lines().flatMap(l -> ReadyLine.of(l).stream()).findFirst().ifPresent(ready -> port.complete(ready.port()));
                }
            }
        } catch (IOException ignored) {
            // the process ended
        }
        if (findReady) port.completeExceptionally(new IllegalStateException("exited before the ready line: " + text(stdout) + text(stderr)));
    }

    private static String text(ByteArrayOutputStream b) {
        synchronized (b) {
            return b.toString(StandardCharsets.UTF_8);
        }
    }

    int port() throws Exception { return port.get(120, TimeUnit.SECONDS); }

    String stderr() { return text(stderr); }

    String stdout() { return text(stdout); }

    long stderrBytes() {
        synchronized (stderr) {
            return stderr.size();
        }
    }

    /** Waits until stderr holds the text (a line the server logs on its own), or fails after 20 s. */
    void awaitStderr(String text) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        synchronized (stderr) {
            while (!text(stderr).contains(text)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) fail("no '" + text + "' on stderr within 20 s; stderr:\n" + text(stderr) + "\nstdout:\n" + text(stdout));
                TimeUnit.NANOSECONDS.timedWait(stderr, left);
            }
        }
    }

    /** The server's CPU time so far (user + system, every thread), from /proc/PID/stat. */
    Duration cpuTime() throws IOException {
        String stat = Files.readString(Path.of("/proc/" + process.pid() + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]); // fields 14 and 15: utime, stime
        return Duration.ofMillis(ticks * 1000 / TICKS_PER_SECOND);
    }

    /**
     * The scenario: one connection held, then `flood` more connections than the server can have open, kept for
     * an episode (EPISODE_CPU) while the held one is used; then the flood closes and a new connection must be served.
     * `episodeStarted` waits for whatever shows that the server has hit the limit (it gets the flood's connections).
     */
    void runOutOfFileDescriptors(int flood, Talk talk, Consumer<List<Wire>> episodeStarted) throws Exception {
        int port = port();
        try (var held = new Wire(port)) {
            talk.hello(held);
            talk.roundTrip(held);
            Duration cpuBefore = cpuTime();
            long stderrBefore = stderrBytes();
            var connections = new ArrayList<Wire>();
            try {
                // The kernel completes these connects on its own (listen backlog): the server cannot accept them all.
                for (int i = 0; i < flood; i++) connections.add(new Wire(port));
                episodeStarted.accept(connections);
                // The episode: the server is out of file descriptors while the yardstick spins, during which a loop
                // that spins would burn CPU and a loop that logs every failure would fill stderr. The connection it
                // already had is served throughout: a fixed number of round trips, each of which must be answered
                // (roundTrip fails otherwise), spread over the yardstick's CPU time.
                try (var yardstick = new Yardstick()) {
                    for (int i = 1; i <= EPISODE_ROUND_TRIPS; i++) {
                        talk.roundTrip(held);
                        yardstick.awaitUsed(EPISODE_CPU.multipliedBy(i).dividedBy(EPISODE_ROUND_TRIPS));
                    }
                    // ... and they were served inside the episode: the server has not yet said it accepts again (it
                    // can only do that once the flood is gone, which it is not yet).
                    assertFalse(stderr().contains("accepting again"), "the episode ended while the flood was still "
                            + "connected, so the round trips did not test a server out of descriptors: " + tail(stderr()));
                    assertNeitherSpunNorFlooded(cpuBefore, stderrBefore, yardstick.used());
                }
            } finally {
                for (var c : connections) c.close();
            }
            talk.roundTrip(held);
        }
        try (var fresh = new Wire(port)) {
            talk.hello(fresh);
            talk.roundTrip(fresh);
        }
    }

    /**
     * The scenario at start-up: right after the ready line, before any client has been served, `flood` connections
     * at once, more than the server can have open, held for an episode (EPISODE_CPU); whatever a mode starts lazily
     * at its first connection (the JDK's poller for virtual threads, a library's classes) would then start while
     * descriptors are exhausted. `episodeStarted` may use a connection of the flood that the server accepted. The server must
     * neither spin nor flood its log meanwhile, nor ever log a class that failed to initialise. Then `keepAlive` new
     * connections each make two round trips: the second request reaches a server that is waiting for it, so a
     * connection that can no longer wait on a socket fails there.
     */
    void floodAtStartUp(int flood, int keepAlive, Talk talk, Consumer<List<Wire>> episodeStarted) throws Exception {
        int port = port();
        var connections = new ArrayList<Wire>();
        try {
            for (int i = 0; i < flood; i++) connections.add(new Wire(port));
            episodeStarted.accept(connections);
            // Measured from here: what episodeStarted asked of the server (a first request loads classes) is not spinning.
            Duration cpuBefore = cpuTime();
            long stderrBefore = stderrBytes();
            // The episode: the server is out of file descriptors while the yardstick spins (see runOutOfFileDescriptors).
            try (var yardstick = new Yardstick()) {
                yardstick.awaitUsed(EPISODE_CPU);
                assertNeitherSpunNorFlooded(cpuBefore, stderrBefore, yardstick.used());
            }
        } finally {
            for (var c : connections) c.close();
        }
        for (int i = 1; i <= keepAlive; i++) {
            // A server with a connection cap (the JDK's) may count the flood's connections a moment longer and close a
            // new one before its first answer: such a connection (an IOException) is tried again, up to a bound. A
            // wrong answer is never retried, nor the second round trip on a connection that got its first answer.
            Wire c = null;
            for (int attempt = 1; c == null; attempt++) {
                var tried = new Wire(port);
                try {
                    talk.hello(tried);
                    talk.roundTrip(tried);
                    c = tried;
                } catch (IOException e) {
                    tried.close();
                    if (attempt == FIRST_ANSWER_ATTEMPTS) fail("keep-alive connection " + i + " of " + keepAlive + " after the flood got no first "
                            + "answer in " + attempt + " attempts: " + e + "\nstderr: " + tail(stderr()));
                    Thread.sleep(100);
                }
            }
            try (var answered = c) {
                talk.roundTrip(answered);
            } catch (IOException | AssertionError e) {
                fail("keep-alive connection " + i + " of " + keepAlive + " after the flood: no answer to its second request: " + e
                        + "\nstderr: " + tail(stderr()));
            }
        }
        for (String broken : List.of("ExceptionInInitializerError", "NoClassDefFoundError"))
            assertFalse(stderr().contains(broken), "a class failed to initialise while out of descriptors: " + tail(stderr()));
    }

    /**
     * Since cpuBefore and stderrBefore (an episode out of file descriptors, while the yardstick used `spun` of CPU):
     * little CPU used, little logged.
     */
    private void assertNeitherSpunNorFlooded(Duration cpuBefore, long stderrBefore, Duration spun) throws IOException {
        Duration cpu = cpuTime().minus(cpuBefore);
        long logged = stderrBytes() - stderrBefore;
        System.out.printf("        episode: server CPU %d ms, the spinning yardstick's %d ms%n", cpu.toMillis(), spun.toMillis());
        assertTrue(cpu.multipliedBy(SPIN_MARGIN).compareTo(spun) < 0, "the server used " + cpu.toMillis() + " ms of CPU while out of "
                + "file descriptors, more than 1/" + SPIN_MARGIN + " of the " + spun.toMillis() + " ms a spinning loop used meanwhile "
                + "(it spins); stderr: " + tail(stderr()));
        assertTrue(logged < STDERR_BOUND, "the server wrote " + logged + " bytes to stderr while out of file "
                + "descriptors (it logs every failure): " + tail(stderr()));
    }

    /** Waits for a line the server logs on its own, for runOutOfFileDescriptors' `episodeStarted`. */
    Consumer<List<Wire>> untilStderrSays(String text) {
        return flood -> {
            try {
                awaitStderr(text);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        };
    }

    /**
     * After runOutOfFileDescriptors, for a server that logs its accepts: the episode was said once, with the limit
     * and how to raise it, and its end once, every line starting with a timestamp.
     */
    void assertTheEpisodeWasLoggedOnce(int openFiles) throws InterruptedException {
        awaitStderr("accepting again: ");
        var lines = stderr().lines().toList();
        var failed = lines.stream().filter(l -> l.contains("accept failed")).toList();
        assertEquals(1, failed.size(), "one line per episode: " + stderr());
        assertTrue(failed.getFirst().contains("Too many open files") && failed.getFirst().contains("the open-files limit is "
                + openFiles + "; raise it with ulimit -n"), "the line says which limit and how to raise it: " + failed);
        assertEquals(1, lines.stream().filter(l -> l.contains("accepting again: ")).count(), stderr());
        for (String l : lines) assertTrue(l.matches(TIMESTAMP + ".*"), "every log line starts with a timestamp: " + l);
    }

    /** A log line's timestamp: UTC, to the millisecond, then a space. */
    static final String TIMESTAMP = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z ";

    /** `--help` names each of `modes` modes with its trade-off: exactly these lines, under the Modes heading. */
    static void assertEachModeHasItsTradeOffLine(String help, int modes, List<String> expected) {
        var lines = help.lines().toList();
        int heading = lines.indexOf("Modes (-m), each with its trade-off:");
        assertTrue(heading >= 0, "no Modes heading in:\n" + help);
        var section = lines.subList(heading + 1, lines.size());
        for (String line : expected)
            assertTrue(section.contains(line), "missing the line '" + line + "' under the Modes heading in:\n" + help);
        assertEquals(modes, section.stream().filter(l -> l.matches("  [a-z]+ +\\S.*")).count(), help);
    }

    /**
     * A loop that spins on one core, in this JVM, as an accept loop that never waits would: the yardstick of an
     * episode. It reads its own CPU time (ThreadMXBean) as it goes, and ends at EPISODE_CPU or when closed.
     */
    static final class Yardstick implements AutoCloseable {
        private final Thread thread;
        private long usedNanos;   // guarded by this
        volatile long sink;       // keeps the loop's arithmetic from being optimised away

        Yardstick() {
            thread = Thread.ofPlatform().daemon().name("spinning-yardstick").start(() -> {
                var mx = ManagementFactory.getThreadMXBean();
                long start = mx.getCurrentThreadCpuTime(), x = 0, used = 0;
                while (used < EPISODE_CPU.toNanos() && !Thread.currentThread().isInterrupted()) {
                    for (int i = 0; i < 200_000; i++) x = x * 31 + i;
                    used = mx.getCurrentThreadCpuTime() - start;
                    synchronized (this) {
                        usedNanos = used;
                        notifyAll();
                    }
                }
                sink = x;
            });
        }

        /** Waits (without spinning) until the yardstick has used this much CPU time, at most EPISODE_CPU. */
        synchronized void awaitUsed(Duration d) throws InterruptedException {
            while (usedNanos < Math.min(d.toNanos(), EPISODE_CPU.toNanos())) wait();
        }

        synchronized Duration used() { return Duration.ofNanos(usedNanos); }

        @Override public void close() { thread.interrupt(); }
    }

    static String tail(String s) { return s.length() <= 2_000 ? s : "..." + s.substring(s.length() - 2_000); }

    /** Ends the server (SIGKILL: its exit code does not matter here). */
    @Override public void close() {
        process.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
    }
}
