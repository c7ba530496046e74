// The shared HTTP contract (README, "The HTTP contract"), as one abstract JUnit class. Each HTTP server's test
// script subclasses it and says how to start that server; every test then runs against every mode.
//   tests/SimpleHttpServerTest.java   -> SimpleHttpServer (single, pool, virtual)
//   tests/ThreadedHttpServerTest.java -> ThreadedHttpServer (sequential, thread, pool, virtual, nio, processes)

import org.junit.jupiter.api.TestInstance;

import java.nio.file.Path;
import java.util.List;

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class HttpContract {
    /** A running server under test. close() stops it and everything it started. */
    public interface Target extends AutoCloseable {
        int port();
    }

    /** The modes to test, as given to -m. */
    protected abstract List<String> modes();

    /** Starts the server in-process (or as a process) with -p 0 -q -m mode --root root --directory directory. */
    protected abstract Target start(String mode, Path root, Path directory) throws Exception;

    /** The value of "server" in /health. */
    protected abstract String serverName();

    /** False for a mode that serves one connection at a time (tests that hold two connections open skip it). */
    protected boolean servesConnectionsConcurrently(String mode) { return true; }

    /** True for a mode in which one slow request delays requests on other connections. */
    protected boolean slowRequestBlocksOthers(String mode) { return false; }
}
