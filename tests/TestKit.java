//DEPS org.junit.jupiter:junit-jupiter:6.0.3
//DEPS org.junit.platform:junit-platform-launcher:6.0.3
//SOURCES ../compare/Wire.java
//SOURCES ../compare/ReadyLine.java

// The small kit every test script shares (pulled in with `//SOURCES TestKit.java`):
// - run(...) runs JUnit test classes, prints one line per test and ends with "Name: N passed, N failed, N skipped";
// - Wire (compare/Wire.java, the client Compare's contract checks use) is the raw TCP client for byte-level
//   conversations, HTTP or not, with a read timeout on every call;
// - ServerProcess starts a script as a real subprocess and reads the port from its ready line (compare/ReadyLine.java,
//   the parser Compare uses).
// Nothing here mocks a socket: every test talks to a real server on 127.0.0.1.

import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.MethodFilter;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

public final class TestKit {
    private TestKit() {}

    // ---------------------------------------------------------------- running tests

    /**
     * Runs the given JUnit classes, prints each result, ends with "name: N passed, N failed, N skipped", exits 1 on a
     * failure. A skip is a test that says it does not apply (an aborted assumption, a disabled test): counted and
     * shown, never a pass. A missing tool is not a skip: it is a failure that names the tool.
     */
    public static void run(String name, Class<?>... classes) {
        var builder = LauncherDiscoveryRequestBuilder.request()
                .selectors(Arrays.stream(classes).map(c -> selectClass(c)).toList())
                .configurationParameter("junit.jupiter.execution.timeout.default", "120 s");
        // While working on a few tests: TESTKIT_ONLY=regex runs only the test methods whose name matches (said on the
        // first line; tests/run never sets it).
        String only = System.getenv("TESTKIT_ONLY");
        if (only != null && !only.isEmpty()) {
            System.out.println("(only the test methods matching TESTKIT_ONLY=" + only + ")");
            builder.filters(MethodFilter.includeMethodNamePatterns(".*[#.](" + only + ")"));
        }
        var request = builder.build();
        var passed = new AtomicInteger();
        var failed = new AtomicInteger();
        var skipped = new AtomicInteger();
        var listener = new TestExecutionListener() {
            final Map<TestIdentifier, Long> started = new ConcurrentHashMap<>();

            @Override public void executionStarted(TestIdentifier id) { started.put(id, System.nanoTime()); }

            @Override public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                long ms = (System.nanoTime() - started.getOrDefault(id, System.nanoTime())) / 1_000_000;
                if (!id.isTest() && result.getStatus() == TestExecutionResult.Status.SUCCESSFUL) return;
                String label = label(id);
                switch (result.getStatus()) {
                    case SUCCESSFUL -> { passed.incrementAndGet(); System.out.printf("  ok    %s (%d ms)%n", label, ms); }
                    case ABORTED -> {
                        skipped.incrementAndGet();
                        System.out.printf("  skip  %s: %s%n", label, result.getThrowable().map(Throwable::getMessage).orElse(""));
                    }
                    case FAILED -> {
                        failed.incrementAndGet();
                        Throwable t = result.getThrowable().orElse(null);
                        System.out.printf("  FAIL  %s (%d ms)%n", label, ms);
                        if (t != null) {
                            System.out.println("        " + String.valueOf(t).replace("\n", "\n        "));
                            if (!(t instanceof AssertionError)) {
                                for (var e : t.getStackTrace()) {
                                    if (e.getClassName().startsWith("java.lang.reflect") || e.getClassName().startsWith("org.junit")) break;
                                    System.out.println("          at " + e);
                                }
                            }
                        }
                    }
                }
            }

            @Override public void executionSkipped(TestIdentifier id, String reason) {
                skipped.incrementAndGet();
                System.out.printf("  skip  %s: %s%n", label(id), reason);
            }

            /** "Class > method [parameters]", read off the unique id JUnit gives every test. */
            String label(TestIdentifier id) {
                String uid = id.getUniqueId(), cls = "", method = "";
                Matcher m = Pattern.compile("\\[(class|nested-class|method|test-template):([^\\]]*)\\]").matcher(uid);
                while (m.find()) {
                    if (m.group(1).endsWith("class")) cls = m.group(2).replaceAll(".*[.$]", "");
                    else method = m.group(2).replaceAll("\\(.*", "");
                }
                String display = id.getDisplayName();
                return cls + " > " + (method.isEmpty() || display.startsWith(method) ? display : method + " " + display);
            }
        };
        LauncherFactory.create().execute(request, listener);
        closeShared();
        System.out.printf("%s: %d passed, %d failed, %d skipped%n", name, passed.get(), failed.get(), skipped.get());
        System.out.flush();
        // halt, not exit: a server thread a test left behind must not keep the JVM (and the suite) alive.
        Runtime.getRuntime().halt(failed.get() == 0 && passed.get() > 0 ? 0 : 1);
    }

    // ---------------------------------------------------------------- what the test classes of a script share

    private static final Map<String, AutoCloseable> SHARED = new LinkedHashMap<>();

    /**
     * The thing of this name, made on first use and shared by every test class of the script run (one set of servers
     * per mode, say, instead of one per class); closed when every test has run, the last made first.
     */
    @SuppressWarnings("unchecked")
    public static synchronized <T extends AutoCloseable> T shared(String name, Callable<T> make) {
        return (T) SHARED.computeIfAbsent(name, n -> {
            try {
                return make.call();
            } catch (Exception e) {
                throw new IllegalStateException("could not make " + n + ": " + e, e);
            }
        });
    }

    private static synchronized void closeShared() {
        var all = new ArrayList<>(SHARED.entrySet());
        SHARED.clear();
        for (var e : all.reversed()) {
            try {
                e.getValue().close();
            } catch (Exception ex) {
                System.out.println("  (closing " + e.getKey() + " failed: " + ex + ")");
            }
        }
    }

    // ---------------------------------------------------------------- a server as a real process

    /**
     * A script run as its users run it: `./jbang Script.java args...` from the project root. start() returns once the
     * ready line ("Listening on ...://HOST:PORT ...") is printed, and port() is the real port read from it. Why not
     * Compare's own launcher (compare/Processes.java): it starts the java command JBang would run, with Compare's JVM
     * options, and needs most of Compare to compile; a test starts the script exactly as a user does, through ./jbang.
     * The ready line is read by the one parser both share (compare/ReadyLine.java).
     */
    public static final class ServerProcess implements AutoCloseable {
        public final Process process;
        private final StringBuffer output = new StringBuffer();
        private final CompletableFuture<Integer> port = new CompletableFuture<>();
        private final Thread reader;

        private ServerProcess(Process p) {
            this.process = p;
            reader = Thread.ofPlatform().daemon().name("server-output").start(() -> {
                try (var r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null; ) {
                        synchronized (output) {
                            output.append(l).append('\n');
                            output.notifyAll();   // wakes awaitOutput
                        }
                        ReadyLine.of(l).ifPresent(ready -> port.complete(ready.port()));
                    }
                } catch (IOException ignored) {
                    // the process ended; its exit is reported by whoever waits for it
                }
                port.completeExceptionally(new IllegalStateException("exited before the ready line:\n" + output));
            });
        }

        /** Starts `./jbang args...` in the project root (stderr merged into stdout). */
        public static ServerProcess start(String... args) throws IOException {
            var cmd = new ArrayList<String>();
            cmd.add(projectRoot().resolve("jbang").toString());
            cmd.addAll(List.of(args));
            var pb = new ProcessBuilder(cmd).directory(projectRoot().toFile()).redirectErrorStream(true);
            return new ServerProcess(pb.start());
        }

        /** Waits (up to 120 s: the first run may compile the script) for the ready line and returns the port. */
        public int port() throws Exception { return port.get(120, TimeUnit.SECONDS); }

        public String output() { return output.toString(); }

        /** Waits until the process has printed the text (a line it logs on its own), or fails after the timeout. */
        public void awaitOutput(String text, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            synchronized (output) {
                while (output.indexOf(text) < 0) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) throw new AssertionError("no '" + text + "' in " + timeout.toSeconds() + " s; output:\n" + output);
                    TimeUnit.NANOSECONDS.timedWait(output, left);
                }
            }
        }

        /** Waits for the process to end by itself and returns its exit code. */
        public int waitFor(Duration d) throws Exception {
            if (!process.waitFor(d.toMillis(), TimeUnit.MILLISECONDS)) throw new TimeoutException("still running:\n" + output);
            reader.join(d.toMillis());   // everything it printed has been read
            return process.exitValue();
        }

        /** Sends SIGTERM (as Ctrl-C would send SIGINT) to the server and waits for it to end. */
        public int terminate() throws Exception {
            // ./jbang execs the JVM, so the process we started is the server JVM itself. ProcessHandle.destroy,
            // unlike Process.destroy, leaves its output stream open for us to read what it prints while stopping.
            process.toHandle().descendants().forEach(ProcessHandle::destroy);
            process.toHandle().destroy();
            return waitFor(Duration.ofSeconds(30));
        }

        @Override public void close() {
            process.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }
    }

    /** The project root: the folder that holds ./jbang (tests run from there via tests/run). */
    public static Path projectRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !p.resolve("jbang").toFile().isFile()) p = p.getParent();
        if (p == null) throw new IllegalStateException("run the tests from inside the project (no ./jbang found)");
        return p;
    }
}
